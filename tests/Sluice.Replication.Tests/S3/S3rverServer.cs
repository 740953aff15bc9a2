using System.Collections.Concurrent;
using System.Diagnostics;
using static Sluice.Replication.Tests.Infrastructure.TargetProcesses;

namespace Sluice.Replication.Tests.S3;

/// <summary>
/// A real S3-compatible server for one test class (or the replication benchmark, which compiles this file in): s3rver from npm, run by node with
/// <c>s3rver/host.js</c> on a free loopback port and a temporary data directory, one bucket, a random key pair; stopped
/// (SIGKILL) and started again on the same port and data for an outage; killed and its directory deleted at the end.
/// scripts/test installs s3rver into <see cref="InstallDirectory"/> (npm ci of <c>s3rver/package-lock.json</c>).
/// </summary>
public sealed class S3rverServer : IAsyncDisposable
{
    /// <summary>PUTs larger than this are answered 400 EntityTooLarge (S3's answer past its size limit, scaled down).</summary>
    public const int MaxObjectBytes = 256 * 1024;

    private readonly string _directory;
    private readonly ConcurrentQueue<string> _output = new();
    private Process? _process;

    private readonly int _maxObjectBytes;

    private S3rverServer(string directory, int maxObjectBytes)
    {
        _directory = directory;
        _maxObjectBytes = maxObjectBytes;
        AccessKey = "AK" + Guid.NewGuid().ToString("N")[..18].ToUpperInvariant();
        SecretKey = "sk-" + Guid.NewGuid().ToString("N") + Guid.NewGuid().ToString("N")[..8];
    }

    public const string Bucket = "sluice-test";

    public int Port { get; private set; }

    public string ServiceUrl => $"http://127.0.0.1:{Port}";

    public string AccessKey { get; }

    public string SecretKey { get; }

    public string Output => string.Join('\n', _output);

    /// <summary>Where scripts/test installs s3rver: <c>$XDG_CACHE_HOME/sluice/s3rver</c> (or <c>~/.cache/...</c>), never globally.</summary>
    public static string InstallDirectory
        => Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } cache ? cache : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "sluice", "s3rver");

    /// <summary>Starts a server on a new directory; <paramref name="maxObjectBytes"/> 0 accepts objects of any size.</summary>
    public static async Task<S3rverServer> StartNewAsync(int maxObjectBytes = MaxObjectBytes)
    {
        var directory = Path.Combine(Path.GetTempPath(), "sluice-s3-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        var server = new S3rverServer(directory, maxObjectBytes);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                server.Port = FreePort();
                if (await server.TryStartAsync())
                {
                    return server;
                }

                // The port was taken between choosing and binding it: another one.
                if (attempt == 3)
                {
                    throw new InvalidOperationException("s3rver's port was taken before it bound it, three times:\n" + server.Output);
                }
            }
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts again on the same port and data after <see cref="StopAsync"/>.</summary>
    public async Task StartAsync()
    {
        for (var attempt = 1; !await TryStartAsync(); attempt++)
        {
            if (attempt == 20)
            {
                throw new InvalidOperationException($"s3rver could not bind port {Port} again:\n{Output}");
            }

            await Task.Delay(500);
        }
    }

    /// <summary>SIGKILL: connections are cut and refused until <see cref="StartAsync"/>; what was stored stays on disk.</summary>
    public async Task StopAsync()
    {
        if (_process is { } p)
        {
            _process = null;
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
            p.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    // False when the port was taken; throws on any other failure.
    private async Task<bool> TryStartAsync()
    {
        var modules = Path.Combine(InstallDirectory, "node_modules");
        if (!File.Exists(Path.Combine(modules, "s3rver", "package.json")))
        {
            throw new InvalidOperationException($"s3rver is not installed in {InstallDirectory}: run scripts/test, which installs it with npm");
        }

        var info = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(SourceDirectory(), "s3rver", "host.js"));
        info.Environment["NODE_PATH"] = modules;
        info.Environment["S3_PORT"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["S3_DIRECTORY"] = Path.Combine(_directory, "data");
        info.Environment["S3_BUCKET"] = Bucket;
        info.Environment["S3_ACCESS_KEY"] = AccessKey;
        info.Environment["S3_SECRET_KEY"] = SecretKey;
        info.Environment["S3_MAX_OBJECT_BYTES"] = _maxObjectBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var startedAt = _output.Count;
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Line(e.Data, listening);
        process.ErrorDataReceived += (_, e) => Line(e.Data, listening);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(listening.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));
        if (first == listening.Task)
        {
            _process = process;
            return true;
        }

        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        await process.WaitForExitAsync();
        process.Dispose();
        if (_output.Skip(startedAt).Any(l => l.Contains("EADDRINUSE", StringComparison.Ordinal)))
        {
            return false;
        }

        throw new InvalidOperationException($"s3rver did not start on port {Port}:\n{Output}");
    }

    private void Line(string? line, TaskCompletionSource listening)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        if (line.StartsWith("listening ", StringComparison.Ordinal))
        {
            listening.TrySetResult();
        }
    }

    // This folder in the source tree (host.js is read from there, not copied to the build output).
    private static string SourceDirectory()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Sluice.slnx")))
        {
            dir = dir.Parent;
        }

        return dir is null
            ? throw new InvalidOperationException($"cannot find Sluice.slnx above {AppContext.BaseDirectory}")
            : Path.Combine(dir.FullName, "tests", "Sluice.Replication.Tests", "S3");
    }
}
