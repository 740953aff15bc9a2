using Microsoft.Extensions.Logging;
using Sluice.Core.Log;
using Sluice.Core.Topics;

namespace Sluice.Core.Delay;

/// <summary>
/// Fires the delayed messages of one holding partition, on the one instance that owns it. One loop, so the index needs
/// no lock against itself (the lock is for listings from request threads):
/// <code>
///   rebuild: scan from the durable ScanFrom to the end ──► index (what the durable watermark says fired is skipped)
///   loop:    read new records ──► messages into the index, cancels decided (decision records appended)
///            take what is due, in (due, offset) order ──► read them ──► append to the topic's partition (durable)
///            write the watermark (at most every 200 ms) ──► trim the holding partition below ScanFrom (every minute)
///            wait: new records, the next due time, or the next watermark write
/// </code>
/// A crash fires again what fired since the last watermark write (at-least-once); a cancel is decided in log order
/// after every message before it, so "cancelled" is final and a rebuild reaches the same decision.
/// </summary>
internal sealed partial class PartitionScheduler
{
    /// <summary>At most 100 rounds a second: a message due meanwhile waits at most this long; each round is one append.</summary>
    private static readonly TimeSpan MinRoundInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>How often progress is written while firing: a crash fires again what fired within it.</summary>
    private static readonly TimeSpan PersistInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>Holding partitions shrink once a minute at most; the backend deletes whole segments anyway.</summary>
    private static readonly TimeSpan TrimInterval = TimeSpan.FromMinutes(1);

    /// <summary>A failing backend is not hammered, and a hiccup heals quickly.</summary>
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>An idle partition still wakes this often (a clock that jumped, a trim that is due).</summary>
    private static readonly TimeSpan MaxWait = TimeSpan.FromMinutes(1);

    // 1,000 messages per round: one append; 4,096 records or 4 MiB per read of the partition.
    private const int MaxFireBatch = 1000;
    private const int ReadCount = 4096;
    private const int ReadBytes = 4 * 1024 * 1024;

    // Appends to the topic are cut at about this size, so a round of large messages is not one huge write.
    private const long FireAppendBytes = 4 * 1024 * 1024;

    // Offsets to fire this close together are read in one range read.
    private const long ReadGap = 32;

