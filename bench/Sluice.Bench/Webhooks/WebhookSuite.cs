using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Sluice.Bench.Webhooks;

/// <summary>
/// Push throughput of webhooks against the same receiver driven directly by a load generator, in the same run.
/// <code>
///   wrk (64 connections) ───────────────────────────────► child: bare Kestrel  POST /bare  (answers 200 at once)
///   child: Pusher raw | client (64 calls at once) ──────►   the same receiver
///   child: Sluice.Server, webhook concurrency 64 ───────►   the same receiver
///            ▲ topic pre-filled; rate = stats.delivered over the measured window
/// </code>
/// Two rounds, each of them every sender in turn (wrk with a short request and with a Sluice call's headers, the two
/// pushers, then the webhook, paused while the others run), and the means: this machine's speed drifts within a run,
/// and one round of each put the drift into the ratio.
/// </summary>
internal sealed class WebhookSuite : IBenchSuite
{
    private const int Concurrency = 64;
    private const int BodyBytes = 100;
    private const int Rounds = 2;
    private const int Messages = 2_600_000;
    // Long enough for the gateway's JIT tiering to finish (with 2 s, most of the measured window ran partly unoptimized
    // code: the JIT thread took 20-35% of the gateway's CPU); wrk gets the same warm-up against the receiver.
    private static readonly TimeSpan Warmup = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Measure = TimeSpan.FromSeconds(8);

    // Before the second round's window: connections are pooled and the code is warm, but the resumed worker and wrk's
    // connections need a moment.
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(2);

    // A pusher is a new process each round, with little to compile.
    private static readonly TimeSpan PusherWarmup = TimeSpan.FromSeconds(5);

    public string Name => "webhooks";

