using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Sluice.Server.Tests.Infrastructure;

/// <summary>
/// The real server as a child process (<c>dotnet Sluice.Server.dll --port P --data-dir D</c>, bound to
/// 127.0.0.1), with its output captured. It can be killed (SIGKILL), stopped (SIGTERM) and started again on
/// the same data directory.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly ConcurrentQueue<string> _output = new();
    private readonly string[] _extraArgs;
    private readonly Dictionary<string, string> _environment;
    private readonly bool _ownsDataDir;
    private Process? _process;

    public ServerProcess(string[]? extraArgs = null, Dictionary<string, string>? environment = null, string? dataDir = null)
    {
        _extraArgs = extraArgs ?? [];
        _environment = environment ?? [];
        _ownsDataDir = dataDir is null;
        DataDir = dataDir ?? Path.Combine(Path.GetTempPath(), "sluice-test-" + Guid.NewGuid().ToString("N"));
        WorkingDirectory = Path.Combine(Path.GetTempPath(), "sluice-cwd-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(WorkingDirectory);
    }

    public string DataDir { get; }

    /// <summary>The process's working directory: empty, unless a test puts a sluice.yaml/json there.</summary>
    public string WorkingDirectory { get; }

    public int Port { get; private set; }

    /// <summary>Serve the gRPC listener on a fresh port (<see cref="GrpcPort"/>); otherwise it is off (<c>--grpc-port 0</c>).</summary>
    public bool WithGrpc { get; init; }

    /// <summary>The gRPC listener's port when <see cref="WithGrpc"/>, else 0.</summary>
    public int GrpcPort { get; private set; }

    /// <summary>
    /// Options that name another listener's port (<c>--pixy-port</c>, <c>--kateway-pub-port</c>): every start gives each
    /// a fresh port, as it does the main one, so a retry after "address already in use" moves them too.
    /// <see cref="PortOf"/> reads the port of the current start.
    /// </summary>
    public IReadOnlyList<string> PortOptions { get; init; } = [];

    private readonly Dictionary<string, int> _optionPorts = [];

    /// <summary>The port the current start gave one of <see cref="PortOptions"/>.</summary>
    public int PortOf(string option) =>
        _optionPorts.TryGetValue(option, out var port) ? port : throw new InvalidOperationException($"{option} is not one of this server's port options, or the server has not started");

    /// <summary>
    /// <c>SLUICE_TEST_BACKEND=kafka</c> runs every server of the suite on the Kafka backend, hosting librdkafka's mock
    /// cluster (scripts/test runs the suite once per backend; tests that cannot apply carry Backend=EmbeddedOnly).
    /// </summary>
    public static bool OnKafka => string.Equals(Environment.GetEnvironmentVariable("SLUICE_TEST_BACKEND"), "kafka", StringComparison.OrdinalIgnoreCase);

    private static string[] BackendArgs => OnKafka ? ["--backend", "kafka", "--kafka-mock-brokers", "3"] : [];

    public HttpClient Client { get; private set; } = new();

    /// <summary>https when the server is started with TLS; <see cref="Handler"/> then trusts its certificate.</summary>
    public string Scheme { get; init; } = "http";

    /// <summary>Makes the handler of <see cref="Client"/> (TLS trust, client certificates); null for the default.</summary>
    public Func<HttpMessageHandler>? Handler { get; init; }

    public int? ExitCode => _process is { HasExited: true } p ? p.ExitCode : null;

    /// <summary>The running process's id (for /proc), or null before the start and after the exit.</summary>
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    public static string ServerDll
    {
        get
        {
            // tests/Sluice.Server.Tests/bin/<Configuration>/<tfm>/ -> src/Sluice.Server/bin/<Configuration>/<tfm>/
            var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var tfm = here.Name;
            var configuration = here.Parent!.Name;
            var root = here;
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "Sluice.slnx")))
            {
                root = root.Parent;
            }

            if (root is null)
            {
                throw new InvalidOperationException($"cannot find Sluice.slnx above {AppContext.BaseDirectory}");
            }

            var dll = Path.Combine(root.FullName, "src", "Sluice.Server", "bin", configuration, tfm, "Sluice.Server.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException($"build the server first: {dll} is missing", dll);
        }
    }

    public static async Task<ServerProcess> StartNewAsync(string[]? extraArgs = null, Dictionary<string, string>? environment = null)
    {
        var server = new ServerProcess(extraArgs, environment);
        await server.StartAsync();
        return server;
    }

    /// <summary>
    /// Starts the process on a fresh port and waits until <c>/readyz</c> answers 200. The port is free when chosen but
    /// not reserved: something else may take it before the server binds (the Kafka mock's brokers, started first in
    /// the same process, bind ephemeral ports, and once took exactly this one). A start refused with "address already
    /// in use" is tried again on another port.
    /// </summary>
    public async Task StartAsync()
    {
        for (var attempt = 1; ; attempt++)
        {
            if (await TryStartAsync())
            {
                return;
            }

            if (attempt == 3)
            {
                throw new InvalidOperationException($"the server's port was taken before it bound it, three times:\n{Output}");
            }

            _output.Enqueue("[test] the port was taken before the server bound it: starting again on another");
        }
    }

    // False when the server exited because its port was taken meanwhile; throws on any other failure.
    private async Task<bool> TryStartAsync()
    {
        // Distinct ports, all held until each is chosen: one released at once could be handed out again to the next
        // (a gRPC port equal to the HTTP port made the server refuse its configuration).
        var ports = FreePorts(2 + PortOptions.Count);
        Port = ports[0];
        GrpcPort = WithGrpc ? ports[1] : 0;
        for (var i = 0; i < PortOptions.Count; i++)
        {
            _optionPorts[PortOptions[i]] = ports[2 + i];
        }

        var startedAt = _output.Count;
        _process = Launch(ServeArguments(Port, GrpcPort));
        Client.Dispose();
        Client = new HttpClient(Handler?.Invoke() ?? new HttpClientHandler()) { BaseAddress = new Uri($"{Scheme}://127.0.0.1:{Port}"), Timeout = TimeSpan.FromSeconds(90) };

        var deadline = DateTime.UtcNow + StartTimeout;
        DateTime? answeredAt = null;
        while (true)
        {
            if (_process.HasExited)
            {
                // Exited: its output is complete once the process is reaped.
                await _process.WaitForExitAsync();
                if (_output.Skip(startedAt).Any(l => l.Contains("Failed to bind to address", StringComparison.Ordinal) && l.Contains("address already in use", StringComparison.Ordinal)))
                {
                    return false;
                }

                throw new InvalidOperationException($"the server exited with code {_process.ExitCode} before it was ready:\n{Output}");
            }

            try
            {
                using var response = await Client.GetAsync("/readyz");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    // Another test process's server may hold this port and answer for ours, which then exits with
                    // "address already in use" (checked above). Ours has bound it once Kestrel says it listens there;
                    // a server that logs no such line is taken as ready a few seconds after the first answer.
                    answeredAt ??= DateTime.UtcNow;
                    if (_output.Skip(startedAt).Any(l => l.Contains("Now listening on:", StringComparison.Ordinal) && l.TrimEnd().EndsWith($":{Port}", StringComparison.Ordinal))
                        || DateTime.UtcNow - answeredAt > TimeSpan.FromSeconds(5))
                    {
                        return true;
                    }
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            if (DateTime.UtcNow > deadline)
            {
                // Never leave it running: a fixture whose start failed is not disposed by xunit.
                await KillAsync();
                throw new TimeoutException($"the server was not ready within {StartTimeout}:\n{Output}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Runs the server with these arguments only, expecting it to exit (bad configuration); returns exit code and stderr.</summary>
    public async Task<(int ExitCode, string Stderr)> RunToExitAsync(params string[] args)
    {
        var startedAt = _output.Count;
        var process = Launch(args);
        using var cts = new CancellationTokenSource(StartTimeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the server did not exit:\n{Output}");
        }

        process.WaitForExit(); // drains the output readers
        var stderr = string.Join('\n', _output.Skip(startedAt).Where(l => l.StartsWith("[err] ", StringComparison.Ordinal)).Select(l => l[6..]));
        return (process.ExitCode, stderr);
    }

    /// <summary>
    /// Runs the server with the arguments <see cref="StartAsync"/> gives it, but on a port another socket holds, expecting
    /// it to exit; returns exit code and stderr.
    /// </summary>
    public async Task<(int ExitCode, string Stderr)> RunOnATakenPortAsync()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        return await RunToExitAsync(ServeArguments(((IPEndPoint)holder.LocalEndpoint).Port, grpcPort: 0));
    }

    // What every start passes: the ports, the data directory, the backend, then the test's own arguments (which may name
    // a gRPC port of their own).
    private string[] ServeArguments(int port, int grpcPort)
    {
        string[] grpc = _extraArgs.Contains("--grpc-port") ? [] : ["--grpc-port", Invariant(grpcPort)];
        var others = PortOptions.SelectMany(o => new[] { o, Invariant(_optionPorts.TryGetValue(o, out var p) ? p : FreePort()) });
        return ["--port", Invariant(port), "--data-dir", DataDir, .. BackendArgs, .. grpc, .. others, .. _extraArgs];
    }

    private static string Invariant(int number) => number.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
            _output.Enqueue("[test] server killed (SIGKILL)");
        }
    }

    /// <summary>SIGTERM, then waits for the graceful shutdown to finish; returns the exit code.</summary>
    public async Task<int> StopAsync()
    {
        var p = _process ?? throw new InvalidOperationException("not started");
        if (!p.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await p.WaitForExitAsync(cts.Token);
            p.WaitForExit();
            _output.Enqueue("[test] server stopped (SIGTERM)");
        }

        return p.ExitCode;
    }

    public string Output => string.Join('\n', _output);

    public void WriteOutputTo(ITestOutputHelper output, int lastLines = 300)
    {
        var lines = _output.ToArray();
        output.WriteLine($"--- server output (data dir {DataDir}, last {Math.Min(lastLines, lines.Length)} lines) ---");
        foreach (var line in lines.Skip(Math.Max(0, lines.Length - lastLines)))
        {
            output.WriteLine(line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        Client.Dispose();
        TryDelete(WorkingDirectory);
        if (_ownsDataDir)
        {
            TryDelete(DataDir);
        }
    }

    private Process Launch(string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = WorkingDirectory,
        };
        info.ArgumentList.Add(ServerDll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // A developer's own SLUICE_* variables must not leak into the tests.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("SLUICE_", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            info.Environment.Remove(key);
        }

        foreach (var (key, value) in _environment)
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _output.Enqueue(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _output.Enqueue("[err] " + e.Data);
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _output.Enqueue($"[test] started pid {process.Id}: dotnet {string.Join(' ', info.ArgumentList)}");
        return process;
    }

    private static int FreePort() => FreePorts(1)[0];

    private static int[] FreePorts(int count)
    {
        var listeners = new TcpListener[count];
        try
        {
            for (var i = 0; i < count; i++)
            {
                listeners[i] = new TcpListener(IPAddress.Loopback, 0);
                listeners[i].Start();
            }

            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var l in listeners)
            {
                l?.Dispose();
            }
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
