using System.Text.Json;
using Sluice.Cli.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary>Produce and consume round trips through the real `sluice` binary against the real server.</summary>
public sealed class ProduceConsumeTests(CliServer fixture) : IClassFixture<CliServer>
{
    [Fact]
    public async Task Produce_ArgumentsWithKeyAndHeaders_ConsumeReadsThemBackWithAll()
    {
        using var cli = fixture.NewCli();
        var topic = CliServer.NewTopic();

        var produced = await cli.RunAsync("produce", topic, "one", "zwei", "trois", "-k", "order-1", "-H", "trace=abc", "-H", "région=é");
        Assert.True(produced.ExitCode == 0, produced.ToString());
        Assert.Equal(3, produced.Lines.Length);

        var consumed = await cli.RunAsync("consume", topic);
        Assert.True(consumed.ExitCode == 0, consumed.ToString());
        var messages = consumed.Lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["one", "zwei", "trois"], messages.Select(m => m.GetProperty("value").GetString()));
        Assert.All(messages, m => Assert.Equal("order-1", m.GetProperty("key").GetString()));
        Assert.All(messages, m => Assert.Equal("abc", m.GetProperty("headers").GetProperty("trace").GetString()));
        Assert.All(messages, m => Assert.Equal("é", m.GetProperty("headers").GetProperty("région").GetString()));

