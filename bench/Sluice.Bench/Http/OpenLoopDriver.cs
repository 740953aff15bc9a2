using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Sluice.Bench.Http;

/// <summary>
/// Produces at a fixed rate on an open-loop schedule and, optionally, pulls and acks what it produced.
/// <code>
///   scheduler thread --(index i due at t0 + i/rate)--> bounded channel --> 64 senders --POST--> server
///   consumers: GET .../messages?waitMs= --> latency = pull answer time - scheduled time of i --> POST .../acks
/// </code>
/// Message i is due at a fixed time whatever happened before it, so a slow answer delays the messages behind
/// it and that delay is counted (no coordinated omission). The value carries i, so a consumer finds its due time.
/// With a delivery delay each message is produced with <c>?deliverAt=</c> its scheduled time plus the delay, and the
/// end-to-end figure is how late after that time it was pulled (delayed delivery's lateness).
/// </summary>
internal sealed class OpenLoopDriver
{
    // 64: as many connections as the wrk runs; far more than 5,000 msg/s needs at a few ms each.
    private const int Senders = 64;
    private const int Consumers = 4;
    private const int ValueBytes = 100;

    private readonly int _rate;
    private readonly long _warmupCount;
    private readonly long _total;
    private readonly long[] _answered;
    private readonly long[] _received;
    private readonly long[] _sendLag;
    private readonly TimeSpan _deliverAfter;
    private long _failed;
    private long _duplicates;
    private long _t0;
    private double _epochAtT0Ms;

    /// <param name="rate">Messages per second.</param>
    /// <param name="warmup">Sent first and left out of the figures.</param>
    /// <param name="measure">Sent after the warm-up and measured.</param>
    /// <param name="deliverAfter">When positive, each message is delayed by this much after its scheduled time.</param>
    public OpenLoopDriver(int rate, TimeSpan warmup, TimeSpan measure, TimeSpan deliverAfter = default)
    {
        _rate = rate;
        _deliverAfter = deliverAfter;
        _warmupCount = (long)(rate * warmup.TotalSeconds);
        _total = _warmupCount + (long)(rate * measure.TotalSeconds);
        _answered = new long[_total];
        _received = new long[_total];
        _sendLag = new long[_total];
    }

    /// <summary>
    /// POSTs to <paramref name="produceUrl"/> at the rate; when <paramref name="pullUrl"/> and <paramref name="ackUrl"/>
    /// are given, consumers long-poll and ack meanwhile and the end-to-end latency is measured too.
    /// </summary>
    public async Task<LatencyResult> RunAsync(Uri produceUrl, Uri? pullUrl, Uri? ackUrl, CancellationToken cancellationToken)
    {
        using var produceClient = NewClient(Senders);
        using var consumeClient = NewClient(Consumers * 2);
        using var stopConsumers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var consumers = pullUrl is null || ackUrl is null
            ? []
            : Enumerable.Range(0, Consumers).Select(c => ConsumeAsync(consumeClient, pullUrl, ackUrl, $"bench-{c}", stopConsumers.Token)).ToArray();

        var due = Channel.CreateBounded<long>(new BoundedChannelOptions((int)Math.Min(_total, 1 << 20)) { FullMode = BoundedChannelFullMode.Wait });
        // The wall clock at t0, to 100 ns (a millisecond's truncation would show as deliveries before their time).
        var wall = DateTimeOffset.UtcNow.UtcTicks;
        _t0 = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 10;
        _epochAtT0Ms = ((wall - DateTimeOffset.UnixEpoch.UtcTicks) / (double)TimeSpan.TicksPerMillisecond) + 100;
        var scheduler = new Thread(() => Schedule(due.Writer)) { IsBackground = true, Name = "bench-scheduler" };
        scheduler.Start();
        await Task.WhenAll(Enumerable.Range(0, Senders).Select(_ => SendAsync(produceClient, produceUrl, due.Reader, cancellationToken)));

        if (consumers.Length > 0)
        {
            // Give the consumers up to 5 s after the last answer (and the delay) to see every message, then stop them.
            var grace = Stopwatch.StartNew();
            while (grace.Elapsed < TimeSpan.FromSeconds(5) + _deliverAfter && Enumerable.Range((int)_warmupCount, (int)(_total - _warmupCount)).Any(i => _answered[i] > 0 && Volatile.Read(ref _received[i]) == 0))
            {
                await Task.Delay(50, cancellationToken);
            }

            await stopConsumers.CancelAsync();
            await Task.WhenAll(consumers);
        }

        return Summarize(consumers.Length > 0);
    }

    private long DueTime(long index) => _t0 + (long)(index * (double)Stopwatch.Frequency / _rate);

    // A delayed message's delivery time in epoch ms (whole, rounded up as the server rounds), and the same instant on the
    // monotonic clock the arrivals are measured with.
    private long DeliverAtMs(long index) => (long)Math.Ceiling(_epochAtT0Ms + (index * 1000.0 / _rate) + _deliverAfter.TotalMilliseconds);

    private long DeliverAtTicks(long index) => _t0 + (long)((DeliverAtMs(index) - _epochAtT0Ms) * Stopwatch.Frequency / 1000.0);

