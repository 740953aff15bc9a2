using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sluice.Replication.Tests.Infrastructure;

/// <summary>What the target servers started by the tests (PostgreSQL, RabbitMQ, NATS) share: ports, commands, signals.</summary>
public static class TargetProcesses
{
    /// <summary>
    /// A free port below the kernel's range of ephemeral ports. A target stopped for an outage starts again on the same
    /// port, and one inside that range may meanwhile become the local end of any connection on the machine (the other
    /// suites run alongside), or of the gateway's own reconnect to it (a TCP connection to itself): the restart then
    /// fails with "address in use", as RabbitMQ's did once in CI. Below the range no connection is given it.
    /// </summary>
    public static int FreePort()
    {
        var below = Math.Min(EphemeralLow(), 32_768);
        for (var attempt = 0; below > 10_000 && attempt < 1_000; attempt++)
        {
            var port = Random.Shared.Next(10_000, below);
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // Taken: another candidate.
            }
        }

        throw new InvalidOperationException($"no free port between 10000 and {below}, below the ephemeral ports");
    }

    // The first ephemeral port (Linux: net.ipv4.ip_local_port_range), 32768 where it cannot be read.
    private static int EphemeralLow()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32_768;
        }
    }

    /// <summary>Runs a command to its end (2 minutes at most); throws with its output when it fails.</summary>
    public static async Task RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(cts.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {await stdout} {await stderr}");
        }
    }

    /// <summary>Starts a long-running server process whose output is kept (the last lines explain a failed start).</summary>
    public static Process Start(string file, IEnumerable<string> args, IReadOnlyDictionary<string, string> environment, StringBuilder output)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        var process = new Process { StartInfo = info };
        DataReceivedEventHandler append = (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (output)
                {
                    output.AppendLine(e.Data);
                }
            }
        };
        process.OutputDataReceived += append;
        process.ErrorDataReceived += append;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>SIGTERM (a graceful stop), then waits for the exit; SIGKILL when it takes more than a minute.</summary>
    public static async Task TerminateAsync(Process process)
    {
        if (process.HasExited)
        {
            return;
        }

        await RunAsync("kill", "-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
        }
    }

    /// <summary>SIGKILL of the process and its children, waiting for the exit.</summary>
    public static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(30_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Not started or already gone.
        }
    }

    public static void DeleteDirectory(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
