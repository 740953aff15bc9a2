using System.Buffers;
using System.Text;
using System.Text.Json;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Server.Hosting;
using Sluice.Server.Subscriptions;

namespace Sluice.Server.Tests.Streaming;

/// <summary>
/// The SSE hot path writes a delivery's JSON by hand (<see cref="MessageJson.Write"/>); it must be the very bytes the
/// serializer writes for the pull's <see cref="PulledMessage"/>, whatever the key, value and headers hold.
/// </summary>
public sealed class MessageJsonTests
{
    public static TheoryData<string, byte[]?, byte[]?, string[]> Records => new()
    {
        { "no key, utf8 value, no headers", null, Encoding.UTF8.GetBytes("hello"), [] },
        { "null value", Encoding.UTF8.GetBytes("k"), null, [] },
        { "escapes", Encoding.UTF8.GetBytes("a\"b\\c"), Encoding.UTF8.GetBytes("line\nbreak\ttab \u0001 <tag> & 'q' é ü 中文 😀 \u2028 \u007f"), ["h", "v\"\n"] },
        { "binary key and value", [0xff, 0x00, 0x80], [0xc3, 0x28, 0x00, 0xfe], [] },
        { "empty value", [], [], ["content-type", "text/plain; charset=utf-8"] },
        { "repeated header keeps first place, last value", null, Encoding.UTF8.GetBytes("{\"json\":true}"), ["a", "1", "b", "2", "a", "3", "é", "ü"] },
        { "every printable ASCII character", Encoding.UTF8.GetBytes(PrintableAscii), Encoding.UTF8.GetBytes(PrintableAscii), [PrintableAscii, PrintableAscii] },
        { "printable ASCII but quote and backslash", Encoding.UTF8.GetBytes(PlainAscii), Encoding.UTF8.GetBytes(PlainAscii), [PlainAscii, PlainAscii] },
        { "plain key, value and headers", Encoding.UTF8.GetBytes("order-17"), Encoding.UTF8.GetBytes("{'total': 12.5, <b>&amp;</b> +1 `x`}"), ["content-type", "text/plain", "trace", "00-4bf9-01"] },
        { "nine plain headers", null, Encoding.UTF8.GetBytes("v"), [.. Enumerable.Range(0, 9).SelectMany(i => new[] { $"h{i}", $"v{i}" })] },
        { "a header value to escape", null, Encoding.UTF8.GetBytes("v"), ["h", "line\nbreak"] },
    };

    private static readonly string PrintableAscii = new([.. Enumerable.Range(0x20, 0x7f - 0x20).Select(c => (char)c)]);

    private static readonly string PlainAscii = PrintableAscii.Replace("\"", "", StringComparison.Ordinal).Replace("\\", "", StringComparison.Ordinal);

    [Theory]
    [MemberData(nameof(Records))]
    public void Write_SameBytesAsTheSerializerWritesForThePulledMessage(string scenario, byte[]? key, byte[]? value, string[] headerPairs)
    {
        var headers = new List<KeyValuePair<string, string>>();
        for (var i = 0; i < headerPairs.Length; i += 2)
        {
            headers.Add(new(headerPairs[i], headerPairs[i + 1]));
        }

        var record = new StoredRecord(1234, new DateTimeOffset(2026, 11, 21, 8, 10, 0, 123, TimeSpan.Zero).AddTicks(4567), key, value, headers);
        var delivery = new Delivery("1f.2e.3.1234.2", new TopicName("t", "ns", "orders"), 3, record, 2);

        var bySerializer = Written(w => JsonSerializer.Serialize(w, MessageJson.ToMessage(delivery), SluiceJsonContext.Api.PulledMessage));
        var byHand = Written(w => MessageJson.Write(w, delivery));
        var byWriteTo = WrittenTo(delivery);
        var engineDelivery = new Delivery(delivery.AckId, delivery.Topic, delivery.Partition, record, delivery.DeliveryAttempt);
        var buffer = new byte[4096];
        Assert.True(TryWriteShared(buffer, engineDelivery, out var n));
        var shared = Encoding.UTF8.GetString(buffer, 0, n);
        Assert.True(TryWriteShared(buffer, engineDelivery, out n));
        var sharedAgain = Encoding.UTF8.GetString(buffer, 0, n);

        Assert.True(bySerializer == byHand, $"{scenario}:\n serializer {bySerializer}\n hand       {byHand}");
        Assert.True(bySerializer == byWriteTo, $"{scenario}:\n serializer {bySerializer}\n write to   {byWriteTo}");
        Assert.True(bySerializer == shared, $"{scenario}:\n serializer {bySerializer}\n shared     {shared}");
        Assert.Equal(shared, sharedAgain);
    }