    public async Task<string> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        await EnsureWrkAsync(context, cancellationToken);
        var receiverPort = FreePort();
        using var receiver = StartChild(context, BareArgs(receiverPort));
        using var probe = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{receiverPort}") };
        await WaitUntilUpAsync(probe, receiver, cancellationToken, Http.BareEndpoint.ReadyPath);
        var url = $"http://127.0.0.1:{receiverPort}/bare";
        var port = FreePort();
        var data = Path.Combine(context.ScratchDirectory, "sluice");
        using var server = StartChild(context, ("dotnet", [ServerDll(), "--data-dir", data, "--flush-policy", "always", "--allow-private-webhooks", "--grpc-port", "0", "--port", port.ToString(CultureInfo.InvariantCulture)]));
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(2) };
            await WaitUntilUpAsync(client, server, cancellationToken);
            await FillAsync(context, client, cancellationToken);

            var loadAtStart = BenchmarksFile.LoadAverage();
            var directs = new List<Window>();
            var directsWithHeaders = new List<Window>();
            var pushes = new List<Window>();
            var raws = new List<Window>();
            var clients = new List<Window>();
            string? id = null;
            for (var round = 0; round < Rounds; round++)
            {
                directs.Add(await WrkAsync(context, url, receiver, round == 0 ? Warmup : Settle, withHeaders: false, cancellationToken));
                directsWithHeaders.Add(await WrkAsync(context, url, receiver, Settle, withHeaders: true, cancellationToken));
                raws.Add(await PusherRateAsync(context, "raw", url, receiver, cancellationToken));
                clients.Add(await PusherRateAsync(context, "client", url, receiver, cancellationToken));
                if (id is null)
                {
                    id = await CreateWebhookAsync(client, url, cancellationToken);
                    await Task.Delay(Warmup, cancellationToken);
                }
                else
                {
                    await Ok(await client.PostAsync($"/v1/webhooks/{id}/resume", null, cancellationToken));
                    await Task.Delay(Settle, cancellationToken);
                }

                pushes.Add(await PushRateAsync(context, client, id, server, receiver, cancellationToken));
                await Ok(await client.PostAsync($"/v1/webhooks/{id}/pause", null, cancellationToken));
            }

            var (direct, push) = (directs.Average(w => w.Rate), pushes.Average(w => w.Rate));
            var ratio = push / direct;

            // CPU per message over all rounds (total CPU / total messages): the figure that stays comparable when the shared
            // machine is busy, where the rates above move with whatever else runs.
            var gatewayCpu = pushes.Sum(w => w.SenderCpu.TotalMicroseconds) / pushes.Sum(w => w.Messages);
            var receiverPushCpu = pushes.Sum(w => w.ReceiverCpu.TotalMicroseconds) / pushes.Sum(w => w.Messages);
            var receiverDirectCpu = directs.Sum(w => w.ReceiverCpu.TotalMicroseconds) / directs.Sum(w => w.Messages);
            var md = new StringBuilder();
            md.AppendLine("## Webhooks: push delivery");
            md.AppendLine();
            md.AppendLine(BenchmarksFile.MachineLine());
            md.AppendLine($"One receiver (bare Kestrel, answers 200 at once, in its own process), {BodyBytes}-byte bodies, concurrency {Concurrency}; {Rounds} rounds of wrk (twice), the two pushers, then the webhook, {Measure.TotalSeconds:0} s measured each, after {Warmup.TotalSeconds:0} s of warm-up in the first round and {Settle.TotalSeconds:0} s in the next.");
            md.AppendLine();
            md.AppendLine("| figure | Sluice | baseline (same run) | ratio | floor | met |");
            md.AppendLine("|---|---|---|---|---|---|");
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| webhook push, ordering `none`, concurrency {Concurrency}, signed, acked (`always`; cursor on disk within 200 ms), mean of {Rounds} rounds ({Each(pushes)}) | {push:N0} msg/s | the receiver driven directly by `wrk -c {Concurrency}`, mean of {Rounds} rounds ({Each(directs)}): {direct:N0} req/s | {ratio:0.00} | >= 0.8 (issue 17) | {(ratio >= 0.8 ? "yes" : "no")} |"));
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| same, gateway CPU per delivered message (user + system over the measured windows); ratio = the receiver's CPU per request / the gateway's | {gatewayCpu:F1} us | the receiver's CPU per request while pushed to: {receiverPushCpu:F1} us; while driven by wrk: {receiverDirectCpu:F1} us | {receiverPushCpu / gatewayCpu:0.00} | - | - |"));
            var (raw, viaClient) = (raws.Average(w => w.Rate), clients.Average(w => w.Rate));
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| webhook push against the raw pusher below (the same calls and nothing else: the fastest .NET sender of one HTTP/1.1 call per message measured here) | {push:N0} msg/s | raw pusher, mean of {Rounds} rounds ({Each(raws)}): {raw:N0} calls/s | {push / raw:0.00} | - | - |"));
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| webhook push against the client pusher below (the same calls through .NET's HTTP client alone) | {push:N0} msg/s | client pusher, mean of {Rounds} rounds ({Each(clients)}): {viaClient:N0} calls/s | {push / viaClient:0.00} | - | - |"));
            md.AppendLine();
            md.AppendLine("Every sender against the same receiver in this run, one at a time (CPU per call: user + system of each process over its measured windows):");
            md.AppendLine();
            md.AppendLine("| sender | calls/s | of `wrk`'s | sender CPU per call | receiver CPU per call |");
            md.AppendLine("|---|---|---|---|---|");
            void Sender(string name, List<Window> windows)
            {
                var rate = windows.Average(w => w.Rate);
                var messages = windows.Sum(w => w.Messages);
                md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {name} | {rate:N0} | {rate / direct:0.00} | {windows.Sum(w => w.SenderCpu.TotalMicroseconds) / messages:F1} us | {windows.Sum(w => w.ReceiverCpu.TotalMicroseconds) / messages:F1} us |"));
            }

            Sender($"`wrk -t2 -c{Concurrency}` (C, epoll; a short request: Host, Content-Type, Content-Length)", directs);
            Sender($"the same `wrk` with a Sluice call's headers (those of the pushers' request)", directsWithHeaders);
            Sender($"raw pusher: a Sluice call's request pre-built (its headers, a fixed signature), written to {Concurrency} sockets, each answer read to its end; no log, no signing, no HTTP client", raws);
            Sender($"client pusher: the same request through `HttpMessageInvoker` over a `SocketsHttpHandler` set up as the gateway's, a new request message per call, {Concurrency} at once", clients);
            Sender("Sluice's webhook: read from the log, signed, called, acked", pushes);
            md.AppendLine();
            md.AppendLine("Notes: the Sluice figure counts messages acked after a 2xx (the webhook's `delivered` stat) from a topic filled beforehand;");
            md.AppendLine("each one is read from the log, signed (HMAC-SHA256), POSTed over a pooled connection and acked by its lease; the advanced cursor is");
            md.AppendLine("written with the next cursor append, at most 200 ms later, shared by all acks of that period (a crash in between re-sends them).");
            md.AppendLine("`wrk`, the gateway and the receiver share the machine's cores; compare ratios of one run. With both cores busy the push rate is");
            md.AppendLine("about 2 cores / (gateway + receiver CPU per message), so the gateway's CPU per message is what decides it.");
            md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"The pushers are child processes of the bench with the gateway's runtime settings, started fresh each round with {PusherWarmup.TotalSeconds:0} s of warm-up."));
            md.AppendLine("The raw pusher pays the receiver, both kernels and .NET's sockets for one call per message and nothing else: the fastest sender");
            md.AppendLine("measured here of one request per message, one at a time per connection, on .NET. `wrk`'s CPU is from `getrusage` over its measured run.");
            md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"Load average (1 min) when the suite started: {loadAtStart}; when it ended: {BenchmarksFile.LoadAverage()}. Design notes 0022, 0036 and 0049 have the profiles behind these figures."));
            return md.ToString();
        }
        finally
        {
            Stop(server);
            Stop(receiver);
        }
    }

    private static string Each(List<Window> windows) => string.Join(", ", windows.Select(w => w.Rate.ToString("N0", CultureInfo.InvariantCulture)));

    /// <summary>
    /// One measured window: its rate, the messages (or requests) it counted, and the CPU the processes used meanwhile; the
    /// sender's is the gateway's, a pusher's or <c>wrk</c>'s.
    /// </summary>
    private readonly record struct Window(double Rate, double Messages, TimeSpan SenderCpu, TimeSpan ReceiverCpu);

    public const string Topic = "bench/webhooks/push";

    private static async Task FillAsync(BenchContext context, HttpClient client, CancellationToken cancellationToken)
    {
        await Ok(await client.PutAsync($"/v1/topics/{Topic}", Json("{\"partitions\":4}"), cancellationToken));
        await Ok(await client.PutAsync($"/v1/topics/{Topic}/subscriptions/push", Json("{\"position\":\"earliest\"}"), cancellationToken));

        context.Progress.WriteLine($"  filling {Messages:N0} messages");
        var value = new string('x', BodyBytes);
        var batch = "{\"messages\":[" + string.Join(',', Enumerable.Repeat($"{{\"value\":\"{value}\"}}", 1000)) + "]}";
        for (var i = 0; i < Messages / 1000; i++)
        {
            await Ok(await client.PostAsync($"/v1/topics/{Topic}/batch", Json(batch), cancellationToken));
        }
    }

    private static async Task<string> CreateWebhookAsync(HttpClient client, string receiverUrl, CancellationToken cancellationToken)
    {
        var created = await client.PostAsync("/v1/webhooks", Json($"{{\"topic\":\"{Topic}\",\"subscription\":\"push\",\"url\":\"{receiverUrl}\",\"concurrency\":{Concurrency}}}"), cancellationToken);
        using var createdJson = JsonDocument.Parse(await Ok(created));
        return createdJson.RootElement.GetProperty("id").GetString()!;
    }

    private static async Task<Window> PushRateAsync(BenchContext context, HttpClient client, string id, Process server, Process receiver, CancellationToken cancellationToken)
    {
        var window = await MeasureAsync(
            async () => await DeliveredAsync(client, id, cancellationToken) is var delivered && delivered < Messages
                ? delivered
                : throw new InvalidOperationException("the topic ran dry during the measurement; raise Messages"),
            server, receiver, cancellationToken);
        context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  webhook push: {window.Rate:N0} msg/s; CPU per message: gateway {window.SenderCpu.TotalMicroseconds / window.Messages:F1} us, receiver {window.ReceiverCpu.TotalMicroseconds / window.Messages:F1} us; load {BenchmarksFile.LoadAverage()}"));
        return window;
    }

    /// <summary>
    /// One window of <see cref="Measure"/>: the sender's count read at both ends (<paramref name="answered"/>), and the CPU the
    /// sender and the receiver used in between.
    /// </summary>
    private static async Task<Window> MeasureAsync(Func<Task<long>> answered, Process sender, Process receiver, CancellationToken cancellationToken)
    {
        var (start, startAt) = (await answered(), Stopwatch.GetTimestamp());
        var (senderStart, receiverStart) = (ProcessCpu.Of(sender.Id), ProcessCpu.Of(receiver.Id));
        await Task.Delay(Measure, cancellationToken);
        var (senderEnd, receiverEnd) = (ProcessCpu.Of(sender.Id), ProcessCpu.Of(receiver.Id));
        var (end, endAt) = (await answered(), Stopwatch.GetTimestamp());
        var rate = (end - start) / Stopwatch.GetElapsedTime(startAt, endAt).TotalSeconds;
        return new Window(rate, end - start, senderEnd - senderStart, receiverEnd - receiverStart);
    }

    /// <summary>A <see cref="Pusher"/> child against the receiver: its calls answered per second and its CPU per call.</summary>
    private static async Task<Window> PusherRateAsync(BenchContext context, string kind, string url, Process receiver, CancellationToken cancellationToken)
    {
        using var pusher = StartChild(context, SelfArgs(Pusher.ChildFlag, kind, url, Concurrency.ToString(CultureInfo.InvariantCulture)), talk: true, GatewayRuntime);
        try
        {
            async Task<long> AnsweredAsync()
            {
                await pusher.StandardInput.WriteLineAsync();
                await pusher.StandardInput.FlushAsync(cancellationToken);
                var line = await pusher.StandardOutput.ReadLineAsync(cancellationToken) ?? throw new InvalidOperationException($"the {kind} pusher exited");
                return long.Parse(line, CultureInfo.InvariantCulture);
            }

            await Task.Delay(PusherWarmup, cancellationToken);
            var window = await MeasureAsync(AnsweredAsync, pusher, receiver, cancellationToken);
            context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {kind} pusher: {window.Rate:N0} calls/s; CPU per call: pusher {window.SenderCpu.TotalMicroseconds / window.Messages:F1} us, receiver {window.ReceiverCpu.TotalMicroseconds / window.Messages:F1} us; load {BenchmarksFile.LoadAverage()}"));
            return window;
        }
        finally
        {
            Stop(pusher);
        }
    }

    private static async Task<long> DeliveredAsync(HttpClient client, string id, CancellationToken cancellationToken)
    {
        using var stats = JsonDocument.Parse(await client.GetStringAsync($"/v1/webhooks/{id}/stats", cancellationToken));
        var failed = stats.RootElement.GetProperty("failed").GetInt64();
        if (failed > 0)
        {
            throw new InvalidOperationException($"{failed} webhook calls failed: {stats.RootElement.GetProperty("lastError")}");
        }

        return stats.RootElement.GetProperty("delivered").GetInt64();
    }

    private static async Task<Window> WrkAsync(BenchContext context, string url, Process receiver, TimeSpan warmup, bool withHeaders, CancellationToken cancellationToken)
    {
        var script = Path.Combine(context.ScratchDirectory, withHeaders ? "post-headers.lua" : "post.lua");
        var lua = new StringBuilder($"wrk.method = \"POST\"\nwrk.body = string.rep(\"x\", {BodyBytes})\nwrk.headers[\"Content-Type\"] = \"application/octet-stream\"\n");
        foreach (var (name, value) in withHeaders ? Pusher.Headers(Topic) : [])
        {
            lua.Append(CultureInfo.InvariantCulture, $"wrk.headers[\"{name}\"] = \"{value}\"\n");
        }

        await File.WriteAllTextAsync(script, lua.ToString(), cancellationToken);

        // Two threads: the machine's cores; the warm-up is a separate short run.
        await RunWrkAsync(["-t2", $"-c{Concurrency}", $"-d{warmup.TotalSeconds:0}s", "-s", script, url], cancellationToken);
        var (receiverStart, wrkStart) = (ProcessCpu.Of(receiver.Id), ProcessCpu.OfReapedChildren());
        var output = await RunWrkAsync(["-t2", $"-c{Concurrency}", $"-d{Measure.TotalSeconds:0}s", "-s", script, url], cancellationToken);
        var (receiverCpu, wrkCpu) = (ProcessCpu.Of(receiver.Id) - receiverStart, ProcessCpu.OfReapedChildren() - wrkStart);
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("Requests/sec:", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("wrk printed no Requests/sec:\n" + output);
        if (output.Contains("Non-2xx", StringComparison.Ordinal) || output.Contains("Socket errors", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("wrk saw errors:\n" + output);
        }

        var rate = double.Parse(line["Requests/sec:".Length..].Trim(), CultureInfo.InvariantCulture);
        var requests = rate * Measure.TotalSeconds;
        context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  wrk direct{(withHeaders ? " with a call's headers" : "")}: {rate:N0} req/s; CPU per request: wrk {wrkCpu.TotalMicroseconds / requests:F1} us, receiver {receiverCpu.TotalMicroseconds / requests:F1} us; load {BenchmarksFile.LoadAverage()}"));
        return new Window(rate, requests, wrkCpu, receiverCpu);
    }

    private static async Task<string> RunWrkAsync(string[] args, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("wrk") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"wrk exited with {process.ExitCode}: {await process.StandardError.ReadToEndAsync(cancellationToken)}");
    }

    /// <summary>Installs wrk with apt-get when it is missing (the bench's only system dependency).</summary>
    private static async Task EnsureWrkAsync(BenchContext context, CancellationToken cancellationToken)
    {
        if (Environment.GetEnvironmentVariable("PATH")?.Split(':').Any(d => File.Exists(Path.Combine(d, "wrk"))) == true)
        {
            return;
        }

        context.Progress.WriteLine("  wrk is missing: installing it with apt-get");
        var sudo = Environment.UserName == "root" ? "" : "sudo ";
        var install = Process.Start("bash", ["-c", $"{sudo}apt-get update -qq && DEBIAN_FRONTEND=noninteractive {sudo}apt-get install -y -qq wrk"])!;
        await install.WaitForExitAsync(cancellationToken);
        if (install.ExitCode != 0)
        {
            throw new InvalidOperationException("could not install wrk; install it (apt-get install wrk) and run again");
        }
    }

    private static async Task<string> Ok(HttpResponseMessage response)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            return response.IsSuccessStatusCode ? body : throw new InvalidOperationException($"{response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}: {body}");
        }
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static (string File, List<string> Args) BareArgs(int port) => SelfArgs(Http.BareEndpoint.ChildFlag, port.ToString(CultureInfo.InvariantCulture));

    private static (string File, List<string> Args) SelfArgs(params string[] childArgs)
    {
        var args = new List<string>();
        var file = Environment.ProcessPath!;
        if (Path.GetFileNameWithoutExtension(file) == "dotnet")
        {
            args.Add(typeof(WebhookSuite).Assembly.Location);
        }

        args.AddRange(childArgs);
        return (file, args);
    }

    // What Runtime.props gives the gateway, for the pushers that stand in for it (the bench's own runtime keeps the defaults).
    private static readonly Dictionary<string, string> GatewayRuntime = new()
    {
        ["DOTNET_gcServer"] = "1",
        ["DOTNET_GCDynamicAdaptationMode"] = "0",
        ["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"] = "0",
    };

    /// <summary>
    /// Starts a child whose standard error goes to the progress log. With <paramref name="talk"/> its standard input and
    /// output are left to the caller, who talks to it line by line; otherwise its output is read and dropped.
    /// </summary>
    private static Process StartChild(BenchContext context, (string File, List<string> Args) command, bool talk = false, Dictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(command.File) { UseShellExecute = false, RedirectStandardInput = talk, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in command.Args)
        {
            start.ArgumentList.Add(a);
        }

        foreach (var (name, value) in environment ?? [])
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                context.Progress.WriteLine("  [child] " + e.Data);
            }
        };
        process.BeginErrorReadLine();
        if (!talk)
        {
            process.OutputDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
        }

        return process;
    }

    private static void Stop(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        process.WaitForExit();
    }

    private static async Task WaitUntilUpAsync(HttpClient client, Process process, CancellationToken cancellationToken, string readyPath = "/readyz")
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"a child exited with code {process.ExitCode} before it was up");
            }

            try
            {
                using var response = await client.GetAsync(readyPath, cancellationToken);
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

        throw new TimeoutException("a child did not come up within 60 s");
    }

    private static string ServerDll()
    {
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
}
