using System.Diagnostics;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// Writes the ack ids of one stream's deliveries as UTF-8, the bytes of <see cref="Delivery.TryFormatAckId"/>, keeping
/// the head that the engine's ids of one subscription epoch and partition share (<c>{generation:x}.{epoch:x}.{partition}.</c>):
/// a stream writes its ids one after another, thousands a second in a fan-out, and they differ only in offset and
/// attempt. One per stream, used by one thread at a time. Public for the server's streams, which write the ids.
/// </summary>
public sealed class AckIdFormatter
{
    private readonly byte[] _head = new byte[AckId.MaxHeadBytes];
    private bool _hasHead;
    private long _generation;
    private uint _epoch;
    private int _partition;
    private int _headLength;

    /// <summary>
    /// Writes <paramref name="delivery"/>'s ack id into <paramref name="destination"/>. False when it does not fit; the
    /// destination's bytes are then undefined and nothing of them is an id.
    /// </summary>
    public bool TryFormat(Delivery delivery, Span<byte> destination, out int written)
    {
        written = 0;
        if (!delivery.HasEngineId || delivery.DeliveryAttempt < 1)
        {
            // An id given as text, or a position id (never a delivery's): written as the delivery writes it.
            return delivery.TryFormatAckId(destination, out written);
        }

        var source = delivery.Source;
        if (!_hasHead || source.Generation != _generation || source.Epoch != _epoch || delivery.Partition != _partition)
        {
            if (!AckId.TryFormatHead(source.Generation, source.Epoch, delivery.Partition, _head, out _headLength))
            {
                throw new UnreachableException($"an ack id's head fits in {AckId.MaxHeadBytes} bytes");
            }

            _hasHead = true;
            _generation = source.Generation;
            _epoch = source.Epoch;
            _partition = delivery.Partition;
        }

        var n = _headLength;
        if (!_head.AsSpan(0, n).TryCopyTo(destination)
            || !AckId.TryFormatTail(delivery.Record.Offset, delivery.DeliveryAttempt, destination[n..], out var m))
        {
            return false;
        }

        written = n + m;
        return true;
    }
}
