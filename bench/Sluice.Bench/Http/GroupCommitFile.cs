using System.Buffers;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Sluice.Storage;

namespace Sluice.Bench.Http;

/// <summary>
/// A durable answer and nothing else, for the durable baselines (<see cref="BareEndpoint"/> with <c>--durable</c>): one
/// file; each round takes every body queued since the last, writes them with one <c>pwritev</c>, syncs with one
/// <c>fdatasync</c>, and then completes their waits (a group commit). Who runs the round is the <see cref="CommitMode"/>:
/// a writer thread of its own (Sluice's design: a wake for the writer, and each answer resumed on the thread pool); a
/// leader: the request that finds no round running writes and syncs on its own pool thread, then hands the next round,
/// if bodies came meanwhile, to the first of them (no writer thread to wake); or a writer thread that resumes the
/// answers itself (no hop to the pool after the sync). No framing, index, offsets or recovery, and the file is a ring of
/// blocks written with zeros beforehand, so no sync grows the file or allocates (Sluice's segments reserve zeros ahead
/// for the same reason: note 0032).
/// </summary>
internal sealed class GroupCommitFile
{
    // Far more than the bodies in flight between two rounds (64 connections x 100 B), so a round never wraps mid-way; small
    // enough to write with zeros in a moment at start.
    private const long RingBytes = 8L * 1024 * 1024;

    private readonly SafeFileHandle _handle;
    private readonly CommitMode _mode;
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _queued = new(0);

    // Two lists swapped each round: requests add to one while the round writes the other.
    private List<Pending> _queue = [];
    private List<Pending> _spare = [];
    private bool _leading;
    private long _position;

    public GroupCommitFile(string path, CommitMode mode)
    {
        _handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        var zeros = new byte[1024 * 1024];
        for (long at = 0; at < RingBytes; at += zeros.Length)
        {
            RandomAccess.Write(_handle, zeros, at);
        }

        Sync();
        _mode = mode;
        if (mode != CommitMode.Leader)
        {
            new Thread(WriteLoop) { IsBackground = true, Name = "bare-writer" }.Start();
        }
    }

    public enum CommitMode
    {
        /// <summary>A writer thread runs every round.</summary>
        Writer,

        /// <summary>The request that finds no round running leads one round, then hands the next one on.</summary>
        Leader,

        /// <summary>
        /// A writer thread that resumes each answer on itself, with Kestrel's inline scheduling (<see cref="BareEndpoint"/>):
        /// no thread-pool hop between the sync and the answer's send.
        /// </summary>
        Inline,
    }

    /// <summary>Completes once <paramref name="body"/> (copied, once, before this returns) is written and synced.</summary>
    public Task AppendAsync(ReadOnlySequence<byte> body)
    {
        var resume = _mode == CommitMode.Inline ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously;
        var pending = new Pending(body.ToArray(), new TaskCompletionSource<bool>(resume));
        bool lead;
        lock (_lock)
        {
            _queue.Add(pending);
            lead = _mode == CommitMode.Leader && !_leading;
            _leading |= lead;
            if (_mode != CommitMode.Leader && _queue.Count == 1)
            {
                _queued.Release();
            }
        }

        return lead ? LeadAsync() : FollowAsync(pending);
    }

    // Synced, or (leader mode) handed the next round by the leader before: then it leads that round, which holds its body.
    private async Task FollowAsync(Pending pending)
    {
        if (!await pending.Done.Task)
        {
            await LeadAsync();
        }
    }

    // One round, which holds the leader's own body; then the next round, if bodies came meanwhile, goes to the first of
    // them (so a leader answers its own request after one round, not after the load stops).
    private Task LeadAsync()
    {
        Commit(TakeRound()!);
        lock (_lock)
        {
            if (_queue.Count == 0)
            {
                _leading = false;
            }
            else
            {
                _queue[0].Done.TrySetResult(false);
            }
        }

        return Task.CompletedTask;
    }

    private void WriteLoop()
    {
        while (true)
        {
            _queued.Wait();
            if (TakeRound() is { } round)
            {
                Commit(round);
            }
        }
    }

    // The bodies queued so far, or null when there are none.
    private List<Pending>? TakeRound()
    {
        lock (_lock)
        {
            if (_queue.Count == 0)
            {
                return null;
            }

            var round = _queue;
            _queue = _spare;
            _spare = round;
            return round;
        }
    }

    // Runs outside the lock, one round at a time (one writer thread, or one leader).
    private void Commit(List<Pending> round)
    {
        var buffers = new ReadOnlyMemory<byte>[round.Count];
        long bytes = 0;
        for (var i = 0; i < round.Count; i++)
        {
            buffers[i] = round[i].Body;
            bytes += round[i].Body.Length;
        }

        if (_position + bytes > RingBytes)
        {
            _position = 0;
        }

        RandomAccess.Write(_handle, buffers, _position);
        _position += bytes;
        Sync();
        foreach (var p in round)
        {
            // TrySet: in leader mode the round's leader was completed already, when it was handed the round.
            p.Done.TrySetResult(true);
        }

        round.Clear();
    }

    private void Sync()
    {
        if (FileSync.DataSync(_handle) != 0)
        {
            throw new IOException($"fdatasync failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
    }

    private readonly record struct Pending(byte[] Body, TaskCompletionSource<bool> Done);
}