    private void Schedule(ChannelWriter<long> writer)
    {
        long next = 0;
        while (next < _total)
        {
            var elapsed = Stopwatch.GetTimestamp() - _t0;
            var dueCount = elapsed < 0 ? 0 : Math.Min(_total, (long)(elapsed * (double)_rate / Stopwatch.Frequency) + 1);
            for (; next < dueCount; next++)
            {
                // The channel holds the whole run when it can, so this never blocks in practice.
                while (!writer.TryWrite(next))
                {
                    Thread.Sleep(1);
                }
            }

            // ~1 ms: a few messages leave together at 5,000/s; their due times stay exact, so any wait is counted.
            Thread.Sleep(1);
        }

        writer.Complete();
    }

    private async Task SendAsync(HttpClient client, Uri url, ChannelReader<long> due, CancellationToken cancellationToken)
    {
        await foreach (var index in due.ReadAllAsync(cancellationToken))
        {
            var start = Stopwatch.GetTimestamp();
            _sendLag[index] = start - DueTime(index);
            try
            {
                using var content = new ByteArrayContent(Value(index));
                content.Headers.ContentType = new("application/octet-stream");
                using var response = await client.PostAsync(_deliverAfter > TimeSpan.Zero ? new Uri(url + $"?deliverAt={DeliverAtMs(index)}") : url, content, cancellationToken);
                await response.Content.LoadIntoBufferAsync(cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    _answered[index] = Stopwatch.GetTimestamp();
                }
                else
                {
                    Interlocked.Increment(ref _failed);
                }
            }
            catch (Exception ex) when (ex is HttpRequestException || (ex is TaskCanceledException && !cancellationToken.IsCancellationRequested))
            {
                // Refused, reset or timed out: counted and reported, never silently dropped.
                Interlocked.Increment(ref _failed);
            }
        }
    }

    private async Task ConsumeAsync(HttpClient client, Uri pullUrl, Uri ackUrl, string consumerId, CancellationToken stop)
    {
        Task pendingAck = Task.CompletedTask;
        while (!stop.IsCancellationRequested)
        {
            byte[] body;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, pullUrl);
                request.Headers.Add("Sluice-Consumer-Id", consumerId);
                using var response = await client.SendAsync(request, stop);
                body = await response.Content.ReadAsByteArrayAsync(stop);
                response.EnsureSuccessStatusCode();
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }

            var now = Stopwatch.GetTimestamp();
            var ackIds = new List<string>();
            using (var json = JsonDocument.Parse(body))
            {
                foreach (var message in json.RootElement.GetProperty("messages").EnumerateArray())
                {
                    ackIds.Add(message.GetProperty("ackId").GetString()!);
                    var value = message.GetProperty("value").GetString()!;
                    var index = long.Parse(value.AsSpan(0, value.IndexOf('.', StringComparison.Ordinal)), CultureInfo.InvariantCulture);
                    if (Interlocked.CompareExchange(ref _received[index], now, 0) != 0)
                    {
                        Interlocked.Increment(ref _duplicates);
                    }
                }
            }

            if (ackIds.Count > 0)
            {
                // One ack in flight per consumer: acking overlaps the next pull instead of delaying it.
                await pendingAck;
                pendingAck = AckAsync(client, ackUrl, ackIds);
            }
        }

        await pendingAck;
    }

    private static async Task AckAsync(HttpClient client, Uri ackUrl, List<string> ackIds)
    {
        using var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, List<string>> { ["ackIds"] = ackIds }));
        content.Headers.ContentType = new("application/json");
        using var response = await client.PostAsync(ackUrl, content);
        response.EnsureSuccessStatusCode();
    }

    private LatencyResult Summarize(bool endToEnd)
    {
        var roundTrip = new List<double>();
        var pulled = new List<double>();
        var lags = new List<double>();
        long notReceived = 0;
        long lastAnswer = 0;
        var toMs = 1000.0 / Stopwatch.Frequency;
        for (var i = _warmupCount; i < _total; i++)
        {
            lags.Add(_sendLag[i] * toMs);
            if (_answered[i] > 0)
            {
                roundTrip.Add((_answered[i] - DueTime(i)) * toMs);
                lastAnswer = Math.Max(lastAnswer, _answered[i]);
            }

            if (endToEnd)
            {
                if (_received[i] > 0)
                {
                    pulled.Add((_received[i] - (_deliverAfter > TimeSpan.Zero ? DeliverAtTicks(i) : DueTime(i))) * toMs);
                }
                else
                {
                    notReceived++;
                }
            }
        }

        // Achieved: answered messages of the measured window over the time from its first due time to its last answer.
        var seconds = (lastAnswer - DueTime(_warmupCount)) / (double)Stopwatch.Frequency;
        return new LatencyResult(
            TargetRate: _rate,
            AchievedRate: roundTrip.Count / seconds,
            Scheduled: _total - _warmupCount,
            Failed: _failed,
            NotReceived: notReceived,
            Duplicates: _duplicates,
            SendLagP99Ms: Percentiles.Of(lags).P99Ms,
            RoundTrip: Percentiles.Of(roundTrip),
            EndToEnd: endToEnd ? Percentiles.Of(pulled) : null,
            RoundTripSamplesMs: roundTrip,
            EndToEndSamplesMs: pulled);
    }

    // "<index>.<padding>": exactly 100 bytes, readable as UTF-8 so the pull answer carries it as a JSON string.
    private static byte[] Value(long index)
    {
        var text = index.ToString(CultureInfo.InvariantCulture) + ".";
        return Encoding.ASCII.GetBytes(text.PadRight(ValueBytes, 'x'));
    }

    private static HttpClient NewClient(int connections) => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = connections,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        AutomaticDecompression = DecompressionMethods.None,
        UseProxy = false,
    })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };
}
