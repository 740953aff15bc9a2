using System.Diagnostics;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;
using Sluice.Server.Tests.Security;

namespace Sluice.Console.Tests;

/// <summary>
/// The web console end to end in a real browser (Debian's headless Chromium, driven by playwright-core from a node
/// script) against the real server with authentication on: the token entered once, topics, a topic with its
/// partitions, subscriptions, seek, a test produce and a live tail that shows a message produced meanwhile, delayed
/// messages, webhooks paused and resumed, replicators stopped and started. The screenshots of the main pages are kept
/// (under <c>SLUICE_TEST_ARTIFACTS</c>, which scripts/test points into its results directory) and checked: the
/// viewport's size, and real content against a blank page rendered by the same browser.
/// </summary>
public sealed class ConsoleBrowserTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly byte[] _secret = RandomNumberGenerator.GetBytes(32);
    private ServerProcess _server = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _server = new ServerProcess(["--auth", "jwt", "--jwt-secret-file", "secret.key", "--superuser-role", "ops", "--allow-private-webhooks"]);
        await File.WriteAllBytesAsync(Path.Combine(_server.WorkingDirectory, "secret.key"), _secret);
        await _server.StartAsync();
        _admin = new HttpClient { BaseAddress = _server.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        _admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Jwt.Hs256(_secret, new { sub = "ops" }));
    }

    public async Task DisposeAsync()
    {
        _server.WriteOutputTo(output, lastLines: 40);
        _admin.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Console_WithAuthOn_ShowsTopicsSubscriptionsTailWebhooksAndReplicators_AndItsScreenshotsHaveContent()
    {
        var topic = $"acme/shop/orders-{Guid.NewGuid().ToString("N")[..8]}";
        await SendAsync(HttpMethod.Put, $"/v1/topics/{topic}", new { partitions = 2 });
        await SendAsync(HttpMethod.Put, $"/v1/topics/{topic}/subscriptions/billing", new { position = "earliest" });
        for (var i = 0; i < 3; i++)
        {
            using var produced = await _admin.PostAsync($"/v1/topics/{topic}/messages?key=k{i}", new StringContent($"{{\"order\":{i}}}", Encoding.UTF8, "application/json"));
            produced.EnsureSuccessStatusCode();
        }

        // Running, calling an address where nobody listens (its breaker opens: still a webhook to pause and resume).
        await SendAsync(HttpMethod.Put, "/v1/webhooks/wh-console", new { topic, url = "http://127.0.0.1:9/hook" });
        var delayedId = await DelayedMessageAsync(topic);
        var replicator = await ReplicatorAsync(topic);
        Assert.NotNull(replicator);

        var artifacts = Path.Combine(ArtifactsRoot(), "console-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture));
        var profile = Directory.CreateTempSubdirectory("sluice-console-chromium-");
        try
        {
            var result = await RunNodeAsync(new
            {
                baseUrl = $"http://127.0.0.1:{_server.Port}",
                token = Jwt.Hs256(_secret, new { sub = "ops" }),
                topic,
                subscription = "billing",
                webhookId = "wh-console",
                replicator,
                delayedId,
                artifacts,
                userDataDir = profile.FullName,
            });

            var checks = result.GetProperty("checks").EnumerateArray().Select(c => c.GetString()!).ToList();
            output.WriteLine("checks passed:\n  " + string.Join("\n  ", checks));
            Assert.Contains("the live tail shows a message produced meanwhile", checks);
            Assert.Contains("seek to latest moved the cursor", checks);
            Assert.Contains("resume is persisted", checks);
            Assert.Contains("stop is persisted", checks);
            Assert.Contains("start is persisted", checks);
            Assert.Empty(result.GetProperty("pageErrors").EnumerateArray());

            var shots = result.GetProperty("screenshots").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
            var blank = PngImage.Load(shots["blank"]);
            foreach (var page in new[] { "login", "topics", "topic", "webhooks", "replicators" })
            {
                CheckScreenshot(page, shots[page], blank);
            }
        }
        finally
        {
            output.WriteLine($"screenshots in {artifacts}");
            profile.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Console_WithAuthOff_PassesTheHostAndOriginChecks_AndStreamsWhatItProduces()
    {
        await using var open = await ServerProcess.StartNewAsync();
        var topic = $"acme/shop/open-{Guid.NewGuid().ToString("N")[..8]}";
        using var created = await open.Client.PutAsync($"/v1/topics/{topic}", new StringContent("{\"partitions\":1}", Encoding.UTF8, "application/json"));
        created.EnsureSuccessStatusCode();
        var artifacts = Path.Combine(ArtifactsRoot(), "console-open-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture));
        var profile = Directory.CreateTempSubdirectory("sluice-console-chromium-");
        try
        {
            var result = await RunNodeAsync(new { open = true, baseUrl = $"http://127.0.0.1:{open.Port}", topic, artifacts, userDataDir = profile.FullName });
            Assert.Contains("a produce from the console is streamed back to it", result.GetProperty("checks").EnumerateArray().Select(c => c.GetString()));
            Assert.Empty(result.GetProperty("pageErrors").EnumerateArray());
            var blank = PngImage.Load(result.GetProperty("screenshots").GetProperty("blank").GetString()!);
            CheckScreenshot("open-topic", result.GetProperty("screenshots").GetProperty("open-topic").GetString()!, blank);

            // The message went through the real API: it is in the topic.
            using var read = await open.Client.GetAsync($"/v1/topics/{topic}/messages?partition=0&offset=0");
            Assert.Contains("same origin", await read.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        finally
        {
            open.WriteOutputTo(output, lastLines: 20);
            profile.Delete(recursive: true);
        }
    }

    // A screenshot of the 1280×900 viewport, not the blank page: many colours (text, tables, badges), and a good part of
    // its pixels differ from the blank baseline.
    private void CheckScreenshot(string page, string path, PngImage blank)
    {
        Assert.True(new FileInfo(path).Length > 10_000, $"{page}: {path} is only {new FileInfo(path).Length} bytes");
        var image = PngImage.Load(path);
        Assert.Equal((1280, 900), (image.Width, image.Height));
        Assert.Equal((blank.Width, blank.Height), (image.Width, image.Height));
        var colours = new HashSet<uint>();
        var different = 0;
        for (var y = 0; y < image.Height; y++)
        {
            for (var x = 0; x < image.Width; x++)
            {
                var pixel = image.Pixel(x, y);
                colours.Add(pixel);
                different += pixel != blank.Pixel(x, y) ? 1 : 0;
            }
        }

        var share = (double)different / (image.Width * image.Height);
        output.WriteLine($"{page}: {colours.Count} colours, {share:P1} of pixels differ from blank");
        Assert.True(colours.Count >= 16, $"{page}: only {colours.Count} colours: an empty page?");
        Assert.True(share >= 0.05, $"{page}: only {share:P1} of the pixels differ from a blank page");
    }

    private async Task<JsonElement> RunNodeAsync(object config)
    {
        var folder = TestFolder();
        Assert.True(File.Exists("/usr/bin/chromium"), "/usr/bin/chromium is missing: scripts/test installs Debian's chromium");
        Assert.True(Directory.Exists(Path.Combine(folder, "node_modules", "playwright-core")), $"playwright-core is missing in {folder}: scripts/test installs it (npm ci)");
        var info = new ProcessStartInfo("node") { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("console-e2e.mjs");
        info.ArgumentList.Add(JsonSerializer.Serialize(config));
        using var node = Process.Start(info)!;
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        try
        {
            await node.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            node.Kill(entireProcessTree: true);
            throw new TimeoutException($"the browser script did not finish within 4 minutes:\n{await stderr}");
        }

        var (text, errors) = (await stdout, await stderr);
        output.WriteLine(errors);
        Assert.True(node.ExitCode == 0, $"the browser script failed (exit {node.ExitCode}):\n{errors}\n{text}");
        return JsonDocument.Parse(text.Trim().Split('\n')[^1]).RootElement.Clone();
    }

    // The delayed-messages API, when this gateway has it: one message due in an hour, listed as pending.
    private async Task<string?> DelayedMessageAsync(string topic)
    {
        using var probe = await _admin.GetAsync($"/v1/topics/{topic}/delayed");
        if (probe.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/messages") { Content = new StringContent("later", Encoding.UTF8, "text/plain") };
        request.Headers.Add("Sluice-Deliver-After", "3600000");
        using var response = await _admin.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetString();
    }

    // The replicators API, when this gateway has it: an http sink to an address where nobody listens (retrying).
    private async Task<string?> ReplicatorAsync(string topic)
    {
        using var probe = await _admin.GetAsync("/v1/replicators");
        if (probe.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }

        await SendAsync(HttpMethod.Put, "/v1/replicators/console-copy", new
        {
            source = new { topic, position = "earliest" },
            sink = new { type = "http", url = "http://127.0.0.1:9/sink" },
        });
        return "console-copy";
    }

    private async Task SendAsync(HttpMethod method, string path, object body)
    {
        using var request = new HttpRequestMessage(method, path) { Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json") };
        using var response = await _admin.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, $"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private static string TestFolder()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Sluice.slnx")))
        {
            dir = dir.Parent;
        }

        return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("Sluice.slnx not found"), "tests", "Sluice.Console.Tests");
    }

    private static string ArtifactsRoot()
        => Environment.GetEnvironmentVariable("SLUICE_TEST_ARTIFACTS") is { Length: > 0 } root ? root : Path.Combine(AppContext.BaseDirectory, "artifacts");
}