        // The ids produce printed are the messages' ids, in order.
        Assert.Equal(produced.Lines, messages.Select(m => m.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task Produce_ManyStdinLines_AreBatchedAndReadBackInOrder()
    {
        using var cli = fixture.NewCli();
        var topic = CliServer.NewTopic();
        var lines = Enumerable.Range(0, 2500).Select(i => $"line-{i}").ToList();

        var produced = await cli.RunAsync(["produce", topic, "-p", "0", "--batch-size", "1000"], string.Join('\n', lines) + "\n");
        Assert.True(produced.ExitCode == 0, produced.ToString());
        Assert.Equal(Enumerable.Range(0, 2500).Select(i => $"0:{i}"), produced.Lines);

        var consumed = await cli.RunAsync("consume", topic, "-o", "raw");
        Assert.True(consumed.ExitCode == 0, consumed.ToString());
        Assert.Equal(lines, consumed.Lines);
    }

    [Fact]
    public async Task Produce_KeySeparator_SplitsEachLineIntoKeyAndValue()
    {
        using var cli = fixture.NewCli();
        var topic = CliServer.NewTopic();

        var produced = await cli.RunAsync(["produce", topic, "-K", ":"], "k1:v1\nk2:v:2\n");
        Assert.True(produced.ExitCode == 0, produced.ToString());

        var consumed = await cli.RunAsync("consume", topic);
        var pairs = consumed.Lines.Select(l => JsonDocument.Parse(l).RootElement)
            .Select(m => (m.GetProperty("key").GetString(), m.GetProperty("value").GetString())).OrderBy(p => p.Item1).ToList();
        Assert.Equal([("k1", "v1"), ("k2", "v:2")], pairs);
    }

    [Fact]
    public async Task Produce_JsonLineFormat_SendsRecordsAsTheyAre()
    {
        using var cli = fixture.NewCli();
        var topic = CliServer.NewTopic();

        var produced = await cli.RunAsync(["produce", topic, "--line-format", "json"], "{\"key\":\"a\",\"valueBase64\":\"AAEC\",\"headers\":{\"h\":\"v\"},\"partition\":1}\n");
        Assert.True(produced.ExitCode == 0, produced.ToString());
        Assert.Equal(["1:0"], produced.Lines);

        var consumed = await cli.RunAsync("consume", topic, "-o", "raw", "--delimiter", "");
        Assert.Equal(new byte[] { 0, 1, 2 }, consumed.StdoutBytes);
    }

    [Fact]
    public async Task Produce_File_StoresItsExactBytes_RawOutputWritesThemBack()
    {
        using var cli = fixture.NewCli();
        var topic = CliServer.NewTopic();
        var bytes = new byte[5000];
        new Random(7).NextBytes(bytes);
        var file = Path.Combine(cli.Home, "blob.bin");
        await File.WriteAllBytesAsync(file, bytes);

        var produced = await cli.RunAsync("produce", topic, "-f", file, "--content-type", "application/octet-stream", "-q");
        Assert.True(produced.ExitCode == 0, produced.ToString());
        Assert.Equal("", produced.Stdout);

        var raw = await cli.RunAsync("consume", topic, "-o", "raw", "--delimiter", "");
        Assert.Equal(bytes, raw.StdoutBytes);
        var json = JsonDocument.Parse((await cli.RunAsync("consume", topic)).Lines.Single()).RootElement;
        Assert.Equal("base64", json.GetProperty("valueEncoding").GetString());
        Assert.Equal("application/octet-stream", json.GetProperty("headers").GetProperty("content-type").GetString());
    }

    [Fact]
    public async Task Consume_WithSubscription_AcksWhatItPrinted_SoTheNextRunGetsNothing()
    {
        using var cli = fixture.NewCli();
        var topic = CliServer.NewTopic();
        await cli.RunAsync("produce", topic, "a", "b", "c", "d", "e", "-p", "0");

        var first = await cli.RunAsync("consume", topic, "-g", "workers", "--from", "earliest", "-c", "5");
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal(["a", "b", "c", "d", "e"], first.Lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("value").GetString()));

        var described = await cli.RunAsync("subscriptions", "describe", topic, "workers", "--json");
        var lag = JsonDocument.Parse(described.Stdout).RootElement.GetProperty("partitions").EnumerateArray().Sum(p => p.GetProperty("lag").GetInt64());
        Assert.Equal(0, lag);

        var second = await cli.RunAsync("consume", topic, "-g", "workers", "-e", "--wait-ms", "200");
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Equal("", second.Stdout);
    }

    [Fact]
    public async Task Consume_NoAck_LeavesMessagesInFlight()
    {
        using var cli = fixture.NewCli();
        var topic = CliServer.NewTopic();
        await cli.RunAsync("produce", topic, "x", "y", "-p", "0");

        var consumed = await cli.RunAsync("consume", topic, "-g", "s", "--from", "earliest", "-c", "2", "--no-ack");
        Assert.True(consumed.ExitCode == 0, consumed.ToString());

        var described = JsonDocument.Parse((await cli.RunAsync("subscriptions", "describe", topic, "s", "--json")).Stdout).RootElement;
        Assert.Equal(2, described.GetProperty("inFlight").GetInt32());
    }

    [Fact]
    public async Task Consume_ViaSse_PrintsMessagesAndTheServerAcksThem()
    {
        using var cli = fixture.NewCli();
        var topic = CliServer.NewTopic();
        await cli.RunAsync("produce", topic, "s1", "s2", "s3", "-p", "0");

        var consumed = await cli.RunAsync("consume", topic, "-g", "sse", "--from", "earliest", "--via", "sse", "-c", "3");
        Assert.True(consumed.ExitCode == 0, consumed.ToString());
        Assert.Equal(["s1", "s2", "s3"], consumed.Lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("value").GetString()));

        // Automatic acks reach the cursor at once (their disk write follows within 200 ms): nothing is left to pull.
        var again = await cli.RunAsync("consume", topic, "-g", "sse", "-e", "--wait-ms", "200");
        Assert.Equal("", again.Stdout);
    }

    [Fact]
    public async Task Consume_FromOffsetAndFromTime_StartWhereAsked()
    {
        using var cli = fixture.NewCli();
        var topic = CliServer.NewTopic();
        await cli.RunAsync("produce", topic, "m0", "m1", "m2", "m3", "-p", "0");

        var fromOffset = await cli.RunAsync("consume", topic, "--from", "2", "-o", "raw");
        Assert.Equal(["m2", "m3"], fromOffset.Lines);
        var fromPartitionOffset = await cli.RunAsync("consume", topic, "--from", "0:3", "-o", "raw");
        Assert.Equal(["m3"], fromPartitionOffset.Lines);
        var fromAnHourAgo = await cli.RunAsync("consume", topic, "--from", "1h", "-o", "raw");
        Assert.Equal(["m0", "m1", "m2", "m3"], fromAnHourAgo.Lines);
        var fromTheFuture = await cli.RunAsync("consume", topic, "--from", "2999-01-01T00:00:00Z", "-o", "raw");
        Assert.True(fromTheFuture.ExitCode == 0, fromTheFuture.ToString());
        Assert.Equal("", fromTheFuture.Stdout);
        var latest = await cli.RunAsync("consume", topic, "--from", "latest");
        Assert.Equal("", latest.Stdout);
    }

