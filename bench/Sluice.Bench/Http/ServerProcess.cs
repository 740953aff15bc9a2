using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sluice.Bench.Http;

/// <summary>
/// An HTTP server in a child process (the Sluice server, or this program's bare Kestrel endpoint), started on a free
/// loopback port and waited for until it answers 200 on its readiness path. Its output is kept for error reports.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServerProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}";

    /// <summary>The Release build of the server, next to this program's own configuration and framework.</summary>
    public static string SluiceServerDll()
    {
        // bench/Sluice.Bench/bin/<Configuration>/<tfm>/ -> src/Sluice.Server/bin/<Configuration>/<tfm>/Sluice.Server.dll
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        for (var root = here; root is not null; root = root.Parent)
        {
            if (File.Exists(Path.Combine(root.FullName, "Sluice.slnx")))
            {
                var dll = Path.Combine(root.FullName, "src", "Sluice.Server", "bin", here.Parent!.Name, here.Name, "Sluice.Server.dll");
                return File.Exists(dll) ? dll : throw new FileNotFoundException($"build the server first (dotnet build -c Release): {dll} is missing", dll);
            }
        }

        throw new InvalidOperationException($"cannot find Sluice.slnx above {here}");
    }

    /// <summary>User + system CPU time the process has used so far (<see cref="ProcessCpu"/>).</summary>
    public TimeSpan CpuTime() => ProcessCpu.Of(_process.Id);

    /// <summary>Starts the Sluice server from its Release build output with flush <paramref name="flushPolicy"/>.</summary>
    public static Task<ServerProcess> StartSluiceAsync(string serverDll, string dataDirectory, string flushPolicy, params string[] extraArgs)
    {
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet");
        start.ArgumentList.Add(serverDll);
        // The gRPC listener is off unless a suite asks for it (its default port would clash between runs).
        string[] grpc = extraArgs.Contains("--grpc-port") ? [] : ["--grpc-port", "0"];
        foreach (var a in new[] { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--data-dir", dataDirectory, "--flush-policy", flushPolicy }.Concat(grpc).Concat(extraArgs))
        {
            start.ArgumentList.Add(a);
        }

        // The server's working directory holds no sluice.yaml, so only the flags and defaults apply.
        start.WorkingDirectory = dataDirectory;
        return StartAsync(start, port, "/readyz");
    }

    /// <summary>
    /// Starts this program as the bare Kestrel endpoint (<see cref="BareEndpoint"/>), or with <paramref name="mode"/>
    /// (<c>--durable DIR</c>, <c>--kafka BOOTSTRAP TOPIC</c>) as one of its durable baselines.
    /// </summary>
    public static Task<ServerProcess> StartBareAsync(params string[] mode)
    {
        var port = FreePort();
        return StartAsync(BenchChild([BareEndpoint.ChildFlag, port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. mode]), port, BareEndpoint.ReadyPath);
    }

    /// <summary>How to start this bench program again, as a child process with <paramref name="args"/>.</summary>
    public static ProcessStartInfo BenchChild(IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!);
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
        {
            start.ArgumentList.Add(typeof(ServerProcess).Assembly.Location);
        }

        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        return start;
    }

    private static async Task<ServerProcess> StartAsync(ProcessStartInfo start, int port, string readyPath)
    {
        start.UseShellExecute = false;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {start.FileName}");
        var server = new ServerProcess(process, port);
        process.OutputDataReceived += (_, e) => server.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => server.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (process.HasExited)
            {
                break;
            }

            try
            {
                using var response = await client.GetAsync(new Uri($"{server.BaseUrl}{readyPath}"));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return server;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException)
            {
                // Listening but slow to answer while it starts.
            }

            await Task.Delay(100);
        }

        var output = server.Output;
        await server.DisposeAsync();
        throw new InvalidOperationException($"{start.FileName} {string.Join(' ', start.ArgumentList)} did not become ready:\n{output}");
    }

    /// <summary>The server's resident memory now (<c>VmRSS</c> from /proc).</summary>
    public long ResidentBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException("no VmRSS in /proc/<pid>/status");
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            // Enough to explain a failed start; a server that logs every request must not fill the memory.
            if (_output.Length < 64 * 1024)
            {
                _output.AppendLine(line);
            }
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
