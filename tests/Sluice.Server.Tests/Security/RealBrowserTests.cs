using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Security;

/// <summary>
/// A real browser (headless Chromium, the Debian package) loads pages from two other origins that call a gateway without
/// authentication: the page of the origin in <c>cors:allowedOrigins</c> produces with fetch, reads the answer, streams
/// with EventSource and opens a WebSocket; the page of another origin gets none of that, and its <c>text/plain</c>
/// POST, which the browser sends without a preflight, writes nothing.
/// </summary>
public sealed class RealBrowserTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ConcurrentDictionary<string, JsonElement> _reports = new(StringComparer.Ordinal);
    private WebApplication _pages = null!;
    private string _allowed = "";
    private string _other = "";

    public async Task InitializeAsync()
    {
        // One page server, reached under two origins: 127.0.0.1 (allowed) and localhost (not), each on its own port.
        _pages = LoopbackApp.Create();
        _pages.MapGet("/page.html", (HttpContext c) => Results.Content(Page(c.Request.Query["gateway"]!, c.Request.Query["topic"]!, c.Request.Query["name"]!), "text/html"));
        _pages.MapPost("/report/{name}", async (string name, HttpContext c) =>
        {
            using var document = await JsonDocument.ParseAsync(c.Request.Body);
            _reports[name] = document.RootElement.Clone();
        });
        var address = await LoopbackApp.StartAsync(_pages);
        _allowed = address;
        _other = address.Replace("127.0.0.1", "localhost", StringComparison.Ordinal);
    }

    public async Task DisposeAsync() => await _pages.DisposeAsync();

    [Fact]
    public async Task PageOfTheAllowedOrigin_UsesTheApi_AndAPageOfAnotherOrigin_CannotEvenWrite()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: scripts/test installs the Debian package chromium");
        await using var server = await ServerProcess.StartNewAsync(["--cors-allowed-origins", _allowed]);
        var topic = SluiceApi.NewTopic("browser");
        var gateway = $"http://127.0.0.1:{server.Port}";
        try
        {
            var allowed = await RunPageAsync(_allowed, gateway, topic, "allowed");
            Assert.Equal(200, allowed.GetProperty("produce").GetInt32());
            Assert.Equal("from the allowed page", allowed.GetProperty("event").GetString());
            Assert.Equal("open", allowed.GetProperty("socket").GetString());

            var other = await RunPageAsync(_other, gateway, topic, "other");
            Assert.Equal("blocked", other.GetProperty("produce").GetString());
            Assert.Equal("blocked", other.GetProperty("event").GetString());
            Assert.Equal("blocked", other.GetProperty("socket").GetString());

            // The other page's no-cors text/plain POST reached the gateway and was refused: only the allowed page's message is there.
            var messages = await SluiceApi.ReadJsonAsync(await server.Client.GetAsync($"/v1/topics/{topic}/messages?partition=0&offset=0"));
            Assert.Equal(["from the allowed page"], messages.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("value").GetString()));
            Assert.Contains("Refused POST", server.Output, StringComparison.Ordinal);
        }
        finally
        {
            server.WriteOutputTo(output, lastLines: 30);
        }
    }

    private static string Chromium => "/usr/bin/chromium";

    // Loads the page in a fresh headless browser and waits for its report; the browser is killed either way.
    private async Task<JsonElement> RunPageAsync(string origin, string gateway, string topic, string name)
    {
        var profile = Directory.CreateTempSubdirectory("sluice-chromium-");
        var url = $"{origin}/page.html?gateway={Uri.EscapeDataString(gateway)}&topic={Uri.EscapeDataString(topic)}&name={name}";
        var info = new ProcessStartInfo(Chromium) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in new[] { "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", $"--user-data-dir={profile.FullName}", url })
        {
            info.ArgumentList.Add(arg);
        }

        using var browser = Process.Start(info)!;
        browser.OutputDataReceived += (_, e) => { };
        browser.ErrorDataReceived += (_, e) => { };
        browser.BeginOutputReadLine();
        browser.BeginErrorReadLine();
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (!_reports.ContainsKey(name))
            {
                Assert.True(DateTime.UtcNow < deadline, $"the {name} page did not report within 60 s");
                Assert.False(browser.HasExited, $"chromium exited with {(browser.HasExited ? browser.ExitCode : 0)} before the {name} page reported");
                await Task.Delay(100);
            }

            output.WriteLine($"{name}: {_reports[name]}");
            return _reports[name];
        }
        finally
        {
            browser.Kill(entireProcessTree: true);
            await browser.WaitForExitAsync();
            profile.Delete(recursive: true);
        }
    }

    // Each check answers a value or "blocked"; the page reports to its own origin (same-origin, always allowed).
    private static string Page(string gateway, string topic, string name) => $$"""
        <!doctype html><meta charset="utf-8"><script>
        const gateway = {{JsonSerializer.Serialize(gateway)}}, topic = {{JsonSerializer.Serialize(topic)}};
        const result = {};
        const within = (ms, p) => Promise.race([p, new Promise(r => setTimeout(() => r("blocked"), ms))]);
        (async () => {
          try {
            const r = await fetch(`${gateway}/v1/topics/${topic}/messages?partition=0`, { method: "POST", body: "from the {{name}} page", headers: { "Content-Type": "text/plain" } });
            result.produce = r.status;
          } catch { result.produce = "blocked"; }
          result.event = await within(15000, new Promise(resolve => {
            const source = new EventSource(`${gateway}/v1/topics/${topic}/messages?partition=0&offset=0`);
            source.onmessage = e => { source.close(); resolve(JSON.parse(e.data).value); };
            source.onerror = () => { source.close(); resolve("blocked"); };
          }));
          result.socket = await within(15000, new Promise(resolve => {
            const ws = new WebSocket(`${gateway.replace("http", "ws")}/v1/topics/${topic}/ws/produce`);
            ws.onopen = () => { ws.close(); resolve("open"); };
            ws.onerror = () => resolve("blocked");
          }));
          await fetch(`/report/{{name}}`, { method: "POST", body: JSON.stringify(result) });
        })();
        </script>
        """;
}
