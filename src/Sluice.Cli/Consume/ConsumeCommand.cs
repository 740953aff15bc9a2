using System.CommandLine;

namespace Sluice.Cli.Consume;

/// <summary>
/// <c>sluice consume TOPIC</c>: with <c>-g SUBSCRIPTION</c>, consume through it (pull and ack, or SSE); without, read
/// the topic from <c>--from</c> to its end (or on, with <c>--follow</c>) without a subscription.
/// <c>sluice tail TOPIC</c>: follow new messages, optionally showing the last few of each partition first.
/// </summary>
internal static class ConsumeCommand
{
    public static Command CreateConsume()
    {
        var topic = new Argument<string>("topic") { Description = "tenant/namespace/name" };
        var subscription = new Option<string?>("--subscription", "-g") { Description = "Consume through this subscription (pull + ack); without: read the topic, nothing acked" };
        var from = new Option<string?>("--from") { Description = "Where to start: " + StartPosition.Help + ". Without -g: default earliest; with -g: used when the subscription is created (default latest)" };
        var type = new Option<string?>("--type") { Description = "Type of a subscription created here (default shared)" };
        type.AcceptOnlyFromAmong("exclusive", "failover", "shared", "key_shared");
        var count = new Option<long?>("--count", "-c") { Description = "Stop after this many messages" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Without -g: keep reading new messages after the end (SSE), until Ctrl+C" };
        var exitOnEmpty = new Option<bool>("--exit-on-empty", "-e") { Description = "With -g: stop when a pull finds nothing within --wait-ms" };
        var max = new Option<int>("--max") { Description = "With -g: most messages per pull (1 to 1000)", DefaultValueFactory = _ => 100 };
        var waitMs = new Option<int>("--wait-ms") { Description = "With -g: how long a pull waits for messages (0 to 60000)", DefaultValueFactory = _ => 5000 };
        var noAck = new Option<bool>("--no-ack") { Description = "With -g: do not ack (the messages are delivered again after the ack deadline)" };
        var consumer = new Option<string?>("--consumer") { Description = "With -g: the consumer id (default: a new one per run)" };
        var via = new Option<string>("--via") { Description = "With -g: pull (long-poll, ack after printing) or sse (a stream, acked by the server as sent)", DefaultValueFactory = _ => "pull" };
        via.AcceptOnlyFromAmong("pull", "sse");
        var (format, delimiter) = OutputOptions();

        var command = new Command("consume", "Consume a topic: through a subscription with acks (-g), or read it from a position (no subscription)")
        {
            topic, subscription, from, type, count, follow, exitOnEmpty, max, waitMs, noAck, consumer, via, format, delimiter,
        };
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            var p = context.Parse;
            var printer = new MessagePrinter(context, p.GetValue(format) == "raw", Unescape(p.GetValue(delimiter)!));
            var start = p.GetValue(from) is { } f ? StartPosition.Parse(f, context.Time, "--from") : null;
            var limit = p.GetValue(count);
            if (limit is < 1)
            {
                throw CliException.Usage("--count must be 1 or more");
            }

            if (p.GetValue(subscription) is not { } name)
            {
                if (p.GetValue(type) is not null || p.GetValue(exitOnEmpty) || p.GetValue(noAck) || p.GetValue(consumer) is not null || p.GetResult(via) is { Implicit: false })
                {
                    throw CliException.Usage("--type, --exit-on-empty, --no-ack, --consumer and --via apply to a subscription: add -g NAME");
                }

                await new ReplayReader(context.Client, p.GetValue(topic)!, printer).RunAsync(start ?? StartPosition.Earliest, null, p.GetValue(follow), limit, cancellationToken);
                return ExitCodes.Ok;
            }

            if (p.GetValue(follow))
            {
                throw CliException.Usage("--follow reads without a subscription; with -g, consume keeps pulling until Ctrl+C (or --count, --exit-on-empty)");
            }

            if (p.GetValue(max) is < 1 or > 1000 || p.GetValue(waitMs) is < 0 or > 60_000)
            {
                throw CliException.Usage("--max must be 1 to 1000 and --wait-ms 0 to 60000");
            }

            var consumerId = p.GetValue(consumer) ?? "cli-" + Guid.NewGuid().ToString("N")[..12];
            var reader = new SubscriptionConsumer(context.Client, p.GetValue(topic)!, name, consumerId, printer, context.Error);
            await reader.EnsureAsync(p.GetValue(type), start, cancellationToken);
            if (p.GetValue(via) == "sse")
            {
                await reader.StreamAsync(limit, !p.GetValue(noAck), cancellationToken);
            }
            else
            {
                await reader.PullAsync(p.GetValue(max), p.GetValue(waitMs), limit, p.GetValue(exitOnEmpty), !p.GetValue(noAck), cancellationToken);
            }

            return ExitCodes.Ok;
        }, runsUntilStopped: true);
        return command;
    }

    public static Command CreateTail()
    {
        var topic = new Argument<string>("topic") { Description = "tenant/namespace/name" };
        var lines = new Option<long?>("--lines", "-n") { Description = "First show the last N messages of each partition" };
        var from = new Option<string?>("--from") { Description = "Start here instead of the end: " + StartPosition.Help };
        var count = new Option<long?>("--count", "-c") { Description = "Stop after this many messages" };
        var (format, delimiter) = OutputOptions();
        var command = new Command("tail", "Follow a topic's new messages (SSE, no subscription) until Ctrl+C")
        {
            topic, lines, from, count, format, delimiter,
        };
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            var p = context.Parse;
            if (p.GetValue(lines) is not null && p.GetValue(from) is not null)
            {
                throw CliException.Usage("give --lines or --from, not both");
            }

            if (p.GetValue(lines) is < 0 || p.GetValue(count) is < 1)
            {
                throw CliException.Usage("--lines must be 0 or more and --count 1 or more");
            }

            var printer = new MessagePrinter(context, p.GetValue(format) == "raw", Unescape(p.GetValue(delimiter)!));
            var start = p.GetValue(from) is { } f ? StartPosition.Parse(f, context.Time, "--from") : StartPosition.Latest;
            await new ReplayReader(context.Client, p.GetValue(topic)!, printer).RunAsync(start, p.GetValue(lines), follow: true, p.GetValue(count), cancellationToken);
            return ExitCodes.Ok;
        }, runsUntilStopped: true);
        return command;
    }

    private static (Option<string> Format, Option<string> Delimiter) OutputOptions()
    {
        var format = new Option<string>("--format", "-o") { Description = MessagePrinter.FormatHelp, DefaultValueFactory = _ => "json" };
        format.AcceptOnlyFromAmong("json", "raw");
        var delimiter = new Option<string>("--delimiter") { Description = "raw: written after each value (\\n, \\t, \\0 understood)", DefaultValueFactory = _ => "\\n" };
        return (format, delimiter);
    }

    private static string Unescape(string s) => s.Replace("\\n", "\n", StringComparison.Ordinal).Replace("\\t", "\t", StringComparison.Ordinal)
        .Replace("\\0", "\0", StringComparison.Ordinal).Replace("\\r", "\r", StringComparison.Ordinal);
}
