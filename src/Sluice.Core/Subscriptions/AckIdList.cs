using System.Buffers;
using System.Collections;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// Ack ids as a client sent them, each parsed once where it arrives. An id read from UTF-8 (an ack request's JSON) in
/// the form the engine writes keeps no text: a thousand ids of a pull's ack become a thousand small structs, not a
/// thousand strings parsed later. As a list of strings it gives every id's text back (formatted on demand, or kept as
/// sent when it was not in that form or not an id at all), so it goes wherever ids go as text and answers report ids
/// exactly as they were sent. Its storage is rented from a pool: disposing the list when done with it gives it back
/// (a list never disposed is simply collected).
/// </summary>
public sealed class AckIdList : IReadOnlyList<string>, IDisposable
{
    private Slot[] _items;
    private int _count;

    public AckIdList(int capacity = 0) => _items = capacity > 0 ? ArrayPool<Slot>.Shared.Rent(capacity) : [];

    /// <summary>The ids of <paramref name="texts"/>, parsed; an <see cref="AckIdList"/> itself as it is (its owner disposes it).</summary>
    public static AckIdList From(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (texts is AckIdList list)
        {
            return list;
        }

        var result = new AckIdList(texts.Count);
        foreach (var text in texts)
        {
            result.Add(text);
        }

        return result;
    }

    public int Count => _count;

    /// <summary>True when an id was JSON <c>null</c> or empty text.</summary>
    public bool HasEmpty { get; private set; }

    public string this[int index]
    {
        get
        {
            ref readonly var slot = ref At(index);
            return slot.Text ?? slot.Id.ToString();
        }
    }

    /// <summary>Adds an id given as UTF-8 text (its JSON string's bytes, unescaped).</summary>
    public void AddUtf8(ReadOnlySpan<byte> utf8)
    {
        if (AckId.TryParse(utf8, out var id, out var canonical))
        {
            Append(new Slot(id, true, canonical ? null : System.Text.Encoding.UTF8.GetString(utf8)));
            return;
        }

        Add(System.Text.Encoding.UTF8.GetString(utf8));
    }

    /// <summary>Adds an id given as text (null stands for a JSON <c>null</c>).</summary>
    public void Add(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            HasEmpty = true;
            text = "";
        }

        Append(AckId.TryParse(text, out var id) ? new Slot(id, true, text) : new Slot(default, false, text));
    }

    internal void Add(AckId id) => Append(new Slot(id, true, null));

    /// <summary>Adds the <paramref name="index"/>th id of <paramref name="other"/>, parsed or not, as it is there.</summary>
    internal void AddFrom(AckIdList other, int index) => Append(other.At(index));

    /// <summary>The id at <paramref name="index"/> as a key (<see cref="Delivery.Key"/>), without making its text.</summary>
    public DeliveryKey KeyAt(int index)
    {
        ref readonly var slot = ref At(index);
        return slot.Parsed ? new DeliveryKey(slot.Id) : new DeliveryKey(slot.Text ?? "");
    }

    /// <summary>The parsed id at <paramref name="index"/>; false when its text is not an ack id.</summary>
    internal bool TryGet(int index, out AckId id)
    {
        ref readonly var slot = ref At(index);
        id = slot.Id;
        return slot.Parsed;
    }

    public void Dispose()
    {
        var items = _items;
        _items = [];
        _count = 0;
        GiveBack(items);
    }

    public IEnumerator<string> GetEnumerator()
    {
        for (var i = 0; i < _count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private ref readonly Slot At(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)_count, nameof(index));
        return ref _items[index];
    }

    private void Append(in Slot slot)
    {
        if (_count == _items.Length)
        {
            var larger = ArrayPool<Slot>.Shared.Rent(Math.Max(16, _items.Length * 2));
            _items.AsSpan(0, _count).CopyTo(larger);
            GiveBack(_items);
            _items = larger;
        }

        _items[_count++] = slot;
    }

    // Storage of up to the most ids a request may carry goes back to the pool; a larger array (a request refused for its
    // count, read whole first) is left to the collector, so the pool never keeps it.
    private static void GiveBack(Slot[] items)
    {
        if (items.Length is > 0 and <= MaxPooledSlots)
        {
            ArrayPool<Slot>.Shared.Return(items, clearArray: true);
        }
    }

    private const int MaxPooledSlots = 16 * 1024;

    // Text is null when it is exactly the id's ToString.
    private readonly record struct Slot(AckId Id, bool Parsed, string? Text);
}
