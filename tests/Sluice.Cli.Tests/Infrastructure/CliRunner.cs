using System.Diagnostics;
using System.Text;

namespace Sluice.Cli.Tests.Infrastructure;

/// <summary>The outcome of one run of the CLI.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr, byte[] StdoutBytes)
{
    public string[] Lines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>
/// Runs the built `sluice` binary (<c>dotnet sluice.dll</c>, or a given executable) as a child process with a clean
/// environment: no SLUICE_* variable of the developer's, and HOME in a throwaway folder so no real
/// ~/.config/sluice/config.yaml is read.
/// </summary>
public sealed class CliRunner : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    public CliRunner(string? server = null, string? executable = null)
    {
        Server = server;
        Executable = executable;
        Home = Path.Combine(Path.GetTempPath(), "sluice-cli-home-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Home);
    }

    /// <summary>Passed as SLUICE_SERVER when set.</summary>
    public string? Server { get; set; }

    /// <summary>A native executable to run instead of <c>dotnet sluice.dll</c> (the published single file).</summary>
    public string? Executable { get; }

    public string Home { get; }

    public Dictionary<string, string> Environment { get; } = [];

    public Task<CliResult> RunAsync(params string[] args) => RunAsync(args, stdin: null);

    public Task<CliResult> RunAsync(string[] args, string? stdin, string? workingDirectory = null) =>
        RunBytesAsync(args, stdin is null ? null : Encoding.UTF8.GetBytes(stdin), workingDirectory);

    public async Task<CliResult> RunBytesAsync(string[] args, byte[]? stdin, string? workingDirectory = null)
    {
        using var process = Start(args, workingDirectory);
        var stdout = new MemoryStream();
        var copyOut = process.StandardOutput.BaseStream.CopyToAsync(stdout);
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.BaseStream.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        using var cts = new CancellationTokenSource(Timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"sluice {string.Join(' ', args)} did not exit within {Timeout}: {Encoding.UTF8.GetString(stdout.ToArray())} {await stderr}");
        }

        await copyOut;
        var bytes = stdout.ToArray();
        return new CliResult(process.ExitCode, Encoding.UTF8.GetString(bytes), await stderr, bytes);
    }

    /// <summary>Starts the CLI and leaves it running (tail, consume that follows); the caller reads and ends it.</summary>
    public Process Start(string[] args, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(Executable ?? "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Home,
        };
        if (Executable is null)
        {
            info.ArgumentList.Add(Repository.CliDll);
        }

        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("SLUICE_", StringComparison.OrdinalIgnoreCase) || k == "XDG_CONFIG_HOME").ToList())
        {
            info.Environment.Remove(key);
        }

        info.Environment["HOME"] = Home;
        if (Server is not null)
        {
            info.Environment["SLUICE_SERVER"] = Server;
        }

        foreach (var (key, value) in Environment)
        {
            info.Environment[key] = value;
        }

        return Process.Start(info) ?? throw new InvalidOperationException("could not start the CLI");
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Home, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
