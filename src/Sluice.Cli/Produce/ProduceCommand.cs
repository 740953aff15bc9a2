using System.CommandLine;
using System.Text;
using System.Text.Json;
using Sluice.Cli.Output;

namespace Sluice.Cli.Produce;

/// <summary>
/// <c>sluice produce TOPIC [VALUE...]</c>: values from the arguments, from files (one message each) or from stdin (one
/// message per line), always through the batch route, so headers and binary values travel as JSON and a pipe of lines
/// becomes few requests. Prints each message's id (<c>partition:offset</c>; a delayed message's <c>d:...</c>) in input order.
/// </summary>
internal static class ProduceCommand
{
    private static readonly Argument<string> Topic = new("topic") { Description = "tenant/namespace/name" };
    private static readonly Argument<string[]> Values = new("value") { Description = "Message values; none: read stdin (or --file)", Arity = ArgumentArity.ZeroOrMore };
    private static readonly Option<string?> Key = new("--key", "-k") { Description = "The key of every message (text mode)" };
    private static readonly Option<string[]> Headers = new("--header", "-H") { Description = "A message header, name=value (repeat for more)", HelpName = "name=value" };
    private static readonly Option<int?> Partition = new("--partition", "-p") { Description = "The partition (default: by key hash, else round-robin)" };
    private static readonly Option<string[]> Files = new("--file", "-f") { Description = "A file whose bytes are one message (repeat for more)", HelpName = "path" };
    private static readonly Option<string?> ContentType = new("--content-type") { Description = "Sets header content-type on every message" };
    private static readonly Option<string?> KeySeparator = new("--key-separator", "-K") { Description = "stdin lines are KEY<separator>VALUE (kcat's -K)", HelpName = "separator" };
    private static readonly Option<string> LineFormat = new("--line-format") { Description = "stdin lines are message values (text) or batch records {\"key\",\"value\" or \"valueBase64\",\"headers\",\"partition\",\"deliverAt\" or \"deliverAfterMs\"} (json)", DefaultValueFactory = _ => "text" };
    private static readonly Option<string?> DeliverAt = new("--deliver-at") { Description = "Deliver no earlier than this time (ISO-8601 with a zone, or epoch ms): a delayed message, printed with its delayed id (d:...)", HelpName = "time" };
    private static readonly Option<long?> DeliverAfterMs = new("--deliver-after-ms") { Description = "Deliver this many milliseconds from now: a delayed message", HelpName = "ms" };
    private static readonly Option<int> BatchSize = new("--batch-size") { Description = "Most records per batch request", DefaultValueFactory = _ => 1000 };
    private static readonly Option<int> BatchBytes = new("--batch-bytes") { Description = "Most bytes per batch request (keep under the server's maxBatchBytes)", DefaultValueFactory = _ => 4 * 1024 * 1024 };
    private static readonly Option<int> LingerMs = new("--linger-ms") { Description = "How long a batch waits for more stdin lines before it is sent", DefaultValueFactory = _ => 50 };
    private static readonly Option<bool> Quiet = new("--quiet", "-q") { Description = "Do not print the ids of produced messages" };

