using System.Globalization;
using System.Text;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Sluice.Replication.Tests.Nats;

namespace Sluice.Bench.Replication;

/// <summary>
/// The nats sink's target for the bench and its plain-client baseline: per run a JetStream stream (file storage, the
/// server's defaults) capturing the run's subject, deleted after the run. The baseline publishes what the sink publishes
/// (Nats-Msg-Id, the record's headers plus Sluice's) in batches, each batch sent at once and then its acknowledgements
/// awaited, one loop per partition on one connection, from records already in memory.
/// </summary>
internal sealed class NatsBaseline(NatsServer server) : IAsyncDisposable
{
    private readonly NatsConnection _connection = new(new NatsOpts { Url = server.Url, HeaderEncoding = Encoding.UTF8 });

    private NatsJSContext Js => new(_connection);

    public static string StreamOf(string subject) => "B_" + subject;

    public async Task PrepareAsync(string subject)
        => await Js.CreateStreamAsync(new StreamConfig(StreamOf(subject), [subject]));

    public async Task DeleteAsync(string subject) => await Js.DeleteStreamAsync(StreamOf(subject));

    public async Task<RunRate> PlainAsync(string subject, int records, int partitions, int batch, Func<int, byte[]> value, CancellationToken cancellationToken)
    {
        await PrepareAsync(subject);
        var js = Js;
        var clock = new RunClock();
        await Task.WhenAll(Enumerable.Range(0, partitions).Select(async p =>
        {
            for (var start = 0; start < records / partitions; start += batch)
            {
                var n = Math.Min(batch, (records / partitions) - start);
                var futures = new List<NatsJSPublishConcurrentFuture>(n);
                for (var offset = start; offset < start + n; offset++)
                {
                    var i = (offset * partitions) + p;
                    var headers = new NatsHeaders
                    {
                        ["n"] = i.ToString(CultureInfo.InvariantCulture),
                        ["Sluice-Topic"] = "bench/repl/source",
                        ["Sluice-Partition"] = p.ToString(CultureInfo.InvariantCulture),
                        ["Sluice-Offset"] = offset.ToString(CultureInfo.InvariantCulture),
                        ["Sluice-Publish-Time"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
                        ["Sluice-Key"] = $"k{i}",
                    };
                    futures.Add(await js.PublishConcurrentAsync(subject, (ReadOnlyMemory<byte>)value(i), NatsRawSerializer<ReadOnlyMemory<byte>>.Default, new NatsJSPubOpts { MsgId = $"bench/repl/source/{p}/{offset}" }, headers, cancellationToken));
                }

                foreach (var future in futures)
                {
                    await using (future)
                    {
                        (await future.GetResponseAsync(cancellationToken)).EnsureSuccess();
                    }
                }

                clock.Done(n);
            }
        }));
        var rate = clock.Finish(records);
        await DeleteAsync(subject);
        return rate;
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}
