using System.CommandLine;
using System.Globalization;
using System.Text;
using Sluice.Cli.Connection;
using Sluice.Cli.Output;

namespace Sluice.Cli.Bench;

/// <summary>
/// <c>sluice bench TOPIC</c>: produce N messages (single produce or batches, several requests in flight) while consumers
/// pull and ack them through a fresh subscription; a progress line each second on stderr, then a summary on stdout:
/// msg/s, MB/s, produce request latency and end-to-end latency (produce sent → pulled, one clock: this process's).
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var topic = new Argument<string>("topic") { Description = "tenant/namespace/name (created on first use when the server allows)" };
        var messages = new Option<long>("--messages", "-n") { Description = "How many messages to produce", DefaultValueFactory = _ => 100_000 };
        var size = new Option<int>("--size", "-s") { Description = "Value size in bytes", DefaultValueFactory = _ => 1024 };
        var batch = new Option<int>("--batch", "-b") { Description = "Records per produce request (1: the single-message route)", DefaultValueFactory = _ => 100 };
        var producers = new Option<int>("--producers", "-P") { Description = "Produce requests in flight at once (0: consume only)", DefaultValueFactory = _ => 4 };
        var consumers = new Option<int>("--consumers", "-C") { Description = "Pull loops on the bench subscription (0: produce only)", DefaultValueFactory = _ => 2 };
        var subscription = new Option<string?>("--subscription", "-g") { Description = "Consume this subscription (default: a new one, deleted at the end)" };
        var json = AdminOutput();
        var command = new Command("bench", "Produce and consume load with a progress display and a summary (msg/s, MB/s, latency percentiles)")
        {
            topic, messages, size, batch, producers, consumers, subscription, json,
        };
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            var p = context.Parse;
            var settings = new BenchSettings(p.GetValue(topic)!, p.GetValue(messages), p.GetValue(size), p.GetValue(batch), p.GetValue(producers), p.GetValue(consumers), p.GetValue(subscription));
            settings.Check();
            var run = new BenchRun(context.Client, settings, context.Time, context.Error);
            var result = await run.RunAsync(cancellationToken);
            Print(context.Out, settings, result, p.GetValue(json));
            return result.Consumed < result.ConsumeTarget ? ExitCodes.ServerError : ExitCodes.Ok;
        }, runsUntilStopped: false);
        return command;
    }

    private static Option<bool> AdminOutput() => new("--json") { Description = "Print the summary as JSON" };

    private static void Print(TextWriter output, BenchSettings settings, BenchResult r, bool json)
    {
        var megabytes = (double)settings.Size / (1024 * 1024);
        if (json)
        {
            output.WriteLine(Encoding.UTF8.GetString(JsonOutput.Build(w =>
            {
                w.WriteStartObject();
                w.WriteNumber("messages", settings.Messages);
                w.WriteNumber("size", settings.Size);
                w.WriteNumber("batch", settings.Batch);
                Side(w, "produce", r.Produced, r.ProduceTime, megabytes, r.ProduceLatency);
                Side(w, "consume", r.Consumed, r.ConsumeTime, megabytes, r.EndToEndLatency);
                w.WriteEndObject();
            })));
            return;
        }

        output.WriteLine($"{settings.Messages} messages of {settings.Size} B, batch {settings.Batch}, {settings.Producers} producer(s), {settings.Consumers} consumer(s)");
        var table = new Table("", "MESSAGES", "MSG/S", "MB/S", "P50", "P95", "P99", "MAX", "LATENCY OF");
        Row(table, "produce", r.Produced, r.ProduceTime, megabytes, r.ProduceLatency, "a produce request");
        Row(table, "consume", r.Consumed, r.ConsumeTime, megabytes, r.EndToEndLatency, "produce sent -> pulled");
        table.WriteTo(output);
        if (r.Consumed < r.ConsumeTarget)
        {
            output.WriteLine($"consumed {r.Consumed} of {r.ConsumeTarget}: the rest did not arrive within {BenchRun.IdleLimit.TotalSeconds:0} s");
        }
    }

    private static void Row(Table table, string name, long count, TimeSpan time, double megabytes, LatencyHistogram latency, string what)
    {
        if (count == 0)
        {
            return;
        }

        var rate = count / Math.Max(time.TotalSeconds, 1e-9);
        table.Add(name, count, Math.Round(rate), Math.Round(rate * megabytes, 1), Ms(latency.Percentile(50)), Ms(latency.Percentile(95)), Ms(latency.Percentile(99)), Ms(latency.Max), what);
    }

    private static void Side(System.Text.Json.Utf8JsonWriter w, string name, long count, TimeSpan time, double megabytes, LatencyHistogram latency)
    {
        var rate = count / Math.Max(time.TotalSeconds, 1e-9);
        w.WriteStartObject(name);
        w.WriteNumber("messages", count);
        w.WriteNumber("seconds", Math.Round(time.TotalSeconds, 3));
        w.WriteNumber("messagesPerSecond", Math.Round(rate, 1));
        w.WriteNumber("megabytesPerSecond", Math.Round(rate * megabytes, 3));
        w.WriteNumber("p50Ms", Math.Round(latency.Percentile(50).TotalMilliseconds, 3));
        w.WriteNumber("p95Ms", Math.Round(latency.Percentile(95).TotalMilliseconds, 3));
        w.WriteNumber("p99Ms", Math.Round(latency.Percentile(99).TotalMilliseconds, 3));
        w.WriteNumber("maxMs", Math.Round(latency.Max.TotalMilliseconds, 3));
        w.WriteEndObject();
    }

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString(t.TotalMilliseconds < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture) + " ms";
}