    public static Command Create()
    {
        LineFormat.AcceptOnlyFromAmong("text", "json");
        var command = new Command("produce", "Publish messages from arguments, files or stdin lines")
        {
            Topic, Values, Key, Headers, Partition, Files, ContentType, KeySeparator, LineFormat, DeliverAt, DeliverAfterMs, BatchSize, BatchBytes, LingerMs, Quiet,
        };
        CommandAction.Set(command, RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(CliContext context, CancellationToken cancellationToken)
    {
        var parse = context.Parse;
        var topic = parse.GetValue(Topic)!;
        var values = parse.GetValue(Values) ?? [];
        var files = parse.GetValue(Files) ?? [];
        var json = parse.GetValue(LineFormat) == "json";
        var settings = new RecordSettings(
            parse.GetValue(Key),
            ParseHeaders(parse.GetValue(Headers) ?? [], parse.GetValue(ContentType)),
            parse.GetValue(Partition),
            ParseDeliverAt(parse.GetValue(DeliverAt)),
            parse.GetValue(DeliverAfterMs));
        var separator = parse.GetValue(KeySeparator);
        if (values.FirstOrDefault(v => v.StartsWith("--", StringComparison.Ordinal)) is { } unknown)
        {
            // An unknown option would otherwise be produced as a value; a value starting with -- can come from stdin.
            throw CliException.Usage($"unknown option '{unknown}' (run 'sluice produce --help'; a value starting with -- can be given on stdin)");
        }

        CheckRanges(parse, settings, json, separator, values.Length + files.Length > 0);

        var batcher = new RecordBatcher(context.Client, topic, parse.GetValue(BatchSize), parse.GetValue(BatchBytes), TimeSpan.FromMilliseconds(parse.GetValue(LingerMs)), context.Time);
        var quiet = parse.GetValue(Quiet);
        var fill = Task.Run(() => FillAsync(batcher, context, values, files, settings, json, separator, cancellationToken), cancellationToken);
        var sending = batcher.RunAsync(
            async results =>
            {
                if (!quiet)
                {
                    foreach (var result in results.EnumerateArray())
                    {
                        await context.Out.WriteLineAsync(result.GetProperty("id").GetString());
                    }

                    await context.Out.FlushAsync(cancellationToken);
                }
            },
            cancellationToken);

        try
        {
            await sending;
        }
        catch (CliException) when (fill.IsFaulted)
        {
            // The input failed first (a bad line): that is the error to report.
        }

        await fill;
        return ExitCodes.Ok;
    }

    private static async Task FillAsync(RecordBatcher batcher, CliContext context, string[] values, string[] files, RecordSettings settings, bool json, string? separator, CancellationToken cancellationToken)
    {
        var writer = batcher.Writer;
        try
        {
            foreach (var value in values)
            {
                await writer.WriteAsync(Record(settings, settings.Key, text: value, bytes: null), cancellationToken);
            }

            foreach (var file in files)
            {
                byte[] bytes;
                try
                {
                    bytes = await File.ReadAllBytesAsync(file, cancellationToken);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    throw CliException.Usage($"cannot read {file}: {ex.Message}");
                }

                await writer.WriteAsync(Record(settings, settings.Key, text: null, bytes), cancellationToken);
            }

            if (values.Length == 0 && files.Length == 0)
            {
                if (!Console.IsInputRedirected)
                {
                    await context.Error.WriteLineAsync("sluice: reading messages from stdin, one per line; Ctrl+D ends");
                }

                using var stdin = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false), detectEncodingFromByteOrderMarks: false, 64 * 1024);
                var number = 0;
                while (await stdin.ReadLineAsync(cancellationToken) is { } line)
                {
                    number++;
                    if (line.Length == 0)
                    {
                        continue;
                    }

                    await writer.WriteAsync(json ? JsonRecord(line, number) : TextRecord(settings, line, separator, number), cancellationToken);
                }
            }

            writer.Complete();
        }
        catch (Exception ex)
        {
            writer.Complete(ex);
            throw;
        }
    }

    private static byte[] TextRecord(RecordSettings settings, string line, string? separator, int number)
    {
        if (separator is null)
        {
            return Record(settings, settings.Key, line, null);
        }

        var at = line.IndexOf(separator, StringComparison.Ordinal);
        if (at < 0)
        {
            throw CliException.Usage($"stdin line {number} has no key separator '{separator}' (expected KEY{separator}VALUE); the lines before it were produced");
        }

        return Record(settings, line[..at], line[(at + separator.Length)..], null);
    }

