using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Sluice.Cli.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary>Topic, subscription and webhook administration through the real binary.</summary>
public sealed class AdminTests(AdminTests.Server fixture) : IClassFixture<AdminTests.Server>
{
    /// <summary>Webhooks to loopback need the SSRF guard relaxed.</summary>
    public sealed class Server() : CliServer(["--allow-private-webhooks"]);

    [Fact]
    public async Task Topics_CreateDescribeUpdateListDelete_RoundTrip()
    {
        using var cli = fixture.NewCli();
        var topic = CliServer.NewTopic();

        var created = await cli.RunAsync("topics", "create", topic, "--partitions", "2", "--retention-ms", "60000");
        Assert.True(created.ExitCode == 0, created.ToString());
        Assert.Contains("created topic", created.Stdout, StringComparison.Ordinal);

        var again = await cli.RunAsync("topics", "create", topic);
        Assert.Equal(ExitCodesForTests.Refused, again.ExitCode);
        Assert.Contains("already exists", again.Stderr, StringComparison.Ordinal);

        var described = await cli.RunAsync("topics", "describe", topic);
        Assert.Contains("PARTITION", described.Stdout, StringComparison.Ordinal);
        Assert.Contains("60000 ms", described.Stdout, StringComparison.Ordinal);

        var updated = await cli.RunAsync("topics", "update", topic, "--partitions", "3", "--compacted", "true");
        Assert.True(updated.ExitCode == 0, updated.ToString());
        var json = JsonDocument.Parse((await cli.RunAsync("topics", "describe", topic, "--json")).Stdout).RootElement;
        Assert.Equal(3, json.GetProperty("partitions").GetArrayLength());
        Assert.True(json.GetProperty("compacted").GetBoolean());
        Assert.Equal(60000, json.GetProperty("retentionMs").GetInt64());

        var shrink = await cli.RunAsync("topics", "update", topic, "--partitions", "1");
        Assert.Equal(ExitCodesForTests.Refused, shrink.ExitCode);
        Assert.Contains("400 invalid-parameter", shrink.Stderr, StringComparison.Ordinal);

        Assert.Contains(topic, (await cli.RunAsync("topics", "list")).Lines);

        var deleted = await cli.RunAsync("topics", "delete", topic);
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        Assert.DoesNotContain(topic, (await cli.RunAsync("topics", "list")).Lines);
        Assert.Equal(ExitCodesForTests.NotFound, (await cli.RunAsync("topics", "update", topic, "--partitions", "4")).ExitCode);
    }

    [Fact]
    public async Task Subscriptions_CreateListDescribeSeekDelete_RoundTrip()
    {
        using var cli = fixture.NewCli();
        var topic = CliServer.NewTopic();
        await cli.RunAsync("produce", topic, "a", "b", "c", "-p", "0");

        var created = await cli.RunAsync("subscriptions", "create", topic, "audit", "--type", "exclusive", "--from", "earliest", "--ack-deadline-ms", "5000");
        Assert.True(created.ExitCode == 0, created.ToString());
        Assert.Equal(ExitCodesForTests.Refused, (await cli.RunAsync("subscriptions", "create", topic, "audit")).ExitCode);
        Assert.Equal(["audit"], (await cli.RunAsync("subs", "list", topic)).Lines);

        var described = await cli.RunAsync("subscriptions", "describe", topic, "audit");
        Assert.Matches(@"total\s+-\s+-\s+3", described.Stdout);
        Assert.Contains("exclusive", described.Stdout, StringComparison.Ordinal);

        var seek = await cli.RunAsync("subscriptions", "seek", topic, "audit", "--to", "latest");
        Assert.True(seek.ExitCode == 0, seek.ToString());
        var lag = JsonDocument.Parse((await cli.RunAsync("subscriptions", "describe", topic, "audit", "--json")).Stdout).RootElement
            .GetProperty("partitions").EnumerateArray().Sum(p => p.GetProperty("lag").GetInt64());
        Assert.Equal(0, lag);

        Assert.Equal(0, (await cli.RunAsync("subscriptions", "seek", topic, "audit", "--to", "0:1")).ExitCode);
        var pulled = await cli.RunAsync("consume", topic, "-g", "audit", "-c", "2", "-o", "raw", "--consumer", "me");
        Assert.Equal(["b", "c"], pulled.Lines);

        Assert.Equal(0, (await cli.RunAsync("subscriptions", "delete", topic, "audit")).ExitCode);
        var gone = await cli.RunAsync("subscriptions", "describe", topic, "audit");
        Assert.Equal(ExitCodesForTests.NotFound, gone.ExitCode);
        Assert.Contains("404 subscription-not-found", gone.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Webhooks_CreateGetPauseResumeStatsDelete_RoundTrip()
    {
        using var cli = fixture.NewCli();
        var topic = CliServer.NewTopic();
        using var receiver = new TcpListener(IPAddress.Loopback, 0); // a URL that exists; nothing is delivered in this test
        receiver.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)receiver.LocalEndpoint).Port}/hook";

        var created = await cli.RunAsync("webhooks", "create", "--topic", topic, "--url", url, "-H", "x-team=billing", "--concurrency", "2");
        Assert.True(created.ExitCode == 0, created.ToString());
        var webhook = JsonDocument.Parse(created.Stdout).RootElement;
        var id = webhook.GetProperty("id").GetString()!;
        Assert.StartsWith("whsec_", webhook.GetProperty("secret").GetString(), StringComparison.Ordinal);

        var listed = await cli.RunAsync("webhooks", "list");
        Assert.Contains(id, listed.Stdout, StringComparison.Ordinal);
        var got = JsonDocument.Parse((await cli.RunAsync("webhooks", "get", id)).Stdout).RootElement;
        Assert.Equal(url, got.GetProperty("url").GetString());
        Assert.False(got.TryGetProperty("secret", out _)); // shown once, at creation

        Assert.Equal(0, (await cli.RunAsync("webhooks", "pause", id)).ExitCode);
        Assert.True(JsonDocument.Parse((await cli.RunAsync("webhooks", "stats", id)).Stdout).RootElement.GetProperty("paused").GetBoolean());
        Assert.Equal(0, (await cli.RunAsync("webhooks", "resume", id)).ExitCode);
        Assert.False(JsonDocument.Parse((await cli.RunAsync("webhooks", "get", id)).Stdout).RootElement.GetProperty("paused").GetBoolean());

        var spec = Path.Combine(cli.Home, "hook.json");
        await File.WriteAllTextAsync(spec, $"{{\"topic\":\"{topic}\",\"url\":\"{url}\",\"ordering\":\"per_key\"}}");
        var fromFile = await cli.RunAsync("webhooks", "create", "-f", spec);
        Assert.True(fromFile.ExitCode == 0, fromFile.ToString());
        Assert.Equal("per_key", JsonDocument.Parse(fromFile.Stdout).RootElement.GetProperty("ordering").GetString());

        Assert.Equal(0, (await cli.RunAsync("webhooks", "delete", id)).ExitCode);
        Assert.NotEqual(0, (await cli.RunAsync("webhooks", "get", id)).ExitCode);
    }

    [Fact]
    public async Task Webhooks_RefusedUrl_ExitsRefusedWithTheServersReason()
    {
        using var cli = fixture.NewCli();
        var refused = await cli.RunAsync("webhooks", "create", "--topic", CliServer.NewTopic(), "--url", "ftp://example.invalid/");
        Assert.Equal(ExitCodesForTests.Refused, refused.ExitCode);
        Assert.Contains("400 webhook-url-refused", refused.Stderr, StringComparison.Ordinal);
    }
}
