using System.Buffers.Text;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// Writes the ack ids of one stream's deliveries as UTF-8, the bytes of <see cref="Delivery.TryFormatAckId"/>, keeping
/// the head that the engine's ids of one subscription epoch and partition share (<c>{generation:x}.{epoch:x}.{partition}.</c>):
/// a stream writes its ids one after another, thousands a second in a fan-out, and they differ only in offset and
/// attempt. One per stream, used by one thread at a time.
/// </summary>
public sealed class AckIdFormatter
{
    // 16 hex digits of generation, 8 of epoch, 10 decimal of partition and three dots.
    private readonly byte[] _head = new byte[37];
    private DeliverySource? _source;
    private int _partition;
    private int _headLength;

    public bool TryFormat(Delivery delivery, Span<byte> destination, out int written)
    {
        if (!delivery.HasEngineId || delivery.DeliveryAttempt < 1)
        {
            return delivery.TryFormatAckId(destination, out written);
        }

        if (!ReferenceEquals(delivery.Source, _source) || delivery.Partition != _partition)
        {
            if (!delivery.TryFormatAckId(destination, out written))
            {
                return false;
            }

            Remember(delivery, destination[..written]);
            return true;
        }

        written = 0;
        var n = _headLength;
        if (!_head.AsSpan(0, n).TryCopyTo(destination) || !Utf8Formatter.TryFormat(delivery.Record.Offset, destination[n..], out var m))
        {
            return false;
        }

        n += m;
        if (n >= destination.Length || !Utf8Formatter.TryFormat(delivery.DeliveryAttempt, destination[(n + 1)..], out m))
        {
            return false;
        }

        destination[n] = (byte)'.';
        written = n + 1 + m;
        return true;
    }

    // The id just written, up to and including the dot after its partition.
    private void Remember(Delivery delivery, ReadOnlySpan<byte> id)
    {
        var n = 0;
        for (var dots = 0; dots < 3; n++)
        {
            if (n == id.Length || n == _head.Length)
            {
                _source = null;
                return;
            }

            if (id[n] == '.')
            {
                dots++;
            }
        }

        id[..n].CopyTo(_head);
        _headLength = n;
        _source = delivery.Source;
        _partition = delivery.Partition;
    }
}