    [Theory]
    [InlineData("plain key, value and headers", true)]
    [InlineData("printable ASCII but quote and backslash", true)]
    [InlineData("no key, utf8 value, no headers", true)]
    [InlineData("null value", true)]
    [InlineData("empty value", true)]
    [InlineData("escapes", false)]
    [InlineData("binary key and value", false)]
    [InlineData("repeated header keeps first place, last value", false)]
    [InlineData("every printable ASCII character", false)]
    [InlineData("nine plain headers", false)]
    [InlineData("a header value to escape", false)]
    public void TryWritePlain_TakesThePlainMessages_AndLeavesTheRestToTheJsonWriter(string scenario, bool plain)
    {
        var row = Records.Single(r => (string)r[0] == scenario);
        var pairs = (string[])row[3];
        var headers = Enumerable.Range(0, pairs.Length / 2).Select(i => new KeyValuePair<string, string>(pairs[2 * i], pairs[(2 * i) + 1])).ToList();
        var delivery = new Delivery("1f.2e.3.1234.2", new TopicName("t", "ns", "orders"), 3, new StoredRecord(1234, DateTimeOffset.UnixEpoch, (byte[]?)row[1], (byte[]?)row[2], headers), 2);

        Assert.Equal(plain, MessageJson.TryWritePlain(new byte[4096], delivery, out _));
        Assert.False(MessageJson.TryWritePlain(new byte[40], delivery, out var written));
        Assert.Equal(0, written);
    }

    public static TheoryData<DateTimeOffset> Timestamps => new()
    {
        DateTimeOffset.UnixEpoch,
        new DateTimeOffset(2026, 12, 4, 23, 59, 59, TimeSpan.Zero),
        new DateTimeOffset(2026, 12, 4, 23, 59, 59, 100, TimeSpan.Zero),
        new DateTimeOffset(2026, 12, 4, 23, 59, 59, 120, TimeSpan.FromHours(5.5)),
        new DateTimeOffset(2026, 12, 4, 23, 59, 59, 123, TimeSpan.FromHours(-8)).AddTicks(4567),
        new DateTimeOffset(2026, 12, 4, 0, 0, 0, TimeSpan.Zero).AddTicks(1),
        new DateTimeOffset(2026, 12, 4, 0, 0, 0, TimeSpan.Zero).AddTicks(10),
        DateTimeOffset.MaxValue,
    };

    [Theory]
    [MemberData(nameof(Timestamps))]
    public void WriteTo_WritesThePublishTimeAsTheSerializerDoes(DateTimeOffset timestamp)
    {
        var delivery = new Delivery("1f.2e.3.1234.2", new TopicName("t", "ns", "orders"), 3, new StoredRecord(1234, timestamp, null, Encoding.UTF8.GetBytes("v"), []), 2);

        var bySerializer = Written(w => JsonSerializer.Serialize(w, MessageJson.ToMessage(delivery), SluiceJsonContext.Api.PulledMessage));

        Assert.True(MessageJson.TryWritePlain(new byte[4096], delivery, out _));
        Assert.Equal(bySerializer, WrittenTo(delivery));
    }