    private static byte[] JsonRecord(string line, int number)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new JsonException("not an object");
            }

            return JsonOutput.Build(w => doc.RootElement.WriteTo(w));
        }
        catch (JsonException ex)
        {
            throw CliException.Usage($"stdin line {number} is not a JSON record object ({ex.Message}); the lines before it were produced");
        }
    }

    private static byte[] Record(RecordSettings settings, string? key, string? text, byte[]? bytes) => JsonOutput.Build(w =>
    {
        w.WriteStartObject();
        if (key is not null)
        {
            w.WriteString("key", key);
        }

        if (bytes is not null)
        {
            w.WriteBase64String("valueBase64", bytes);
        }
        else
        {
            w.WriteString("value", text);
        }

        if (settings.Headers.Count > 0)
        {
            w.WriteStartObject("headers");
            foreach (var (name, value) in settings.Headers)
            {
                w.WriteString(name, value);
            }

            w.WriteEndObject();
        }

        w.WriteIfGiven("partition", settings.Partition);
        w.WriteIfGiven("deliverAt", settings.DeliverAt);
        w.WriteIfGiven("deliverAfterMs", settings.DeliverAfterMs);

        w.WriteEndObject();
    });

    private static void CheckRanges(ParseResult parse, RecordSettings settings, bool json, string? separator, bool fromArguments)
    {
        if (parse.GetValue(BatchSize) is < 1 or > 10_000)
        {
            throw CliException.Usage("--batch-size must be 1 to 10000 (the batch route's limit)");
        }

        if (parse.GetValue(BatchBytes) < 1024)
        {
            throw CliException.Usage("--batch-bytes must be at least 1024");
        }

        if (parse.GetValue(LingerMs) is < 0 or > 60_000)
        {
            throw CliException.Usage("--linger-ms must be 0 to 60000");
        }

        if (settings.Partition is < 0)
        {
            throw CliException.Usage("--partition must be 0 or more");
        }

        if (settings.DeliverAt is not null && settings.DeliverAfterMs is not null)
        {
            throw CliException.Usage("give --deliver-at or --deliver-after-ms, not both");
        }

        if (settings.DeliverAfterMs is < 0)
        {
            throw CliException.Usage("--deliver-after-ms must be 0 or more");
        }

        if (json && (fromArguments || settings.Key is not null || settings.Headers.Count > 0 || settings.Partition is not null || separator is not null
            || settings.DeliverAt is not null || settings.DeliverAfterMs is not null))
        {
            throw CliException.Usage("--line-format json reads whole records from stdin: put key, headers, partition and delivery time in each record, not in flags or arguments");
        }

        if (separator is not null && (fromArguments || settings.Key is not null))
        {
            throw CliException.Usage("--key-separator splits stdin lines: it cannot be combined with --key or with values from arguments or files");
        }

        if (separator is "")
        {
            throw CliException.Usage("--key-separator must not be empty");
        }
    }

    private static Dictionary<string, string> ParseHeaders(string[] headers, string? contentType)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var header in headers)
        {
            var eq = header.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw CliException.Usage($"--header '{header}' must be name=value");
            }

            // Headers travel as JSON in the batch route: any name the server takes, not only HTTP header tokens.
            result[header[..eq]] = header[(eq + 1)..];
        }

        if (contentType is not null)
        {
            result["content-type"] = contentType;
        }

        return result;
    }

    // Checked here for a usage error before anything is sent; the server checks the range (a year at most).
    private static string? ParseDeliverAt(string? value)
    {
        if (value is null)
        {
            return null;
        }

        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        if (long.TryParse(value, System.Globalization.NumberStyles.None, invariant, out var ms))
        {
            return ms <= DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()
                ? DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("O", invariant)
                : throw CliException.Usage($"--deliver-at {value} is past the year 9999 in epoch milliseconds");
        }

        // A time without a zone would be read in some zone or other: the server refuses to guess, and so does the CLI.
        return DateTime.TryParse(value, invariant, System.Globalization.DateTimeStyles.RoundtripKind, out var time) && time.Kind != DateTimeKind.Unspecified
            ? DateTimeOffset.Parse(value, invariant, System.Globalization.DateTimeStyles.RoundtripKind).ToString("O", invariant)
            : throw CliException.Usage($"--deliver-at '{value}' is not a time with a zone: ISO-8601 (2026-01-01T12:00:00Z, 2026-01-01T14:00:00+02:00) or epoch milliseconds");
    }

    private sealed record RecordSettings(string? Key, Dictionary<string, string> Headers, int? Partition, string? DeliverAt, long? DeliverAfterMs);
}
