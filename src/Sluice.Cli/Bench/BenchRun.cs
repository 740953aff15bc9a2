using System.Globalization;
using System.Text;
using System.Text.Json;
using Sluice.Cli.Connection;
using Sluice.Cli.Output;

namespace Sluice.Cli.Bench;

/// <summary>
/// One bench run:
/// <code>
///   producers (P requests in flight) ──► topic ──► bench subscription ──► consumers (C pull + ack loops)
///        └ produce request latency            end-to-end latency: header bench-sent (this process's clock) → pulled ┘
/// </code>
/// The subscription is made (at latest) before the first produce, so every produced message reaches the consumers.
/// </summary>
internal sealed class BenchRun(SluiceClient client, BenchSettings settings, TimeProvider time, TextWriter error)
{
    /// <summary>Consumers give up when nothing arrives for this long after producing ended.</summary>
    public static readonly TimeSpan IdleLimit = TimeSpan.FromSeconds(15);

    private const string SentHeader = "bench-sent";
    private readonly LatencyHistogram _produceLatency = new();
    private readonly LatencyHistogram _endToEnd = new();
    private long _claimed;
    private long _produced;
    private long _consumed;
    private long _lastConsumeTicks;

    public async Task<BenchResult> RunAsync(CancellationToken cancellationToken)
    {
        var subscription = settings.Subscription ?? "bench-" + Guid.NewGuid().ToString("N")[..8];
        var path = Routes.Subscription(settings.Topic, subscription);
        var ownSubscription = settings.Subscription is null && settings.Consumers > 0;
        if (ownSubscription)
        {
            var body = JsonOutput.Build(w =>
            {
                w.WriteStartObject();
                w.WriteString("type", "shared");
                w.WriteString("position", "latest");
                w.WriteEndObject();
            });
            using var _ = await client.SendJsonAsync(HttpMethod.Put, path, body, cancellationToken);
        }

        try
        {
            return await MeasureAsync(path, cancellationToken);
        }
        finally
        {
            if (ownSubscription)
            {
                try
                {
                    using var _ = await client.SendAsync(HttpMethod.Delete, path, null, CancellationToken.None);
                }
                catch (CliException ex)
                {
                    await error.WriteLineAsync($"sluice: could not delete the bench subscription {subscription}: {ex.Message}");
                }
            }
        }
    }

    private async Task<BenchResult> MeasureAsync(string subscriptionPath, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var start = time.GetTimestamp();
        _lastConsumeTicks = start;
        var consumeTarget = settings.Consumers > 0 ? settings.Messages : 0;
        var consumers = Enumerable.Range(0, settings.Consumers).Select(i => Task.Run(() => ConsumeAsync(subscriptionPath, "bench-" + i, consumeTarget, stop.Token), stop.Token)).ToList();
        var progress = Task.Run(() => ProgressAsync(start, stop.Token), stop.Token);
        var payload = new string('x', settings.Size);

        try
        {
            await Task.WhenAll(Enumerable.Range(0, settings.Producers).Select(_ => Task.Run(() => ProduceAsync(payload, stop.Token), stop.Token)));
            var produceTime = time.GetElapsedTime(start);

            // Wait for the consumers: all messages in, or nothing new for IdleLimit.
            while (consumers.Count > 0 && Interlocked.Read(ref _consumed) < consumeTarget && !consumers.All(c => c.IsCompleted))
            {
                if (time.GetElapsedTime(Math.Max(Interlocked.Read(ref _lastConsumeTicks), start + (long)(produceTime.TotalSeconds * time.TimestampFrequency))) > IdleLimit)
                {
                    break;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(100), time, cancellationToken);
            }

            var consumeTime = time.GetElapsedTime(start, Interlocked.Read(ref _lastConsumeTicks));
            await stop.CancelAsync();
            await IgnoreCancellation(consumers.Append(progress));
            await error.WriteLineAsync((Console.IsErrorRedirected ? "" : "\r") + ProgressLine(start) + "  done");
            return new BenchResult(Interlocked.Read(ref _produced), produceTime, _produceLatency, Interlocked.Read(ref _consumed), consumeTarget, consumeTime, _endToEnd);
        }
        catch
        {
            await stop.CancelAsync();
            await IgnoreCancellation(consumers.Append(progress));
            throw;
        }
    }

