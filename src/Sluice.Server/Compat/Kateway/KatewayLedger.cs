using System.Collections.Concurrent;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;

namespace Sluice.Server.Compat.Kateway;

/// <summary>
/// kateway's consumers ack the last message they processed (<c>X-Partition</c>/<c>X-Offset</c> with <c>ack=1</c>, or
/// <c>PUT /v1/offsets</c>), which stands for every message before it in the same answer. This remembers, per
/// subscription, the answers given with <c>ack=1</c> (positions only), until their messages are acked or their ack
/// deadline passes (the engine redelivers them then anyway).
/// <code>
///   answer [p0:5, p1:9, p0:6]   ack (p1, 9) ──► acks p0:5 and p1:9: the client processed the answer in order up to it
///                               ack (p0, 6) ──► acks the rest
/// </code>
/// An ack covers its own answer up to it, never messages of other answers (another client of the same group may be
/// working on those). Acks are by position (<see cref="ISubscriptionService.AckPositionsAsync"/>), so a position this
/// gateway did not answer (another gateway of a fleet did, or it restarted) still acks that one message: with kateway's
/// default <c>batch=1</c> a client may reach any gateway.
/// </summary>
internal sealed partial class KatewayLedger(TimeProvider time, ILogger<KatewayLedger> logger)
{
    /// <summary>Unacked messages remembered per subscription; beyond it the oldest answers are forgotten (redelivered at their deadline).</summary>
    public const int MaxPerSubscription = 100_000;

    private readonly ConcurrentDictionary<(TopicName Topic, string Subscription), Book> _books = new();

    /// <summary>Remembers an answer written with <c>ack=1</c>.</summary>
    public void Record(TopicName topic, string subscription, IReadOnlyList<Delivery> deliveries, TimeSpan ackDeadline)
    {
        if (deliveries.Count == 1)
        {
            // One message: an ack of it names it, nothing to remember.
            return;
        }

        var entries = new MessagePosition[deliveries.Count];
        for (var i = 0; i < entries.Length; i++)
        {
            entries[i] = new MessagePosition(deliveries[i].Partition, deliveries[i].Record.Offset);
        }

        var book = _books.GetOrAdd((topic, subscription), _ => new Book());
        if (book.Add(new Answer(entries, time.GetUtcNow() + ackDeadline), time.GetUtcNow()))
        {
            Log.LedgerFull(logger, topic.ToString(), subscription, MaxPerSubscription);
        }
    }

    /// <summary>
    /// The positions an ack of (<paramref name="partition"/>, <paramref name="offset"/>) stands for: its remembered answer
    /// up to and including it (then forgotten), or that one position alone.
    /// </summary>
    public List<MessagePosition> TakeUpTo(TopicName topic, string subscription, int partition, long offset)
        => _books.TryGetValue((topic, subscription), out var book) && book.TakeUpTo(partition, offset, time.GetUtcNow()) is { Count: > 0 } positions
            ? positions
            : [new MessagePosition(partition, offset)];

    private sealed class Answer(MessagePosition[] entries, DateTimeOffset expires)
    {
        public MessagePosition[] Entries { get; } = entries;

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

        public List<MessagePosition> TakeUpTo(int partition, long offset, DateTimeOffset now)
        {
            lock (_gate)
            {
                Expire(now);
                if (!_where.TryGetValue((partition, offset), out var answer))
                {
                    return [];
                }

                var positions = new List<MessagePosition>();
                for (var i = answer.Done; i < answer.Entries.Length; i++)
                {
                    var e = answer.Entries[i];
                    if (_where.TryGetValue((e.Partition, e.Offset), out var held) && held == answer)
                    {
                        _where.Remove((e.Partition, e.Offset));
                        positions.Add(e);
                    }

                    if (e.Partition == partition && e.Offset == offset)
                    {
                        answer.Done = i + 1;
                        break;
                    }
                }

                return positions;
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
