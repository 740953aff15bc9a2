using System.Buffers;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Sluice.Bench.Http;

/// <summary>
/// The least a server must do to answer "written and synced" for each request on this machine, for the durable
/// baseline (<see cref="BareEndpoint"/> with <c>--durable</c>): one file, one writer thread that takes every body
/// queued since its last round, writes them with one <c>pwritev</c>, syncs with one <c>fdatasync</c>, and completes
/// their waits (a group commit). No framing, no index, no offsets, no recovery: the file is a ring of blocks written
/// with zeros before the first request, so no sync ever grows the file or allocates a block (the cheapest sync there
/// is, cheaper than any log's). Bodies are kept in pooled arrays until their round is synced.
/// </summary>
internal sealed partial class GroupCommitFile : IDisposable
{
    private const long RingBytes = 8L * 1024 * 1024;

    private readonly SafeFileHandle _handle;
    private readonly Thread _writer;
    private readonly object _lock = new();
    private List<Pending> _queue = [];
    private List<Pending> _spare = [];
    private long _position;
    private bool _stopped;

    public GroupCommitFile(string path)
    {
        _handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        var zeros = new byte[1024 * 1024];
        for (long at = 0; at < RingBytes; at += zeros.Length)
        {
            RandomAccess.Write(_handle, zeros, at);
        }

        Sync();
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "bare-writer" };
        _writer.Start();
    }

    /// <summary>Copies <paramref name="body"/> and completes once it is written and synced.</summary>
    public Task AppendAsync(ReadOnlySpan<byte> body)
    {
        var copy = ArrayPool<byte>.Shared.Rent(body.Length);
        body.CopyTo(copy);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            _queue.Add(new Pending(copy, body.Length, done));
            if (_queue.Count == 1)
            {
                Monitor.PulseAll(_lock);
            }
        }

        return done.Task;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _stopped = true;
            Monitor.PulseAll(_lock);
        }

        _writer.Join();
        _handle.Dispose();
    }

    private void WriteLoop()
    {
        var buffers = new List<ReadOnlyMemory<byte>>();
        while (true)
        {
            List<Pending> round;
            lock (_lock)
            {
                while (_queue.Count == 0 && !_stopped)
                {
                    Monitor.Wait(_lock);
                }

                if (_stopped)
                {
                    return;
                }

                round = _queue;
                _queue = _spare;
            }

            buffers.Clear();
            long bytes = 0;
            foreach (var p in round)
            {
                buffers.Add(p.Body.AsMemory(0, p.Length));
                bytes += p.Length;
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
                ArrayPool<byte>.Shared.Return(p.Body);
                p.Done.SetResult();
            }

            round.Clear();
            lock (_lock)
            {
                _spare = round;
            }
        }
    }

    private void Sync()
    {
        if (DataSync(_handle) != 0)
        {
            throw new IOException($"fdatasync failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
    }

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int DataSync(SafeFileHandle fd);

    private readonly record struct Pending(byte[] Body, int Length, TaskCompletionSource Done);
}
