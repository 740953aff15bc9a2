using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Sluice.Cli.Connection;

namespace Sluice.Cli.Consume;

/// <summary>
/// Reads a topic without a subscription (the replay route): every partition from a start position to the end it had
/// when the read began, or, following, each partition's SSE stream, which goes on with new messages as they arrive.
/// Nothing is leased or acked.
/// </summary>
internal sealed class ReplayReader(SluiceClient client, string topic, MessagePrinter printer)
{
    private const int PageSize = 1000;
    private long _printed;

    /// <summary>Reads until the end (or forever when following), or until <paramref name="count"/> messages were printed.</summary>
    public async Task RunAsync(StartPosition start, long? lastPerPartition, bool follow, long? count, CancellationToken cancellationToken)
    {
        using var described = await client.SendAsync(HttpMethod.Get, Routes.Topic(topic), null, cancellationToken);
        var partitions = described!.RootElement.GetProperty("partitions").EnumerateArray()
            .Select(p => (Partition: p.GetProperty("partition").GetInt32(), Start: p.GetProperty("startOffset").GetInt64(), End: p.GetProperty("endOffset").GetInt64()))
            .ToList();
        if (start is { Kind: "offset", Partition: { } only })
        {
            partitions = [.. partitions.Where(p => p.Partition == only)];
            if (partitions.Count == 0)
            {
                throw new CliException(ExitCodes.NotFound, $"partition {only} does not exist; the topic has {described.RootElement.GetProperty("partitions").GetArrayLength()}");
            }
        }

        using var done = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var starts = partitions.Select(p =>
        (
            p.Partition,
            p.End,
            // An offset outside [start, end] is clamped rather than refused: "from 100" on a partition holding 40 reads nothing.
            From: lastPerPartition is { } last ? Offset(Math.Max(p.Start, p.End - last))
                : start.Kind switch
                {
                    "earliest" => Offset(p.Start),
                    "latest" => Offset(p.End),
                    "offset" => Offset(Math.Clamp(start.Offset, p.Start, p.End)),
                    _ => "from=" + Uri.EscapeDataString(start.Time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)),
                })).ToList();

        if (follow)
        {
            // All partitions at once, so a quiet partition does not hold the others back.
            await Task.WhenAll(starts.Select(p => FollowAsync(p.Partition, p.From, count, done)));
            return;
        }

        // To the end, one partition after the other, so the output is in partition order.
        foreach (var p in starts)
        {
            await ReadToEndAsync(p.Partition, p.From, p.End, count, done.Token);
        }
    }

    private static string Offset(long offset) => "offset=" + offset.ToString(CultureInfo.InvariantCulture);

    private async Task ReadToEndAsync(int partition, string from, long end, long? count, CancellationToken cancellationToken)
    {
        var position = from;
        while (true)
        {
            var max = count is { } c ? (int)Math.Min(PageSize, c - Interlocked.Read(ref _printed)) : PageSize;
            if (max <= 0)
            {
                return;
            }

            using var page = await client.SendAsync(HttpMethod.Get, $"{Routes.Topic(topic)}/messages?partition={partition}&{position}&max={max}", null, cancellationToken);
            var root = page!.RootElement;
            var messages = root.GetProperty("messages");
            foreach (var message in messages.EnumerateArray())
            {
                printer.Print(message);
                Interlocked.Increment(ref _printed);
            }

            printer.Flush();
            var next = root.GetProperty("nextOffset").GetInt64();
            if (messages.GetArrayLength() == 0 || next >= end)
            {
                return;
            }

            position = Offset(next);
        }
    }

    private async Task FollowAsync(int partition, string from, long? count, CancellationTokenSource done)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{Routes.Topic(topic)}/messages?partition={partition}&{from}");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        try
        {
            using var response = await client.OpenStreamAsync(request, done.Token);
            await using var body = await response.Content.ReadAsStreamAsync(done.Token);
            await foreach (var data in SseReader.ReadMessagesAsync(body, done.Token))
            {
                using var message = JsonDocument.Parse(data);
                if (count is { } c && Interlocked.Increment(ref _printed) > c)
                {
                    return; // another partition printed the last one wanted
                }

                printer.Print(message.RootElement);
                printer.Flush();
                if (count is { } limit && Interlocked.Read(ref _printed) >= limit)
                {
                    await done.CancelAsync();
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (done.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            await done.CancelAsync(); // the other partitions' streams end too: the command fails as a whole
            throw new CliException(ExitCodes.Unavailable, $"the stream of partition {partition} broke: {ex.Message}");
        }
        catch
        {
            await done.CancelAsync();
            throw;
        }

        if (!done.IsCancellationRequested)
        {
            await done.CancelAsync();
            throw new CliException(ExitCodes.Unavailable, $"the server ended the stream of partition {partition} (shutting down?)");
        }
    }
}