    [Fact]
    public void PullResponseWriter_SameBytesAsTheSerializerWritesForThePullResponse()
    {
        var deliveries = new List<Delivery>();
        foreach (var row in Records)
        {
            var (key, value, pairs) = ((byte[]?)row[1], (byte[]?)row[2], (string[])row[3]);
            var headers = Enumerable.Range(0, pairs.Length / 2).Select(i => new KeyValuePair<string, string>(pairs[2 * i], pairs[(2 * i) + 1])).ToList();
            var record = new StoredRecord(deliveries.Count * 1000L, new DateTimeOffset(2026, 11, 21, 8, 10, 0, 123, TimeSpan.Zero), key, value, headers);
            deliveries.Add(new Delivery($"1f.2e.3.{record.Offset}.1", new TopicName("t", "ns", "orders"), 3, record, 1));
        }

        foreach (var batch in new[] { deliveries, [], deliveries[..1] })
        {
            var bySerializer = JsonSerializer.Serialize(new PullResponse([.. batch.Select(MessageJson.ToMessage)]), SluiceJsonContext.Api.PullResponse);
            var buffer = new ArrayBufferWriter<byte>();
            PullResponseWriter.Write(buffer, batch);
            Assert.Equal(bySerializer, Encoding.UTF8.GetString(buffer.WrittenSpan));
        }
    }

    [Fact]
    public void TryWriteShared_RefusesAnAckIdThatNeedsEscaping_AndABufferTooSmall()
    {
        var record = new StoredRecord(7, DateTimeOffset.UnixEpoch, null, Encoding.UTF8.GetBytes("v"), []);
        var buffer = new byte[4096];

        Assert.False(TryWriteShared(buffer, new Delivery("a\"b", new TopicName("t", "ns", "o"), 0, record, 1), out _));
        Assert.False(TryWriteShared(new byte[20], new Delivery("1.2.0.7.1", new TopicName("t", "ns", "o"), 0, record, 1), out _));
        Assert.True(TryWriteShared(buffer, new Delivery("1.2.0.7.1", new TopicName("t", "ns", "o"), 0, record, 1), out _));
    }

    [Fact]
    public void TryWriteShared_ARecordDeliveredOnAnotherPartition_WritesThatPartition()
    {
        // The shared part carries the position; a record object met on a second partition must not reuse the first's.
        var record = new StoredRecord(7, DateTimeOffset.UnixEpoch, null, Encoding.UTF8.GetBytes("v"), []);
        var buffer = new byte[4096];

        foreach (var partition in new[] { 0, 5, 0 })
        {
            var delivery = new Delivery($"1.2.{partition}.7.1", new TopicName("t", "ns", "o"), partition, record, 1);
            Assert.True(TryWriteShared(buffer, delivery, out var n));
            var bySerializer = Written(w => JsonSerializer.Serialize(w, MessageJson.ToMessage(delivery), SluiceJsonContext.Api.PulledMessage));
            Assert.Equal(bySerializer, Encoding.UTF8.GetString(buffer, 0, n));
        }
    }

    // The event writer's use of the shared form, for one delivery: its ack id formatted first, the record's part looked up.
    private static bool TryWriteShared(Span<byte> destination, Delivery delivery, out int written)
    {
        written = 0;
        Span<byte> ackId = stackalloc byte[128];
        return delivery.TryFormatAckId(ackId, out var n)
            && MessageJson.TryWriteShared(destination, delivery, MessageJson.Shared(delivery.Record, delivery.Partition), ackId[..n], out written);
    }

    private static string WrittenTo(Delivery delivery)
    {
        var buffer = new ArrayBufferWriter<byte>();
        Utf8JsonWriter? fallback = null;
        MessageJson.WriteTo(buffer, delivery, ref fallback);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    // The writer the SSE stream uses (SseWriter).
    private static string Written(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true }))
        {
            write(writer);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
