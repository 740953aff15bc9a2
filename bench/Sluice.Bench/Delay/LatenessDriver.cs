using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Sluice.Bench.Http;

namespace Sluice.Bench.Delay;

/// <summary>
/// Produces delayed messages at a fixed rate on an open-loop schedule, each due a fixed delay after its scheduled send
/// time, and pulls them as they come due: how late each is delivered after its time.
/// <code>
///   scheduler: message i scheduled at t0 + i/rate, due at (its scheduled time + delay) ──► senders: POST ?deliverAt=due
///   consumers: long-poll the subscription ──► lateness = pull answer time - due ──► ack
/// </code>
/// The clock is one monotonic clock anchored to the wall clock at the start, so due times and arrivals compare exactly;
/// the server stamps its own times from the same machine's clock.
/// </summary>
internal sealed class LatenessDriver
{
    private const int Senders = 16;
    private const int Consumers = 4;
    private const int ValueBytes = 100;

    private readonly int _rate;
    private readonly long _count;
    private readonly TimeSpan _delay;
    private readonly long[] _dueMs;
    private readonly double[] _receivedMs;
    private long _failed;
    private long _duplicates;
    private long _t0;
    private double _epochAtT0Ms;

    public LatenessDriver(int rate, TimeSpan duration, TimeSpan delay)
    {
        _rate = rate;
        _count = (long)(rate * duration.TotalSeconds);
        _delay = delay;
        _dueMs = new long[_count];
        _receivedMs = new double[_count];
    }

    public sealed record Result(long Scheduled, long Failed, long NotReceived, long Early, long Duplicates, Percentiles Lateness, double MinMs, double MaxMs);

    public async Task<Result> RunAsync(Uri produceUrl, Uri pullUrl, Uri ackUrl, CancellationToken cancellationToken)
    {
        using var produceClient = NewClient(Senders);
        using var consumeClient = NewClient(Consumers * 2);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var consumers = Enumerable.Range(0, Consumers).Select(c => ConsumeAsync(consumeClient, pullUrl, ackUrl, $"lateness-{c}", stop.Token)).ToArray();

        // The anchor to the wall clock at 100 ns precision (a millisecond's truncation would show as early arrivals).
        var wall = DateTimeOffset.UtcNow.UtcTicks;
        _t0 = Stopwatch.GetTimestamp() + (Stopwatch.Frequency / 10);
        _epochAtT0Ms = ((wall - DateTimeOffset.UnixEpoch.UtcTicks) / (double)TimeSpan.TicksPerMillisecond) + 100;
        var due = Channel.CreateBounded<long>(new BoundedChannelOptions((int)Math.Min(_count, 1 << 20)) { FullMode = BoundedChannelFullMode.Wait });
        var scheduler = new Thread(() => Schedule(due.Writer)) { IsBackground = true, Name = "lateness-scheduler" };
        scheduler.Start();
        await Task.WhenAll(Enumerable.Range(0, Senders).Select(_ => SendAsync(produceClient, produceUrl, due.Reader, cancellationToken)));

        // Everything is due within the delay after the last send; then a grace period for what comes late.
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < _delay + TimeSpan.FromSeconds(10) && Enumerable.Range(0, (int)_count).Any(i => _dueMs[i] > 0 && Volatile.Read(ref _receivedMs[i]) == 0))
        {
            await Task.Delay(100, cancellationToken);
        }

        await stop.CancelAsync();
        await Task.WhenAll(consumers);
        return Summarize();
    }

    private double NowMs() => _epochAtT0Ms + ((Stopwatch.GetTimestamp() - _t0) * 1000.0 / Stopwatch.Frequency);

    private void Schedule(ChannelWriter<long> writer)
    {
        long next = 0;
        while (next < _count)
        {
            var elapsed = Stopwatch.GetTimestamp() - _t0;
            var dueCount = elapsed < 0 ? 0 : Math.Min(_count, (long)(elapsed * (double)_rate / Stopwatch.Frequency) + 1);
            for (; next < dueCount; next++)
            {
                while (!writer.TryWrite(next))
                {
                    Thread.Sleep(1);
                }
            }

            Thread.Sleep(1);
        }

        writer.Complete();
    }

    private async Task SendAsync(HttpClient client, Uri url, ChannelReader<long> scheduled, CancellationToken cancellationToken)
    {
        await foreach (var index in scheduled.ReadAllAsync(cancellationToken))
        {
            // Due a fixed delay after its scheduled send time (not its actual one): a late send is late delivery too.
            var dueMs = (long)Math.Ceiling(_epochAtT0Ms + (index * 1000.0 / _rate) + _delay.TotalMilliseconds);
            try
            {
                using var content = new ByteArrayContent(Value(index));
                content.Headers.ContentType = new("application/octet-stream");
                using var response = await client.PostAsync(new Uri(url + $"?deliverAt={dueMs}"), content, cancellationToken);
                await response.Content.LoadIntoBufferAsync(cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    Volatile.Write(ref _dueMs[index], dueMs);
                }
                else
                {
                    Interlocked.Increment(ref _failed);
                }
            }
            catch (Exception ex) when (ex is HttpRequestException || (ex is TaskCanceledException && !cancellationToken.IsCancellationRequested))
            {
                Interlocked.Increment(ref _failed);
            }
        }
    }

    private async Task ConsumeAsync(HttpClient client, Uri pullUrl, Uri ackUrl, string consumerId, CancellationToken stop)
    {
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

            var now = NowMs();
            var ackIds = new List<string>();
            using (var json = JsonDocument.Parse(body))
            {
                foreach (var message in json.RootElement.GetProperty("messages").EnumerateArray())
                {
                    ackIds.Add(message.GetProperty("ackId").GetString()!);
                    var value = message.GetProperty("value").GetString()!;
                    var index = long.Parse(value.AsSpan(0, value.IndexOf('.', StringComparison.Ordinal)), CultureInfo.InvariantCulture);
                    if (Interlocked.CompareExchange(ref _receivedMs[index], now, 0) != 0)
                    {
                        Interlocked.Increment(ref _duplicates);
                    }
                }
            }

            if (ackIds.Count > 0)
            {
                using var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, List<string>> { ["ackIds"] = ackIds }));
                content.Headers.ContentType = new("application/json");
                using var ack = await client.PostAsync(ackUrl, content, CancellationToken.None);
                ack.EnsureSuccessStatusCode();
            }
        }
    }

    private Result Summarize()
    {
        var lateness = new List<double>();
        long notReceived = 0;
        long early = 0;
        var max = 0.0;
        var min = double.MaxValue;
        for (var i = 0; i < _count; i++)
        {
            if (_dueMs[i] == 0)
            {
                continue; // its produce failed (counted)
            }

            if (_receivedMs[i] == 0)
            {
                notReceived++;
                continue;
            }

            var late = _receivedMs[i] - _dueMs[i];
            early += late < 0 ? 1 : 0;
            max = Math.Max(max, late);
            min = Math.Min(min, late);
            lateness.Add(late);
        }

        return new Result(_count, _failed, notReceived, early, _duplicates, Percentiles.Of(lateness), lateness.Count > 0 ? min : 0, max);
    }

    // "<index>.<padding>": 100 bytes of UTF-8, so the pull answer carries it as a JSON string.
    private static byte[] Value(long index)
        => Encoding.ASCII.GetBytes((index.ToString(CultureInfo.InvariantCulture) + ".").PadRight(ValueBytes, 'x'));

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
