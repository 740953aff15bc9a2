using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Sluice.Replication.Tests.Infrastructure;

namespace Sluice.Replication.Tests.Nats;

/// <summary>
/// The nats sink's target: subject <c>{tenant}.{namespace}.{topic}</c>, and per prepared topic a stream of the user's
/// (made here) capturing that subject, with max_msg_size <see cref="MaxMessageSize"/> so an oversized record is refused
/// for good. Reading follows the stream from the last sequence read, so every read returns all that JetStream stored, in
/// stream order, with the headers the sink set.
/// </summary>
public sealed class NatsTarget(NatsServer server) : ISinkTarget
{
    public const int MaxMessageSize = 8192;

    private readonly ConcurrentDictionary<string, List<INatsJSMsg<byte[]>>> _stored = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _reading = new(1, 1);
    private NatsConnection? _connection;

    public IReadOnlyDictionary<string, string> Secrets { get; } = new Dictionary<string, string> { ["nats"] = server.Password };

    public bool Deduplicates => true;

    /// <summary>Over the stream's max_msg_size: JetStream refuses it for good.</summary>
    public string Poison { get; } = "poison-" + new string('p', MaxMessageSize * 2);

    public NatsServer Server => server;

    public static string Subject(string topic) => topic.Replace('/', '.');

    /// <summary>A stream name for a topic: its parts joined by '_' ('.' is not allowed in stream names).</summary>
    public static string StreamOf(string topic) => "S_" + topic.Replace('/', '_').Replace('.', '_');

    public JsonObject Sink() => new()
    {
        ["type"] = "nats",
        ["url"] = $"nats://sluice:${{secret:nats}}@127.0.0.1:{server.Port}",
        ["subject"] = "{tenant}.{namespace}.{topic}",
    };

    public async Task PrepareAsync(string topic, string? poison = null)
    {
        var js = new NatsJSContext(Connection());
        await js.CreateStreamAsync(new StreamConfig(StreamOf(topic), [Subject(topic)]) { MaxMsgSize = MaxMessageSize });
    }

    public async Task<IReadOnlyList<TargetRecord>> ReadAsync(string topic) => [.. (await MessagesAsync(StreamOf(topic))).Select(ToRecord)];

    /// <summary>Every message stored in <paramref name="stream"/> so far, in stream order.</summary>
    public async Task<IReadOnlyList<INatsJSMsg<byte[]>>> MessagesAsync(string stream)
    {
        var list = _stored.GetOrAdd(stream, _ => []);
        await _reading.WaitAsync();
        try
        {
            var js = new NatsJSContext(Connection());
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var next = list.Count == 0 ? 1 : list[^1].Metadata!.Value.Sequence.Stream + 1;
            var consumer = await js.CreateOrderedConsumerAsync(stream, new NatsJSOrderedConsumerOpts { DeliverPolicy = ConsumerConfigDeliverPolicy.ByStartSequence, OptStartSeq = next }, cts.Token);
            while (true)
            {
                var before = list.Count;
                await foreach (var msg in consumer.FetchNoWaitAsync<byte[]>(new NatsJSFetchOpts { MaxMsgs = 1000 }, cancellationToken: cts.Token))
                {
                    list.Add(msg);
                }

                if (list.Count == before)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException)
        {
            // Server down, or the stream not there yet: what was stored so far.
        }
        finally
        {
            _reading.Release();
        }

        return [.. list];
    }

    public async Task StopAsync()
    {
        await CloseConnectionAsync();
        await server.StopAsync();
    }

    public Task StartAsync() => server.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await CloseConnectionAsync();
        await server.DisposeAsync();
    }

    private static TargetRecord ToRecord(INatsJSMsg<byte[]> msg)
    {
        var h = msg.Headers ?? new NatsHeaders();
        string? One(string name) => h.TryGetValue(name, out var v) ? v.ToString() : null;
        var key = One("Sluice-Key");
        if (key is not null && One("Sluice-Key-Encoding") == "base64")
        {
            key = Encoding.UTF8.GetString(Convert.FromBase64String(key));
        }

        return new TargetRecord(
            One("Sluice-Topic") ?? "",
            int.Parse(One("Sluice-Partition") ?? "-1", System.Globalization.CultureInfo.InvariantCulture),
            long.Parse(One("Sluice-Offset") ?? "-1", System.Globalization.CultureInfo.InvariantCulture),
            key,
            Encoding.UTF8.GetString(msg.Data ?? []),
            h.Where(x => !x.Key.StartsWith("Sluice-", StringComparison.Ordinal) && !x.Key.StartsWith("Nats-", StringComparison.Ordinal)).ToDictionary(x => x.Key, x => x.Value.ToString()));
    }

    private NatsConnection Connection() => _connection ??= new NatsConnection(new NatsOpts { Url = server.Url, HeaderEncoding = Encoding.UTF8 });

    private async Task CloseConnectionAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
            _connection = null;
        }
    }
}
