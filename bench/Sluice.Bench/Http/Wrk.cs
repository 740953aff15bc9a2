using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Sluice.Bench.Http;

/// <summary>
/// Runs wrk (Debian package <c>wrk</c>, 4.1.0) with a Lua script that POSTs one fixed body, and parses its report.
/// wrk is installed with apt-get when missing.
/// </summary>
internal static partial class Wrk
{
    public static async Task EnsureInstalledAsync(TextWriter progress)
    {
        if (await TryRunAsync("wrk", ["--version"]) is not null)
        {
            return;
        }

        progress.WriteLine("wrk not found; installing it with apt-get...");
        if (await TryRunAsync("apt-get", ["install", "-y", "wrk"]) is null)
        {
            await TryRunAsync("apt-get", ["update"]);
            if (await TryRunAsync("apt-get", ["install", "-y", "wrk"]) is null)
            {
                throw new InvalidOperationException("wrk is not installed and `apt-get install -y wrk` failed; install it and run again");
            }
        }
    }

    /// <summary>Writes a Lua script that POSTs the contents of <paramref name="bodyFile"/> with the given content type.</summary>
    public static string WritePostScript(string directory, string name, string bodyFile, string contentType)
    {
        var path = Path.Combine(directory, name + ".lua");
        File.WriteAllText(path, $"""
            local f = assert(io.open("{bodyFile}", "rb"))
            wrk.method = "POST"
            wrk.body = f:read("*all")
            f:close()
            wrk.headers["Content-Type"] = "{contentType}"

            """);
        return path;
    }

    public static async Task<WrkResult> RunAsync(string url, string script, int threads, int connections, TimeSpan duration)
    {
        string[] args =
        [
            "-t", threads.ToString(CultureInfo.InvariantCulture),
            "-c", connections.ToString(CultureInfo.InvariantCulture),
            "-d", $"{(int)duration.TotalSeconds}s",
            "--timeout", "10s",
            "--latency",
            "-s", script,
            url,
        ];
        var output = await TryRunAsync("wrk", args) ?? throw new InvalidOperationException($"wrk failed against {url}");
        return Parse(output);
    }

    public static WrkResult Parse(string output)
    {
        var requests = RequestsLine().Match(output);
        if (!requests.Success)
        {
            throw new InvalidOperationException($"cannot read wrk's report:\n{output}");
        }

        var non2xx = Non2xxLine().Match(output);
        var errors = SocketErrorsLine().Match(output);
        long socketErrors = 0;
        if (errors.Success)
        {
            foreach (var name in new[] { "connect", "read", "write", "timeout" })
            {
                socketErrors += long.Parse(errors.Groups[name].Value, CultureInfo.InvariantCulture);
            }
        }

        return new WrkResult(
            RequestsPerSecond: double.Parse(RequestsPerSecondLine().Match(output).Groups[1].Value, CultureInfo.InvariantCulture),
            Requests: long.Parse(requests.Groups[1].Value, CultureInfo.InvariantCulture),
            Seconds: ToSeconds(requests.Groups[2].Value, requests.Groups[3].Value),
            P50Ms: Percentile(output, "50%"),
            P99Ms: Percentile(output, "99%"),
            Non2xx: non2xx.Success ? long.Parse(non2xx.Groups[1].Value, CultureInfo.InvariantCulture) : 0,
            SocketErrors: socketErrors,
            Raw: output);
    }

    // "     99%  101.77ms": wrk prints us, ms, s or m.
    private static double Percentile(string output, string label)
    {
        var m = Regex.Match(output, $@"^\s+{Regex.Escape(label)}\s+([\d.]+)(us|ms|s|m)\s*$", RegexOptions.Multiline);
        if (!m.Success)
        {
            throw new InvalidOperationException($"wrk's report has no {label} latency:\n{output}");
        }

        return ToSeconds(m.Groups[1].Value, m.Groups[2].Value) * 1000;
    }

    private static double ToSeconds(string value, string unit)
    {
        var v = double.Parse(value, CultureInfo.InvariantCulture);
        return unit switch
        {
            "us" => v / 1e6,
            "ms" => v / 1e3,
            "s" => v,
            "m" => v * 60,
            "h" => v * 3600,
            _ => throw new InvalidOperationException($"unknown wrk time unit '{unit}'"),
        };
    }

    private static async Task<string?> TryRunAsync(string file, string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        try
        {
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            var text = await stdout + await stderr;
            // wrk --version prints its usage and exits 1; it exists all the same.
            return process.ExitCode == 0 || (file == "wrk" && args is ["--version"]) ? text : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    [GeneratedRegex(@"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),", RegexOptions.Multiline)]
    private static partial Regex RequestsLine();

    [GeneratedRegex(@"^Requests/sec:\s+([\d.]+)", RegexOptions.Multiline)]
    private static partial Regex RequestsPerSecondLine();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+(\d+)")]
    private static partial Regex Non2xxLine();

    [GeneratedRegex(@"Socket errors: connect (?<connect>\d+), read (?<read>\d+), write (?<write>\d+), timeout (?<timeout>\d+)")]
    private static partial Regex SocketErrorsLine();
}