    [Fact]
    public async Task Tail_ShowsTheLastMessagesThenFollowsNewOnes()
    {
        using var cli = fixture.NewCli();
        var topic = CliServer.NewTopic();
        await cli.RunAsync("produce", topic, "old1", "old2", "-p", "0");

        using var tail = cli.Start(["tail", topic, "-n", "1", "-c", "3", "-o", "raw"]);
        var first = await tail.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal("old2", first);

        // The stream is open (it delivered old2): what is produced now arrives through it.
        await cli.RunAsync("produce", topic, "new1", "new2", "-p", "0");
        var rest = await tail.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromMinutes(1));
        await tail.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(0, tail.ExitCode);
        Assert.Equal(["new1", "new2"], rest.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Bench_SmallRun_ProducesAndConsumesEveryMessage_AndSummarises()
    {
        using var cli = fixture.NewCli();
        var topic = CliServer.NewTopic("bench");

        var bench = await cli.RunAsync("bench", topic, "-n", "600", "-s", "100", "-b", "50", "-P", "2", "-C", "2", "--json");
        Assert.True(bench.ExitCode == 0, bench.ToString());
        var summary = JsonDocument.Parse(bench.Stdout).RootElement;
        Assert.Equal(600, summary.GetProperty("produce").GetProperty("messages").GetInt64());
        Assert.Equal(600, summary.GetProperty("consume").GetProperty("messages").GetInt64());
        Assert.True(summary.GetProperty("produce").GetProperty("messagesPerSecond").GetDouble() > 0);
        Assert.True(summary.GetProperty("consume").GetProperty("p99Ms").GetDouble() >= summary.GetProperty("consume").GetProperty("p50Ms").GetDouble());
        Assert.Contains("produced", bench.Stderr, StringComparison.Ordinal); // the progress line

        // The bench's own subscription is gone; the topic holds the 600 messages.
        var subscriptions = await cli.RunAsync("subscriptions", "list", topic);
        Assert.Equal("", subscriptions.Stdout);
        var described = JsonDocument.Parse((await cli.RunAsync("topics", "describe", topic, "--json")).Stdout).RootElement;
        Assert.Equal(600, described.GetProperty("partitions").EnumerateArray().Sum(p => p.GetProperty("endOffset").GetInt64()));
    }

    [Fact]
    public async Task Bench_SingleMessageRoute_CountsEveryMessage()
    {
        using var cli = fixture.NewCli();
        var bench = await cli.RunAsync("bench", CliServer.NewTopic("bench1"), "-n", "40", "-b", "1", "-P", "2", "-C", "1");
        Assert.True(bench.ExitCode == 0, bench.ToString());
        Assert.Matches(@"produce\s+40\s", bench.Stdout);
        Assert.Matches(@"consume\s+40\s", bench.Stdout);
    }

    [Fact]
    public async Task Consume_IntoAPipeClosedEarly_StopsQuietly()
    {
        // `sluice consume ... | head -1`: the reader goes away after one line, with far more than a pipe buffer to come.
        using var cli = fixture.NewCli();
        var topic = CliServer.NewTopic();
        var filler = new string('x', 1000);
        await cli.RunAsync(["produce", topic, "-p", "0"], string.Concat(Enumerable.Range(0, 500).Select(i => $"{i}{filler}\n")));
        var info = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"set -o pipefail; SLUICE_SERVER={fixture.Address} dotnet '{Repository.CliDll}' consume {topic} -o raw | head -1");
        using var process = System.Diagnostics.Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal("0" + filler + "\n", output);
        Assert.Equal(0, process.ExitCode);
    }
}
