using System.Globalization;
using System.Text.Json;
using Sluice.Cli.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary>
/// Delayed messages through the real binary against the real server: <c>produce --deliver-at/--deliver-after-ms</c>,
/// <c>delayed list</c> (paged) and <c>delayed cancel</c>, and delivery once due.
/// </summary>
public sealed class DelayedTests(CliServer fixture) : IClassFixture<CliServer>
{
    [Fact]
    public async Task Produce_Delayed_PrintsDelayedIds_ListPagesThem_CancelRemovesOne_AndADueOneIsConsumed()
    {
        using var cli = fixture.NewCli();
        var topic = CliServer.NewTopic("delayed");
        Assert.Equal(0, (await cli.RunAsync("subscriptions", "create", topic, "s", "--from", "earliest")).ExitCode);

        // Hours ahead, so that a slow machine cannot deliver them during the test: each flag and a JSON line.
        var iso = await cli.RunAsync("produce", topic, "iso", "-p", "0", "--deliver-at", DateTimeOffset.UtcNow.AddHours(1).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
        Assert.True(iso.ExitCode == 0, iso.ToString());
        var epoch = await cli.RunAsync("produce", topic, "epoch", "-p", "1", "--deliver-at", DateTimeOffset.UtcNow.AddHours(2).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture));
        var line = await cli.RunAsync(["produce", topic, "--line-format", "json"], """{"value":"line","partition":0,"deliverAfterMs":10800000}""" + "\n");
        var ids = new[] { iso, epoch, line }.Select(r => Assert.Single(r.Lines)).ToList();
        Assert.Equal(["d:0:", "d:1:", "d:0:"], ids.Select(id => id[..4]));

        var all = await cli.RunAsync("delayed", "list", topic);
        Assert.True(all.ExitCode == 0, all.ToString());
        Assert.Equal(["ID", "PARTITION", "DELIVER", "AT"], all.Lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(ids, all.Lines[1..4].Select(l => l.Split(' ')[0])); // delivery order
        Assert.StartsWith("3 pending in partitions 0,1", all.Lines[4], StringComparison.Ordinal);
        Assert.DoesNotContain("more:", all.Stdout, StringComparison.Ordinal);

        var first = await cli.RunAsync("delayed", "ls", topic, "--limit", "2");
        Assert.Equal(ids[..2], first.Lines[1..3].Select(l => l.Split(' ')[0]));
        var more = Assert.Single(first.Lines, l => l.StartsWith("more: --after ", StringComparison.Ordinal));
        var second = await cli.RunAsync("delayed", "list", topic, "--limit", "2", "--after", more["more: --after ".Length..]);
        Assert.Equal([ids[2]], second.Lines[1..^1].Select(l => l.Split(' ')[0]));
        Assert.DoesNotContain("more:", second.Stdout, StringComparison.Ordinal);
        var json = JsonDocument.Parse((await cli.RunAsync("delayed", "list", topic, "--json")).Stdout).RootElement;
        Assert.Equal(3, json.GetProperty("count").GetInt64());

        var cancelled = await cli.RunAsync("delayed", "cancel", topic, ids[0]);
        Assert.True(cancelled.ExitCode == 0, cancelled.ToString());
        Assert.Equal($"cancelled delayed message {ids[0]}", cancelled.Stdout.Trim());
        var again = await cli.RunAsync("delayed", "cancel", topic, ids[0]);
        Assert.Equal(ExitCodesForTests.Refused, again.ExitCode);
        Assert.Contains("409 not-cancellable", again.Stderr, StringComparison.Ordinal);
        var left = await cli.RunAsync("delayed", "list", topic);
        Assert.StartsWith("2 pending", left.Lines[^1], StringComparison.Ordinal);
        Assert.Equal(ids[1..], left.Lines[1..^1].Select(l => l.Split(' ')[0]));

        // Due 3 s after the server got it: consumed with its delayed id, appended no earlier than its time.
        var before = DateTimeOffset.UtcNow;
        var soon = Assert.Single((await cli.RunAsync("produce", topic, "soon", "--deliver-after-ms", "3000")).Lines);
        var consumed = await cli.RunAsync("consume", topic, "-g", "s", "-c", "1", "--consumer", "me");
        Assert.True(consumed.ExitCode == 0, consumed.ToString());
        var message = JsonDocument.Parse(Assert.Single(consumed.Lines)).RootElement;
        Assert.Equal("soon", message.GetProperty("value").GetString());
        Assert.Equal(soon, message.GetProperty("headers").GetProperty("sluice-delay-id").GetString());
        Assert.True(message.GetProperty("publishTime").GetDateTimeOffset() >= before.AddSeconds(3), $"appended at {message.GetProperty("publishTime")}, produced after {before:O}");
    }

    [Fact]
    public async Task BadDeliveryTimes_AreUsageErrorsOrRefusedByTheServer_AndStoreNothing()
    {
        using var cli = fixture.NewCli();
        var topic = CliServer.NewTopic("delayed-bad");
        Assert.Equal(0, (await cli.RunAsync("produce", topic, "plain")).ExitCode);

        foreach (var at in new[] { "tomorrow", "2026-05-01T10:00:00", "99999999999999999" })
        {
            var local = await cli.RunAsync("produce", topic, "x", "--deliver-at", at);
            Assert.True(local.ExitCode == ExitCodesForTests.Usage, local.ToString());
            Assert.Contains("--deliver-at", local.Stderr, StringComparison.Ordinal);
        }

        Assert.Equal(ExitCodesForTests.Usage, (await cli.RunAsync("produce", topic, "x", "--deliver-at", "2030-01-01T00:00:00Z", "--deliver-after-ms", "5")).ExitCode);
        Assert.Equal(ExitCodesForTests.Usage, (await cli.RunAsync("delayed", "list", topic, "--limit", "0")).ExitCode);

        var twoYears = DateTimeOffset.UtcNow.AddYears(2).ToString("O", CultureInfo.InvariantCulture);
        foreach (var args in new[] { new[] { "--deliver-after-ms", "31536000001" }, ["--deliver-at", twoYears] })
        {
            var refused = await cli.RunAsync(["produce", topic, "x", .. args]);
            Assert.True(refused.ExitCode == ExitCodesForTests.Refused, refused.ToString());
            Assert.Contains("400 invalid-parameter", refused.Stderr, StringComparison.Ordinal);
            Assert.Contains("365 days", refused.Stderr, StringComparison.Ordinal);
        }

        var malformed = await cli.RunAsync("delayed", "cancel", topic, "0:1");
        Assert.Equal(ExitCodesForTests.Refused, malformed.ExitCode);
        Assert.Contains("400 invalid-parameter", malformed.Stderr, StringComparison.Ordinal);

        Assert.StartsWith("0 pending", (await cli.RunAsync("delayed", "list", topic)).Lines[^1], StringComparison.Ordinal);
        Assert.Equal(["plain"], (await cli.RunAsync("consume", topic, "-o", "raw")).Lines);
        Assert.Equal(ExitCodesForTests.NotFound, (await cli.RunAsync("delayed", "list", CliServer.NewTopic("never"))).ExitCode);
    }
}
