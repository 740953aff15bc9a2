using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Server.Hosting;
using Sluice.Server.Streaming;
using Sluice.Server.Subscriptions;

namespace Sluice.Server.Tests.Streaming;

/// <summary>
/// A <c>message</c> event is written in one piece when it can be and piece by piece when it cannot; both must be
/// <c>id: {ackId}/{consumerId}</c>, <c>event: message</c> and the serializer's JSON of the pulled message.
/// </summary>
public sealed class SseWriterTests
{
    private static readonly TopicName Topic = new("t", "ns", "orders");

    public static TheoryData<string, string, string, int> Events => new()
    {
        { "engine-shaped id", "1f.2e.3.1234.2", "sse-abc", 10 },
        { "id that needs escaping in JSON", "a\"b", "sse-abc", 10 },
        { "id longer than any engine id", new string('x', 300), "sse-abc", 10 },
        { "longest consumer id", "1f.2e.3.1234.2", new string('c', 255), 10 },
        { "value larger than the pending buffer", "1f.2e.3.1234.2", "sse-abc", 40_000 },
    };

    [Theory]
    [MemberData(nameof(Events))]
    public async Task WriteMessageEvent_WritesTheIdLineAndTheSerializersJson(string scenario, string ackId, string consumerId, int valueBytes)
    {
        var context = new DefaultHttpContext();
        var body = new MemoryStream();
        context.Response.Body = body;
        var writer = new SseWriter(context, TimeSpan.FromSeconds(30), TimeProvider.System);
        var expected = new StringBuilder();

        // Twice per record (a record's shared part is cached at the first), on two partitions, between smaller events.
        for (var i = 0; i < 4; i++)
        {
            var partition = i % 2 == 0 ? 3 : 5;
            var record = new StoredRecord(1234 + (i / 2), DateTimeOffset.UnixEpoch.AddSeconds(i), Encoding.UTF8.GetBytes("k"), Encoding.UTF8.GetBytes(new string('v', valueBytes)), [new("h", "x")]);
            foreach (var delivery in new[] { new Delivery(ackId, Topic, partition, record, 1 + i), new Delivery("1.2.0.7.1", Topic, partition, record, 1) })
            {
                writer.WriteMessageEvent(delivery, Encoding.UTF8.GetBytes(consumerId));
                expected.Append("id: ").Append(delivery.AckId).Append('/').Append(consumerId).Append("\nevent: message\ndata: ")
                    .Append(Json(delivery)).Append("\n\n");
            }
        }

        await writer.FlushAsync();
        await context.Response.BodyWriter.FlushAsync();
        var written = Encoding.UTF8.GetString(body.ToArray());
        Assert.True(expected.ToString() == written, $"{scenario}: expected\n{expected}\nwritten\n{written}");
    }

    private static readonly Dictionary<string, StoredRecord> ReadRecords = new()
    {
        ["key, text value, headers"] = new(7, DateTimeOffset.UnixEpoch.AddSeconds(3), Encoding.UTF8.GetBytes("k"), Encoding.UTF8.GetBytes("v"), [new("h", "x")]),
        ["no key, no value"] = new(0, DateTimeOffset.UnixEpoch, null, null, []),
        ["binary key and value"] = new(long.MaxValue - 1, DateTimeOffset.UnixEpoch.AddDays(9000), new byte[] { 0xff, 0x00 }, new byte[] { 0xc3, 0x28 }, []),
        ["text that JSON escapes"] = new(12, DateTimeOffset.UnixEpoch, null, Encoding.UTF8.GetBytes("a\"b\\c\nd\u0001 é <&> \U0001F600"), [new("x", "\"q\"")]),
        ["a repeated header"] = new(13, DateTimeOffset.UnixEpoch, null, Encoding.UTF8.GetBytes("v"), [new("a", "1"), new("b", "2"), new("a", "3")]),
        ["value larger than the pending buffer"] = new(14, DateTimeOffset.UnixEpoch, null, Encoding.UTF8.GetBytes(new string('v', 40_000)), []),
    };

    public static TheoryData<string> ReadScenarios => [.. ReadRecords.Keys];

    [Theory]
    [MemberData(nameof(ReadScenarios))]
    public async Task WriteReadEvent_WritesWhatTheSerializerWritesForTheReadMessage(string scenario)
    {
        var record = ReadRecords[scenario];
        var context = new DefaultHttpContext();
        var body = new MemoryStream();
        context.Response.Body = body;
        var writer = new SseWriter(context, TimeSpan.FromSeconds(30), TimeProvider.System);

        // The serializer's JSON of the read message, which the event must equal byte for byte.
        var expectedBody = new MemoryStream();
        var expectedContext = new DefaultHttpContext();
        expectedContext.Response.Body = expectedBody;
        var expected = new SseWriter(expectedContext, TimeSpan.FromSeconds(30), TimeProvider.System);

        // Not shared and never cached (written directly), shared twice on one partition (the second from the cached part),
        // not shared once cached (the cached part), shared on another partition (encoded again for it).
        var uncached = record with { };
        foreach (var (partition, read, share) in new[] { (3, uncached, false), (3, record, true), (3, record, true), (3, record, false), (11, record, true) })
        {
            writer.WriteReadEvent(partition, read, share);
            var message = MessageJson.ToMessage(partition, read);
            expected.WriteEvent(message.Id, "message", message, SluiceJsonContext.Api.ReadMessage);
        }

        // A record written unshared got no cached part; a shared one keeps its first partition's.
        Assert.False(MessageJson.TryGetShared(uncached, 3, out _));
        Assert.True(MessageJson.TryGetShared(record, 3, out _));

        await writer.FlushAsync();
        await context.Response.BodyWriter.FlushAsync();
        await expected.FlushAsync();
        await expectedContext.Response.BodyWriter.FlushAsync();
        var written = Encoding.UTF8.GetString(body.ToArray());
        var serialized = Encoding.UTF8.GetString(expectedBody.ToArray());
        Assert.True(serialized == written, $"{scenario}: expected\n{serialized}\nwritten\n{written}");
        Assert.StartsWith("id: 3:" + record.Offset + "\nevent: message\ndata: {\"id\":\"3:" + record.Offset + "\",\"partition\":3,", written, StringComparison.Ordinal);
    }

    private static string Json(Delivery delivery)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, MessageJson.SharedWriterOptions))
        {
            JsonSerializer.Serialize(json, MessageJson.ToMessage(delivery), SluiceJsonContext.Api.PulledMessage);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
