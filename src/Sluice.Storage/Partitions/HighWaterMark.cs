using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text;

namespace Sluice.Storage.Partitions;

/// <summary>
/// <c>high-water-mark</c> in a partition directory: what the partition ever handed out, so that recovery, when it has to
/// cut a damaged tail, resumes above it (a gap) instead of handing the lost records' offsets out again.
/// <code>
///  0  8  "SLUICEHW"
///  8  4  format version (1), then 4 zero bytes
/// 16 16  boot id of the machine when the file was last opened (zero when unknown)
/// 32  8  reserved: no offset at or above it was ever handed out. Raised (and msync'd) before the writer assigns one
/// 40  8    its bitwise complement
/// 48  8  end: the partition's next offset after the last commit, stored at every commit (memory only, not synced)
/// 56  8    its bitwise complement
/// </code>
/// The file is memory-mapped: storing the end costs two memory writes, no system call, and survives a killed process
/// (the page cache keeps it). Only a machine crash can lose it, which the boot id reveals; then recovery trusts the
/// reservation, which is synced. A value whose complement does not match (a store cut short) counts as unknown.
/// </summary>
internal sealed class HighWaterMark : IDisposable
{
    public const string FileName = "high-water-mark";
    private const int FileBytes = 64;
    private const int VersionOffset = 8;
    private const int BootIdOffset = 16;
    private const int ReservedOffset = 32;
    private const int EndOffsetPosition = 48;
    private const int FormatVersion = 1;
    private static readonly byte[] Magic = Encoding.ASCII.GetBytes("SLUICEHW");
    private static readonly Lazy<Guid> CurrentBoot = new(ReadBootId);

    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private long _reserved;

    private HighWaterMark(MemoryMappedFile file, MemoryMappedViewAccessor view, long reserved)
    {
        _file = file;
        _view = view;
        _reserved = reserved;
    }

    /// <summary>Offsets below this may have been handed out; none at or above it was.</summary>
    public long Reserved => _reserved;

    /// <summary>
    /// Opens the partition's file (creating it, synced, when missing) and returns what the previous run left in it.
    /// <paramref name="previous"/> is <see cref="Previous.None"/> when the file did not exist or is not readable.
    /// </summary>
    public static HighWaterMark Open(string directory, out Previous previous)
    {
        var path = Path.Combine(directory, FileName);
        previous = Previous.None;
        var readable = false;
        if (File.Exists(path))
        {
            var bytes = File.ReadAllBytes(path);
            if (bytes.Length == FileBytes && bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic)
                && BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(VersionOffset)) == FormatVersion)
            {
                var boot = new Guid(bytes.AsSpan(BootIdOffset, 16));
                previous = new Previous(
                    Exists: true,
                    Reserved: ReadChecked(bytes, ReservedOffset),
                    End: ReadChecked(bytes, EndOffsetPosition),
                    SameBoot: boot != Guid.Empty && boot == CurrentBoot.Value);
                readable = true;
            }
            else
            {
                previous = Previous.Unreadable;
            }
        }

        if (!readable)
        {
            // Created whole and synced before it is mapped: a crash leaves either no file or a complete one.
            var tmp = path + ".tmp";
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                var fresh = new byte[FileBytes];
                Magic.CopyTo(fresh, 0);
                BinaryPrimitives.WriteInt32LittleEndian(fresh.AsSpan(VersionOffset), FormatVersion);
                stream.Write(fresh);
                stream.Flush(flushToDisk: true);
            }

            File.Move(tmp, path, overwrite: true);
            DirectorySync.Flush(directory);
        }

        var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, FileBytes, MemoryMappedFileAccess.ReadWrite);
        try
        {
            var view = file.CreateViewAccessor(0, FileBytes, MemoryMappedFileAccess.ReadWrite);
            var mark = new HighWaterMark(file, view, previous.Reserved ?? 0);
            Span<byte> boot = stackalloc byte[16];
            CurrentBoot.Value.TryWriteBytes(boot);
            for (var i = 0; i < boot.Length; i++)
            {
                view.Write(BootIdOffset + i, boot[i]);
            }

            return mark;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Stores the partition's end after a commit: two memory writes, not synced.</summary>
    public void SetEnd(long end) => WriteChecked(EndOffsetPosition, end);

    /// <summary>Raises the reservation to <paramref name="upTo"/> and forces it to disk (msync) before returning.</summary>
    public void Reserve(long upTo)
    {
        if (upTo <= _reserved)
        {
            return;
        }

        WriteChecked(ReservedOffset, upTo);
        _view.Flush();
        _reserved = upTo;
    }

    public void Dispose()
    {
        _view.Dispose();
        _file.Dispose();
    }

    private void WriteChecked(int position, long value)
    {
        _view.Write(position, value);
        _view.Write(position + 8, ~value);
    }

    private static long? ReadChecked(byte[] bytes, int position)
    {
        var value = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(position));
        var check = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(position + 8));
        return check == ~value && value >= 0 ? value : null;
    }

    // Linux's id of the current boot: a different one means the machine restarted, and unsynced stores may be gone.
    private static Guid ReadBootId()
    {
        try
        {
            return Guid.TryParse(File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim(), out var id) ? id : Guid.Empty;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Guid.Empty;
        }
    }

    /// <summary>What a previous run left: values are null when unknown (never stored, or a store cut short).</summary>
    internal sealed record Previous(bool Exists, long? Reserved, long? End, bool SameBoot)
    {
        public static readonly Previous None = new(false, null, null, false);

        public static readonly Previous Unreadable = new(true, null, null, false);

        /// <summary>The end is the exact end of the last commit: stored in this boot, so no machine crash could lose it.</summary>
        public bool ExactEnd => SameBoot && End is not null;
    }
}
