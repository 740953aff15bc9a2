using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sluice.Bench.Http;

/// <summary>
/// Produce throughput over HTTP against a bare Kestrel endpoint measured in the same run. Both servers run as
/// child processes on loopback and are loaded by the same client here (64 connections, 100-byte bodies), so
/// they share the machine the same way.
/// <code>
///   bench (64 x HttpClient) ──► child: bare Kestrel   POST /bare  (reads the body, answers a small JSON)
///                           └─► child: Sluice.Server  POST /v1/topics/.../messages  (durable: flush always)
/// </code>
/// </summary>
internal sealed class HttpSuite : IBenchSuite
{
    private const int Connections = 64;
    private const int BodyBytes = 100;
    private static readonly TimeSpan Warmup = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Measure = TimeSpan.FromSeconds(8);

    public string Name => "http";

    public async Task<string> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var bare = await MeasureChildAsync(context, BareArgs(), "/bare", cancellationToken);
        var produce4 = await MeasureSluiceAsync(context, partitions: 4, cancellationToken);
        var produce1 = await MeasureSluiceAsync(context, partitions: 1, cancellationToken);

        var md = new StringBuilder();
        md.AppendLine("## HTTP: produce");
        md.AppendLine();
        md.AppendLine(BenchmarksFile.MachineLine());
        md.AppendLine($"{Connections} connections over loopback, {BodyBytes}-byte bodies, {Measure.TotalSeconds:0} s measured after {Warmup.TotalSeconds:0} s of warm-up; client and servers share the machine.");
        md.AppendLine();
        md.AppendLine("| figure | Sluice | baseline (same run) | ratio | floor | met |");
        md.AppendLine("|---|---|---|---|---|---|");
        md.AppendLine(Row("durable single-message produce (`always`), topic of 4 partitions (the default)", produce4, bare, 0.5));
        md.AppendLine(Row("durable single-message produce (`always`), topic of 1 partition", produce1, bare, 0.5));
        md.AppendLine();
        md.AppendLine("Notes: the baseline is a bare Kestrel endpoint that reads the body and answers a small JSON, in its own process.");
        md.AppendLine("Every produce is acknowledged only after its fsync (concurrent produces to one partition share one). The load client runs on");
        md.AppendLine("the same cores as the server, and on a shared 2-core machine repeated runs differ by tens of percent: compare ratios of one run.");
        return md.ToString();
    }

    private static string Row(string what, double sluice, double bare, double floor)
    {
        var ratio = sluice / bare;
        return string.Create(CultureInfo.InvariantCulture,
            $"| {what} | {sluice:N0} req/s | bare Kestrel: {bare:N0} req/s | {ratio:0.00} | >= {floor:0.0} | {(ratio >= floor ? "yes" : "no")} |");
    }

    private static async Task<double> MeasureSluiceAsync(BenchContext context, int partitions, CancellationToken cancellationToken)
    {
        var dll = ServerDll();
        var data = Path.Combine(context.ScratchDirectory, $"sluice-{partitions}");
        var args = new List<string> { dll, "--data-dir", data, "--flush-policy", "always", "--default-partitions", partitions.ToString(CultureInfo.InvariantCulture) };
        return await MeasureChildAsync(context, ("dotnet", args), "/v1/topics/bench/http/produce/messages", cancellationToken);
    }

    private static (string File, List<string> Args) BareArgs()
    {
        var args = new List<string>();
        var file = Environment.ProcessPath!;
        if (Path.GetFileNameWithoutExtension(file) == "dotnet")
        {
            args.Add(typeof(HttpSuite).Assembly.Location);
        }

        args.Add("--child-bare-kestrel");
        return (file, args);
    }

    private static async Task<double> MeasureChildAsync(BenchContext context, (string File, List<string> Args) command, string path, CancellationToken cancellationToken)
    {
        var port = FreePort();
        var start = new ProcessStartInfo(command.File) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in command.Args)
        {
            start.ArgumentList.Add(a);
        }

        start.ArgumentList.Add("--port");
        start.ArgumentList.Add(port.ToString(CultureInfo.InvariantCulture));
        using var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                context.Progress.WriteLine("  [child] " + e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = Connections };
            using var client = new HttpClient(handler) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await WaitUntilUpAsync(client, process, cancellationToken);
            var rate = await LoadAsync(client, path, cancellationToken);
            context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {path}: {rate:N0} req/s"));
            return rate;
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync(CancellationToken.None);
        }
    }

    private static async Task<double> LoadAsync(HttpClient client, string path, CancellationToken cancellationToken)
    {
        var body = new byte[BodyBytes];
        Array.Fill(body, (byte)'x');
        long counted = 0;
        long failed = 0;
        var clock = Stopwatch.StartNew();
        var end = Warmup + Measure;
        var workers = Enumerable.Range(0, Connections).Select(async _ =>
        {
            while (clock.Elapsed < end && !cancellationToken.IsCancellationRequested)
            {
                using var content = new ByteArrayContent(body);
                using var response = await client.PostAsync(path, content, cancellationToken);
                if (!response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref failed);
                }
                else if (clock.Elapsed > Warmup && clock.Elapsed < end)
                {
                    Interlocked.Increment(ref counted);
                }
            }
        }).ToArray();
        await Task.WhenAll(workers);
        if (failed > 0)
        {
            throw new InvalidOperationException($"{failed} requests to {path} failed");
        }

        return counted / Measure.TotalSeconds;
    }

    private static async Task WaitUntilUpAsync(HttpClient client, Process process, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the server exited with code {process.ExitCode} before it was up");
            }

            try
            {
                using var response = await client.GetAsync("/readyz", cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(100, cancellationToken);
        }

        throw new TimeoutException("the server did not come up within 60 s");
    }

    private static string ServerDll()
    {
        // bench/Sluice.Bench/bin/<Configuration>/<tfm>/ -> src/Sluice.Server/bin/<Configuration>/<tfm>/Sluice.Server.dll
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var root = here;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Sluice.slnx")))
        {
            root = root.Parent;
        }

        var dll = Path.Combine(root?.FullName ?? ".", "src", "Sluice.Server", "bin", here.Parent!.Name, here.Name, "Sluice.Server.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"build the server first: {dll} is missing", dll);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The baseline server: Kestrel, one route that reads the body and answers a small JSON. Nothing else.</summary>
    public static async Task<int> RunBareKestrelAsync(string[] args)
    {
        if (args is not ["--child-bare-kestrel", "--port", var portText] || !int.TryParse(portText, CultureInfo.InvariantCulture, out var port))
        {
            Console.Error.WriteLine("usage: --child-bare-kestrel --port PORT");
            return 2;
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        var answer = "{\"id\":\"0:0\",\"partition\":0,\"offset\":0}"u8.ToArray();
        app.MapGet("/readyz", () => "ready");
        app.MapPost("/bare", async context =>
        {
            while (true)
            {
                var read = await context.Request.BodyReader.ReadAsync();
                context.Request.BodyReader.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted)
                {
                    break;
                }
            }

            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync(answer);
        });
        await app.RunAsync();
        return 0;
    }
}
