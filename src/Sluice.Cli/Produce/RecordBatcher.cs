using System.Text.Json;
using System.Threading.Channels;
using Sluice.Cli.Connection;

namespace Sluice.Cli.Produce;

/// <summary>
/// Sends records (each one JSON object of the batch route) in batches, one request at a time so order is kept:
/// <code>
///   source ──► bounded channel ──► batch: up to maxRecords / maxBytes, or what came within linger ──► POST .../batch
/// </code>
/// Linger makes an interactive `produce` send each line at once when typed slowly, and a pipe fill whole batches.
/// </summary>
internal sealed class RecordBatcher(SluiceClient client, string topic, int maxRecords, int maxBytes, TimeSpan linger, TimeProvider time)
{
    private readonly Channel<byte[]> _records = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(Math.Max(maxRecords * 2, 16))
    {
        SingleReader = true,
        SingleWriter = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    public ChannelWriter<byte[]> Writer => _records.Writer;

    /// <summary>Sends until the writer completes; calls <paramref name="sent"/> with each batch's results (ids in order).</summary>
    public async Task<long> RunAsync(Func<JsonElement, Task> sent, CancellationToken cancellationToken)
    {
        var reader = _records.Reader;
        var batch = new List<byte[]>(maxRecords);
        long total = 0;
        while (await reader.WaitToReadAsync(cancellationToken))
        {
            var bytes = 0;
            var deadline = time.GetTimestamp() + (long)(linger.TotalSeconds * time.TimestampFrequency);
            while (batch.Count < maxRecords)
            {
                if (reader.TryPeek(out var next))
                {
                    if (batch.Count > 0 && bytes + next.Length + 1 > maxBytes)
                    {
                        break;
                    }

                    reader.TryRead(out _);
                    batch.Add(next);
                    bytes += next.Length + 1;
                    continue;
                }

                var left = deadline - time.GetTimestamp();
                if (left <= 0 || reader.Completion.IsCompleted)
                {
                    break;
                }

                // Wait for more, at most until the linger ends.
                using var lingerEnd = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                lingerEnd.CancelAfter(TimeSpan.FromSeconds((double)left / time.TimestampFrequency));
                try
                {
                    if (!await reader.WaitToReadAsync(lingerEnd.Token))
                    {
                        break;
                    }
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    break;
                }
            }

            using (var answer = await client.SendJsonAsync(HttpMethod.Post, Routes.Topic(topic) + "/batch", Body(batch), cancellationToken))
            {
                if (answer is null || !answer.RootElement.TryGetProperty("results", out var results))
                {
                    throw new CliException(ExitCodes.ServerError, "the batch answer has no results");
                }

                await sent(results);
            }

            total += batch.Count;
            batch.Clear();
        }

        return total;
    }

    private static byte[] Body(List<byte[]> records)
    {
        using var body = new MemoryStream(records.Sum(r => r.Length + 1) + 16);
        body.Write("{\"messages\":["u8);
        for (var i = 0; i < records.Count; i++)
        {
            if (i > 0)
            {
                body.WriteByte((byte)',');
            }

            body.Write(records[i]);
        }

        body.Write("]}"u8);
        return body.ToArray();
    }
}
