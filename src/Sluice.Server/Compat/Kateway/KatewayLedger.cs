using System.Collections.Concurrent;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;

namespace Sluice.Server.Compat.Kateway;

/// <summary>
/// kateway's consumers ack by position (<c>X-Partition</c>/<c>X-Offset</c> of the last message processed, or
/// <c>PUT /v1/offsets</c>), Sluice's engine by ack id. This remembers, per subscription, the answers given with
/// <c>ack=1</c> and the ack id of each message in them, until the messages are acked or their ack deadline passes (then
/// the engine redelivers them anyway, under a new id).
/// <code>
///   answer [p0:5, p1:9, p0:6]   ack (p1, 9) ──► acks p0:5 and p1:9: the client processed the answer in order up to it
///                               ack (p0, 6) ──► acks the rest
/// </code>
/// An ack names a message of one answer and acks that answer up to it; nothing of other answers (another client of the
/// same group may be working on those). Per gateway: in a fleet, a client's requests must reach the gateway that
/// answered it (kateway's own consumers were held per gateway, too), or its acks find nothing and the messages come
/// again after their deadline (at-least-once either way).
/// </summary>
internal sealed partial class KatewayLedger(TimeProvider time, ILogger<KatewayLedger> logger)
{
    /// <summary>Unacked messages remembered per subscription; beyond it the oldest answers are forgotten (redelivered at their deadline).</summary>
    public const int MaxPerSubscription = 100_000;

    private readonly ConcurrentDictionary<(TopicName Topic, string Subscription), Book> _books = new();

    /// <summary>Remembers an answer written with <c>ack=1</c>.</summary>
    public void Record(TopicName topic, string subscription, IReadOnlyList<Delivery> deliveries, TimeSpan ackDeadline)
    {
        var entries = new Entry[deliveries.Count];
        for (var i = 0; i < entries.Length; i++)
        {
            entries[i] = new Entry(deliveries[i].Partition, deliveries[i].Record.Offset, deliveries[i].AckId);
        }

        var book = _books.GetOrAdd((topic, subscription), _ => new Book());
        if (book.Add(new Answer(entries, time.GetUtcNow() + ackDeadline), time.GetUtcNow()))
        {
            Log.LedgerFull(logger, topic.ToString(), subscription, MaxPerSubscription);
        }
    }

    /// <summary>The ack ids of the answer holding (<paramref name="partition"/>, <paramref name="offset"/>), up to and including it; forgotten once taken.</summary>
    public List<string> TakeUpTo(TopicName topic, string subscription, int partition, long offset)
        => _books.TryGetValue((topic, subscription), out var book) ? book.TakeUpTo(partition, offset, time.GetUtcNow()) : [];

    /// <summary>The ack id of one remembered message, forgotten once taken; null when none is remembered.</summary>
    public string? Take(TopicName topic, string subscription, int partition, long offset)
        => _books.TryGetValue((topic, subscription), out var book) ? book.Take(partition, offset, time.GetUtcNow()) : null;

    private readonly record struct Entry(int Partition, long Offset, string AckId);

    private sealed class Answer(Entry[] entries, DateTimeOffset expires)
    {
        public Entry[] Entries { get; } = entries;

        public DateTimeOffset Expires { get; } = expires;

        /// <summary>Entries before this index were acked.</summary>
        public int Done { get; set; }
    }

    /// <summary>One subscription's answers, oldest first, and where each remembered message is.</summary>
    private sealed class Book
    {
        private readonly Lock _gate = new();
        private readonly Queue<Answer> _answers = new();
        private readonly Dictionary<(int Partition, long Offset), Answer> _where = [];

        /// <summary>True when the book was full and old answers were forgotten.</summary>
        public bool Add(Answer answer, DateTimeOffset now)
        {
            var full = false;
            lock (_gate)
            {
                Expire(now);
                while (_where.Count + answer.Entries.Length > MaxPerSubscription && _answers.Count > 0)
                {
                    Forget(_answers.Dequeue());
                    full = true;
                }

                _answers.Enqueue(answer);
                foreach (var e in answer.Entries)
                {
                    _where[(e.Partition, e.Offset)] = answer;
                }
            }

            return full;
        }

        public List<string> TakeUpTo(int partition, long offset, DateTimeOffset now)
        {
            lock (_gate)
            {
                Expire(now);
                if (!_where.TryGetValue((partition, offset), out var answer))
                {
                    return [];
                }

                var ids = new List<string>();
                for (var i = answer.Done; i < answer.Entries.Length; i++)
                {
                    var e = answer.Entries[i];
                    if (_where.Remove((e.Partition, e.Offset), out var held) && held == answer)
                    {
                        ids.Add(e.AckId);
                    }

                    if (e.Partition == partition && e.Offset == offset)
                    {
                        answer.Done = i + 1;
                        break;
                    }
                }

                return ids;
            }
        }

        public string? Take(int partition, long offset, DateTimeOffset now)
        {
            lock (_gate)
            {
                Expire(now);
                if (!_where.Remove((partition, offset), out var answer))
                {
                    return null;
                }

                foreach (var e in answer.Entries)
                {
                    if (e.Partition == partition && e.Offset == offset)
                    {
                        return e.AckId;
                    }
                }

                return null;
            }
        }

        private void Expire(DateTimeOffset now)
        {
            while (_answers.TryPeek(out var oldest) && oldest.Expires <= now)
            {
                Forget(_answers.Dequeue());
            }
        }

        private void Forget(Answer answer)
        {
            foreach (var e in answer.Entries)
            {
                if (_where.TryGetValue((e.Partition, e.Offset), out var held) && held == answer)
                {
                    _where.Remove((e.Partition, e.Offset));
                }
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = CompatLogEvents.KatewayLedgerFull, Level = LogLevel.Warning,
            Message = "kateway: {Subscription} on {Topic} has more than {Max} messages delivered with ack=1 and not acked; the oldest are forgotten and will be delivered again at their ack deadline")]
        public static partial void LedgerFull(ILogger logger, string topic, string subscription, int max);
    }
}
