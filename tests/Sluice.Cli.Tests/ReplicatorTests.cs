using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Sluice.Cli.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary><c>sluice replicators</c> against the real server's <c>/v1/replicators</c>, through the real binary.</summary>
public sealed class ReplicatorTests(AdminTests.Server fixture) : IClassFixture<AdminTests.Server>
{
    [Fact]
    public async Task Replicators_CreateListGetStopStatusSeekStartUpdateDelete_RoundTrip_SecretsNeverPrinted()
    {
        using var cli = fixture.NewCli();
        var topic = CliServer.NewTopic();
        await cli.RunAsync("produce", topic, "a", "b", "c", "-p", "0");
        using var receiver = new TcpListener(IPAddress.Loopback, 0); // a target that exists; what it receives is not this test's subject
        receiver.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)receiver.LocalEndpoint).Port}/in";
        var name = "r" + Guid.NewGuid().ToString("N")[..10];
        const string Secret = "tok-do-not-print-7f3a";
        var spec = Path.Combine(cli.Home, "replicator.json");
        await File.WriteAllTextAsync(spec, JsonSerializer.Serialize(new
        {
            name,
            source = new { topic, position = "earliest" },
            sink = new { type = "http", url, headers = new Dictionary<string, string> { ["Authorization"] = "Bearer ${secret:tok}" } },
            secrets = new { tok = Secret },
        }));

        var created = await cli.RunAsync("replicators", "create", "-f", spec);
        Assert.True(created.ExitCode == 0, created.ToString());
        Assert.Equal(name, JsonDocument.Parse(created.Stdout).RootElement.GetProperty("name").GetString());
        Assert.Equal(ExitCodesForTests.Refused, (await cli.RunAsync("replicators", "create", "-f", spec)).ExitCode);

        var listed = await cli.RunAsync("replicators", "list");
        Assert.Contains("NAME", listed.Stdout, StringComparison.Ordinal);
        Assert.Contains(name, listed.Stdout, StringComparison.Ordinal);
        var got = await cli.RunAsync("replicators", "get", name);
        Assert.Equal(url, JsonDocument.Parse(got.Stdout).RootElement.GetProperty("sink").GetProperty("url").GetString());

        // Seeking needs a stopped replicator: the server's 409 is the CLI's "refused".
        Assert.Equal(ExitCodesForTests.Refused, (await cli.RunAsync("replicators", "seek", name, "--to", "earliest")).ExitCode);
        Assert.Equal(0, (await cli.RunAsync("replicators", "stop", name)).ExitCode);
        var status = JsonDocument.Parse((await cli.RunAsync("replicators", "status", name)).Stdout).RootElement;
        Assert.Equal("stopped", status.GetProperty("state").GetString());
        var seek = await cli.RunAsync("replicators", "seek", name, "--to", "latest");
        Assert.True(seek.ExitCode == 0, seek.ToString());
        Assert.Equal(0, (await cli.RunAsync("replicators", "start", name)).ExitCode);
        Assert.Equal(0, (await cli.RunAsync("replicators", "restart", name)).ExitCode);

        await File.WriteAllTextAsync(spec, JsonSerializer.Serialize(new
        {
            name,
            source = new { topic },
            sink = new { type = "http", url, format = "ndjson", headers = new Dictionary<string, string> { ["Authorization"] = "Bearer ${secret:tok}" } },
            batch = new { maxRecords = 50 },
        }));
        var updated = await cli.RunAsync("replicators", "update", name, "-f", spec);
        Assert.True(updated.ExitCode == 0, updated.ToString());
        Assert.Equal("ndjson", JsonDocument.Parse((await cli.RunAsync("replicators", "get", name)).Stdout).RootElement.GetProperty("sink").GetProperty("format").GetString());

        foreach (var output in new[] { created, listed, got, updated })
        {
            Assert.DoesNotContain(Secret, output.Stdout + output.Stderr, StringComparison.Ordinal);
        }

        Assert.Equal(0, (await cli.RunAsync("replicators", "delete", name)).ExitCode);
        Assert.Equal(ExitCodesForTests.NotFound, (await cli.RunAsync("replicators", "get", name)).ExitCode);
    }

    [Fact]
    public async Task Replicators_BadRegistration_ExitsRefusedWithTheServersReason()
    {
        using var cli = fixture.NewCli();
        var spec = Path.Combine(cli.Home, "bad.json");
        await File.WriteAllTextAsync(spec, """{"name":"bad one","source":{"topic":"a/b/c"},"sink":{"type":"http","url":"http://127.0.0.1:1/"}}""");
        var refused = await cli.RunAsync("replicators", "create", "-f", spec);
        Assert.Equal(ExitCodesForTests.Refused, refused.ExitCode);
        Assert.Contains("400", refused.Stderr, StringComparison.Ordinal);
    }
}