    private async Task ProduceAsync(string payload, CancellationToken cancellationToken)
    {
        var messages = Routes.Topic(settings.Topic) + "/messages";
        var batchRoute = Routes.Topic(settings.Topic) + "/batch";
        while (true)
        {
            var claimed = Interlocked.Add(ref _claimed, settings.Batch);
            var count = (int)Math.Min(settings.Batch, settings.Messages - (claimed - settings.Batch));
            if (count <= 0)
            {
                return;
            }

            var sent = SentStamp();
            var begin = time.GetTimestamp();
            if (settings.Batch == 1)
            {
                using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(payload));
                using var _ = await client.SendAsync(HttpMethod.Post, messages, content, cancellationToken, r => r.Headers.Add("Sluice-Header-" + SentHeader, sent));
            }
            else
            {
                var body = new StringBuilder(count * (payload.Length + 48) + 16).Append("{\"messages\":[");
                for (var i = 0; i < count; i++)
                {
                    body.Append(i == 0 ? "" : ",").Append("{\"value\":\"").Append(payload).Append("\",\"headers\":{\"").Append(SentHeader).Append("\":\"").Append(sent).Append("\"}}");
                }

                using var _ = await client.SendJsonAsync(HttpMethod.Post, batchRoute, Encoding.UTF8.GetBytes(body.Append("]}").ToString()), cancellationToken);
            }

            _produceLatency.Record(time.GetElapsedTime(begin));
            Interlocked.Add(ref _produced, count);
        }
    }

    private async Task ConsumeAsync(string subscriptionPath, string consumerId, long target, CancellationToken cancellationToken)
    {
        while (Interlocked.Read(ref _consumed) < target)
        {
            using var answer = await client.SendAsync(HttpMethod.Get, subscriptionPath + "/messages?max=1000&waitMs=1000", null, cancellationToken,
                r => r.Headers.Add("Sluice-Consumer-Id", consumerId));
            var now = time.GetUtcNow();
            var ackIds = new List<string>();
            foreach (var message in answer!.RootElement.GetProperty("messages").EnumerateArray())
            {
                ackIds.Add(message.GetProperty("ackId").GetString()!);
                var sent = message.TryGetProperty("headers", out var headers) && headers.TryGetProperty(SentHeader, out var stamp)
                    && long.TryParse(stamp.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var micros)
                    ? DateTimeOffset.UnixEpoch.AddTicks(micros * 10)
                    : message.GetProperty("publishTime").GetDateTimeOffset();
                _endToEnd.Record(now - sent);
            }

            if (ackIds.Count == 0)
            {
                continue;
            }

            using var _ = await client.SendJsonAsync(HttpMethod.Post, subscriptionPath + "/acks", JsonWriterExtensions.AckBody(ackIds), cancellationToken);
            Interlocked.Add(ref _consumed, ackIds.Count);
            Interlocked.Exchange(ref _lastConsumeTicks, time.GetTimestamp());
        }
    }

    private async Task ProgressAsync(long start, CancellationToken cancellationToken)
    {
        long lastProduced = 0, lastConsumed = 0;
        var terminal = !Console.IsErrorRedirected;
        while (true)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), time, cancellationToken);
            var produced = Interlocked.Read(ref _produced);
            var consumed = Interlocked.Read(ref _consumed);
            var line = ProgressLine(start) + $"  ({produced - lastProduced,7} msg/s in, {consumed - lastConsumed,7} msg/s out)";
            await error.WriteAsync(terminal ? "\r" + line : line + "\n");
            (lastProduced, lastConsumed) = (produced, consumed);
        }
    }

    private string ProgressLine(long start) =>
        $"{time.GetElapsedTime(start).TotalSeconds,5:0}s  produced {Interlocked.Read(ref _produced),10}  consumed {Interlocked.Read(ref _consumed),10}";

    private string SentStamp() => ((time.GetUtcNow().UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10).ToString(CultureInfo.InvariantCulture);

    private static async Task IgnoreCancellation(IEnumerable<Task> tasks)
    {
        foreach (var task in tasks)
        {
            try
            {
                await task;
            }
            catch (OperationCanceledException)
            {
            }
        }
    }
}