    private readonly DelayService _service;
    private readonly TopicName _source;
    private readonly TopicName _holding;
    private readonly int _partition;
    private readonly long _generation;
    private readonly Lock _gate = new();
    private PendingIndex _index = new();
    private readonly List<PendingEntry> _inflight = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _rebuilt = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously); // completed and replaced as _readTo moves
    private bool _ended;
    private Task _run = Task.CompletedTask;
    private long _readTo;
    private bool _dirty;
    private bool _ready;
    private DateTimeOffset _lastPersist;
    private DateTimeOffset _lastRound = DateTimeOffset.MinValue;
    private DateTimeOffset _lastTrim;
    private long _trimmedTo;
    private DelayWatermark _durable;

    public PartitionScheduler(DelayService service, TopicName source, TopicName holding, int partition, long generation)
    {
        _service = service;
        _source = source;
        _holding = holding;
        _partition = partition;
        _generation = generation;
    }

    public int Partition => _partition;

    /// <summary>Messages pending here (in flight to the topic included).</summary>
    public long Pending
    {
        get
        {
            lock (_gate)
            {
                return _index.Count + _inflight.Count;
            }
        }
    }

    /// <summary>Bytes held by the index's arrays.</summary>
    public long IndexBytes
    {
        get
        {
            lock (_gate)
            {
                return _index.ArrayBytes;
            }
        }
    }

    /// <summary>Completes once the index was rebuilt from the partition (or the scheduler stopped first).</summary>
    public Task Rebuilt => _rebuilt.Task;

    /// <summary>
    /// Completes once the index holds every message below <paramref name="offset"/> (read and rebuilt up to it), or the
    /// scheduler stopped: a listing then shows what was held before it was asked.
    /// </summary>
    public async Task WaitReadToAsync(long offset, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task progress;
            lock (_gate)
            {
                if (_ended || (_ready && _readTo >= offset))
                {
                    return;
                }

                progress = _progress.Task;
            }

            await progress.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Starts from the partition's last durable state.</summary>
    public void Start(DelayWatermark durable)
    {
        _durable = durable;
        _run = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
    }

    /// <summary>
    /// Stops the loop after its current round. With <paramref name="persist"/>, writes the watermark so the next owner
    /// fires nothing again (a hand-over or a shutdown); without, the topic is being deleted.
    /// </summary>
    public async Task StopAsync(bool persist)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _run.ConfigureAwait(false);
        _rebuilt.TrySetResult();
        if (_ready)
        {
            DelayMetrics.OnPending(_source, -Pending);
        }

        if (persist && _ready && _dirty)
        {
            try
            {
                await PersistAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Log.StateWriteFailed(_service.Logger, _holding, _partition, ex);
            }
        }
    }

    /// <summary>
    /// True when the message at <paramref name="offset"/> was read and is no longer pending (fired, being fired, or
    /// cancelled): a cancel of it can only be refused, so none needs to be written.
    /// </summary>
    public bool IsSettled(long offset)
    {
        lock (_gate)
        {
            return _ready && offset < _readTo && !_index.Contains(offset) && !_inflight.Exists(e => e.Offset == offset);
        }
    }

    /// <summary>Adds up to <paramref name="limit"/> pending entries above <paramref name="after"/> to <paramref name="into"/>, in order.</summary>
    public void Collect(PendingEntry after, int limit, List<PendingEntry> into)
    {
        lock (_gate)
        {
            foreach (var e in _inflight)
            {
                if (e > after && into.Count < limit)
                {
                    into.Add(e);
                }
            }

            _index.CollectAfter(after, limit, into);
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (await RebuildWithRetriesAsync(cancellationToken).ConfigureAwait(false))
            {
                await LoopAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _rebuilt.TrySetResult();
            lock (_gate)
            {
                _ended = true;
                Advanced();
            }
        }
    }

    // Under _gate: wakes those waiting for the read position (WaitReadToAsync).
    private void Advanced()
    {
        var done = _progress;
        _progress = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        done.TrySetResult();
    }

    // False when the scheduler stopped or its holding topic is gone before the index was rebuilt.
    private async Task<bool> RebuildWithRetriesAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                await RebuildAsync(cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return false;
            }
            catch (TopicNotFoundException)
            {
                return false; // deleted meanwhile
            }
            catch (Exception ex)
            {
                Log.SchedulerFailed(_service.Logger, _holding, _partition, ex);
                lock (_gate)
                {
                    _index = new PendingIndex();
                }

                try
                {
                    await Task.Delay(RetryDelay, _service.Time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return false;
                }
            }
        }
    }

    private async Task LoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var more = await ReadNewAsync(cancellationToken).ConfigureAwait(false);
                var full = await FireDueAsync(cancellationToken).ConfigureAwait(false);
                await PersistIfDueAsync().ConfigureAwait(false);
                await TrimIfDueAsync().ConfigureAwait(false);
                if (!more && !full)
                {
                    await WaitAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (TopicNotFoundException ex) when (ex.Topic == _holding)
            {
                Log.HoldingGone(_service.Logger, _holding, _partition);
                return;
            }
            catch (Exception ex)
            {
                Log.SchedulerFailed(_service.Logger, _holding, _partition, ex);
                try
                {
                    await Task.Delay(RetryDelay, _service.Time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    // Reads the partition from the durable ScanFrom to its end: every message is pending but those the watermark says
    // fired; cancels are decided as they come, and those whose decision was never written get one now.
    private async Task RebuildAsync(CancellationToken cancellationToken)
    {
        var started = _service.Time.GetTimestamp();
        var info = await _service.MessageLog.DescribeTopicAsync(_holding, cancellationToken).ConfigureAwait(false) ?? throw new TopicNotFoundException(_holding);
        var p = info.Partitions[_partition];
        var offset = Math.Max(_durable.ScanFrom, p.StartOffset);
        var undecided = new Dictionary<long, bool>();
        while (true)
        {
            ReadResult read;
            try
            {
                read = await _service.MessageLog.ReadAsync(_holding, _partition, offset, ReadCount, ReadBytes, cancellationToken).ConfigureAwait(false);
            }
            catch (CorruptRecordsException ex) when (ex.ToOffset > offset)
            {
                SkipDamaged(ex);
                offset = ex.ToOffset;
                continue;
            }

            lock (_gate)
            {
                foreach (var record in read.Records)
                {
                    Apply(record, rebuilding: true, undecided);
                }

                _readTo = read.NextOffset;
            }

            if (read.NextOffset >= read.EndOffset || read.NextOffset <= offset)
            {
                break;
            }

            offset = read.NextOffset;
        }

        if (undecided.Count > 0)
        {
            await WriteDecisionsAsync(undecided).ConfigureAwait(false);
        }

        DelayMetrics.OnPending(_source, Pending);
        lock (_gate)
        {
            _ready = true;
            Advanced();
        }

        _lastPersist = _lastTrim = _service.Time.GetUtcNow();
        _rebuilt.TrySetResult();
        Log.Rebuilt(_service.Logger, _holding, _partition, Pending, _durable.ScanFrom, _readTo, _service.Time.GetElapsedTime(started).TotalMilliseconds);
    }

    // One read of what was appended since; true when there is more to read.
    private async ValueTask<bool> ReadNewAsync(CancellationToken cancellationToken)
    {
        ReadResult read;
        try
        {
            read = await _service.MessageLog.ReadAsync(_holding, _partition, _readTo, ReadCount, ReadBytes, cancellationToken).ConfigureAwait(false);
        }
        catch (OffsetOutOfRangeException ex) when (_readTo < ex.StartOffset)
        {
            // Removed before it was read (retention past a long outage): what is left goes on.
            Log.RecordsSkipped(_service.Logger, _holding, _partition, _readTo, ex.StartOffset);
            lock (_gate)
            {
                _readTo = ex.StartOffset;
                Advanced();
            }

            return true;
        }
        catch (CorruptRecordsException ex) when (ex.ToOffset > _readTo)
        {
            SkipDamaged(ex);
            return true;
        }

        if (read.Records.Count == 0)
        {
            return false;
        }

        var decisions = new Dictionary<long, bool>();
        var added = 0L;
        lock (_gate)
        {
            var before = _index.Count;
            foreach (var record in read.Records)
            {
                Apply(record, rebuilding: false, decisions);
            }

            added = _index.Count - before;
            _readTo = read.NextOffset;
            Advanced();
        }

        DelayMetrics.OnPending(_source, added);
        if (decisions.Count > 0)
        {
            _dirty = true;
            await WriteDecisionsAsync(decisions).ConfigureAwait(false);
        }

        return read.NextOffset < read.EndOffset;
    }

    // Records the log cannot serve (damaged on disk, reported by the embedded log): what they held is lost, what follows goes on.
    private void SkipDamaged(CorruptRecordsException ex)
    {
        Log.RecordsDamaged(_service.Logger, _holding, _partition, ex.FromOffset, ex.ToOffset - 1, ex.Reason);
        lock (_gate)
        {
            _readTo = ex.ToOffset;
            Advanced();
        }
    }

    // Under _gate. A message joins the index unless the durable watermark says it fired; a cancel removes its target
    // if pending, and its decision is remembered (to be written, or, while rebuilding, until its decision record shows up).
    private void Apply(StoredRecord record, bool rebuilding, Dictionary<long, bool> decisions)
    {
        switch (HoldingRecords.Read(record, out var a, out var b))
        {
            case HoldingRecords.Kind.Message:
                if (rebuilding && record.Offset < _durable.ReadTo && new PendingEntry(a, record.Offset) < _durable.Boundary)
                {
                    return; // fired before the watermark was written
                }

                _index.Add(a, record.Offset);
                return;
            case HoldingRecords.Kind.Cancel:
                var cancelled = _index.Remove(a);
                if (cancelled && !rebuilding)
                {
                    DelayMetrics.OnCancelled(_source);
                    DelayMetrics.OnPending(_source, -1);
                }

                decisions[record.Offset] = cancelled;
                return;
            case HoldingRecords.Kind.Decision:
                if (rebuilding)
                {
                    decisions.Remove(a);
                }

                return;
            default:
                Log.UnknownRecord(_service.Logger, _holding, _partition, record.Offset);
                return;
        }
    }

    private async Task WriteDecisionsAsync(Dictionary<long, bool> decisions)
    {
        var records = new List<RecordToAppend>(decisions.Count);
        foreach (var (cancelOffset, cancelled) in decisions)
        {
            records.Add(HoldingRecords.Decision(cancelOffset, cancelled));
        }

        // Not cancellable: a requester waits for these, and they change nothing if written twice.
        await _service.MessageLog.AppendAsync(_holding, _partition, records, CancellationToken.None).ConfigureAwait(false);
    }

    // Appends what is due (at most one batch) to the topic; true when the batch was full (more may be due at once).
    private async ValueTask<bool> FireDueAsync(CancellationToken cancellationToken)
    {
        var clock = _service.Time.GetUtcNow();
        var now = clock.ToUnixTimeMilliseconds();
        var sinceRound = clock - _lastRound;
        lock (_gate)
        {
            if (_inflight.Count == 0)
            {
                if (sinceRound < MinRoundInterval)
                {
                    return false;
                }

                while (_inflight.Count < MaxFireBatch && _index.TryPeekMin(out var min) && min.Due <= now)
                {
                    _inflight.Add(_index.RemoveMin());
                }
            }

            if (_inflight.Count == 0)
            {
                return false;
            }
        }

        // _inflight changes only on this loop: read without the lock from here.
        _lastRound = clock;
        var held = await ReadHeldAsync(cancellationToken).ConfigureAwait(false);
        var batch = new List<RecordToAppend>(_inflight.Count);
        long bytes = 0;
        var fired = 0;
        foreach (var entry in _inflight)
        {
            if (!held.TryGetValue(entry.Offset, out var record))
            {
                Log.HeldRecordMissing(_service.Logger, _holding, _partition, entry.Offset);
                continue;
            }

            batch.Add(HoldingRecords.ToFired(record, new DelayId(_partition, entry.Offset, _generation).ToString()));
            bytes += (record.Value?.Length ?? 0) + (record.Key?.Length ?? 0) + 64;
            if (bytes >= FireAppendBytes)
            {
                fired += await AppendToSourceAsync(batch).ConfigureAwait(false);
                batch.Clear();
                bytes = 0;
            }
        }

        if (batch.Count > 0)
        {
            fired += await AppendToSourceAsync(batch).ConfigureAwait(false);
        }

        var appended = _service.Time.GetUtcNow().ToUnixTimeMilliseconds();
        int count;
        lock (_gate)
        {
            count = _inflight.Count;
            foreach (var entry in _inflight)
            {
                DelayMetrics.OnLateness(_source, appended - entry.Due);
            }

            _inflight.Clear();
        }

        _dirty = true;
        DelayMetrics.OnFired(_source, fired);
        DelayMetrics.OnPending(_source, -count);
        return count == MaxFireBatch;
    }

    // Once an append has started it may be written: it is finished even when the scheduler is asked to stop.
    private async ValueTask<int> AppendToSourceAsync(List<RecordToAppend> batch)
    {
        await _service.MessageLog.AppendAsync(_source, _partition, [.. batch], CancellationToken.None).ConfigureAwait(false);
        return batch.Count;
    }

    // The held records of the in-flight entries, read as ranges of nearby offsets.
    private async ValueTask<Dictionary<long, StoredRecord>> ReadHeldAsync(CancellationToken cancellationToken)
    {
        var offsets = new long[_inflight.Count];
        for (var i = 0; i < offsets.Length; i++)
        {
            offsets[i] = _inflight[i].Offset;
        }

        Array.Sort(offsets);
        var wanted = new HashSet<long>(offsets);
        var found = new Dictionary<long, StoredRecord>(offsets.Length);
        var i0 = 0;
        while (i0 < offsets.Length)
        {
            var i1 = i0;
            while (i1 + 1 < offsets.Length && offsets[i1 + 1] - offsets[i1] <= ReadGap)
            {
                i1++;
            }

            var offset = offsets[i0];
            var last = offsets[i1];
            try
            {
                while (offset <= last)
                {
                    var count = (int)Math.Min(last - offset + 1, ReadCount);
                    ReadResult read;
                    try
                    {
                        read = await _service.MessageLog.ReadAsync(_holding, _partition, offset, count, ReadBytes, cancellationToken).ConfigureAwait(false);
                    }
                    catch (CorruptRecordsException ex) when (ex.ToOffset > offset)
                    {
                        offset = ex.ToOffset; // damaged since it was read: reported as missing by the caller
                        continue;
                    }

                    foreach (var r in read.Records)
                    {
                        if (wanted.Contains(r.Offset))
                        {
                            found[r.Offset] = r;
                        }
                    }

                    if (read.NextOffset <= offset)
                    {
                        break;
                    }

                    offset = read.NextOffset;
                }
            }
            catch (OffsetOutOfRangeException)
            {
                // Removed by retention: reported as missing by the caller.
            }

            i0 = i1 + 1;
        }

        return found;
    }

    private ValueTask PersistIfDueAsync()
    {
        if (!_dirty || _service.Time.GetUtcNow() - _lastPersist < PersistInterval)
        {
            return ValueTask.CompletedTask;
        }

        return PersistAsync();
    }

    private async ValueTask PersistAsync()
    {
        DelayWatermark state;
        lock (_gate)
        {
            var boundary = _inflight.Count > 0 ? _inflight[0] : _index.TryPeekMin(out var min) ? min : PendingEntry.Max;
            var scanFrom = _index.MinOffset() ?? _readTo;
            foreach (var e in _inflight)
            {
                scanFrom = Math.Min(scanFrom, e.Offset);
            }

            state = new DelayWatermark(boundary, _readTo, scanFrom, _index.Count + _inflight.Count);
        }

        _dirty = false;
        _lastPersist = _service.Time.GetUtcNow();
        try
        {
            await _service.WriteWatermarkAsync(_holding, _partition, state).ConfigureAwait(false);
            _durable = state;
        }
        catch
        {
            _dirty = true;
            throw;
        }
    }

    // Deletes what lies below the durable ScanFrom: fired or cancelled, and never read again.
    private async ValueTask TrimIfDueAsync()
    {
        if (_durable.ScanFrom <= _trimmedTo || _service.Time.GetUtcNow() - _lastTrim < TrimInterval)
        {
            return;
        }

        _lastTrim = _service.Time.GetUtcNow();
        try
        {
            await _service.MessageLog.DeleteRecordsBeforeAsync(_holding, _partition, _durable.ScanFrom, CancellationToken.None).ConfigureAwait(false);
        }
        catch (OperationNotSupportedException)
        {
            // The cluster lacks the API: retention removes the records instead, later.
        }

        _trimmedTo = _durable.ScanFrom;
    }

    // Until new records arrive, the next message is due (no sooner than a round after the last), or progress is to be written.
    private async Task WaitAsync(CancellationToken cancellationToken)
    {
        var wait = MaxWait;
        var now = _service.Time.GetUtcNow();
        lock (_gate)
        {
            if (_index.TryPeekMin(out var min))
            {
                var untilDue = TimeSpan.FromMilliseconds(Math.Max(0, min.Due - now.ToUnixTimeMilliseconds()));
                var untilRound = MinRoundInterval - (now - _lastRound);
                wait = Min(wait, untilDue > untilRound ? untilDue : untilRound);
            }
        }

        if (_dirty)
        {
            wait = Min(wait, PersistInterval - (now - _lastPersist));
        }

        if (wait <= TimeSpan.Zero)
        {
            return;
        }

        using var timer = new CancellationTokenSource(wait, _service.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        try
        {
            await _service.MessageLog.WaitForDataAsync(_holding, _partition, _readTo, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The timer: something is due.
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static partial class Log
    {
        [LoggerMessage(CoreEventIds.DelayRebuilt, LogLevel.Information, "Delayed messages of '{Holding}' partition {Partition}: {Pending} pending, read from offset {ScanFrom} to {ReadTo} in {ElapsedMs:F0} ms")]
        public static partial void Rebuilt(ILogger logger, TopicName holding, int partition, long pending, long scanFrom, long readTo, double elapsedMs);

        [LoggerMessage(CoreEventIds.DelaySchedulerFailed, LogLevel.Warning, "Delayed messages of '{Holding}' partition {Partition}: a round failed; retrying")]
        public static partial void SchedulerFailed(ILogger logger, TopicName holding, int partition, Exception exception);

        [LoggerMessage(CoreEventIds.DelayHeldRecordMissing, LogLevel.Error, "Delayed message at offset {Offset} of '{Holding}' partition {Partition} is gone from the log (retention, or damaged on disk) and cannot be delivered")]
        public static partial void HeldRecordMissing(ILogger logger, TopicName holding, int partition, long offset);

        [LoggerMessage(CoreEventIds.DelayRecordsSkipped, LogLevel.Error, "Records {From} to {To} of '{Holding}' partition {Partition} were removed before they were read (retention); delayed messages among them are lost")]
        public static partial void RecordsSkipped(ILogger logger, TopicName holding, int partition, long from, long to);

        [LoggerMessage(CoreEventIds.DelayRecordsDamaged, LogLevel.Error, "Offsets {From} to {Last} of '{Holding}' partition {Partition} are damaged on disk ({Reason}); delayed messages and cancels among them are lost, the rest goes on")]
        public static partial void RecordsDamaged(ILogger logger, TopicName holding, int partition, long from, long last, string reason);

        [LoggerMessage(CoreEventIds.DelayStateWriteFailed, LogLevel.Warning, "Writing the progress of '{Holding}' partition {Partition} failed; messages fired since the last write will fire again after a restart")]
        public static partial void StateWriteFailed(ILogger logger, TopicName holding, int partition, Exception exception);

        [LoggerMessage(CoreEventIds.DelayHoldingGone, LogLevel.Information, "Holding topic '{Holding}' is gone; partition {Partition} is no longer scheduled")]
        public static partial void HoldingGone(ILogger logger, TopicName holding, int partition);

        [LoggerMessage(CoreEventIds.DelayUnknownRecord, LogLevel.Warning, "Ignored record at offset {Offset} of '{Holding}' partition {Partition}: not a delayed message, cancel or decision")]
        public static partial void UnknownRecord(ILogger logger, TopicName holding, int partition, long offset);
    }
}
