using System.Text.Json;
using Microsoft.Extensions.Logging;
using Sluice.Core.Log;

namespace Sluice.Storage.Partitions;

/// <summary>
/// The damaged offset ranges of one partition: what reads refuse at once (without touching the files again) and what its
/// status shows. Kept in <c>corrupt-ranges.json</c> (temp file, fsync, rename), so they stay visible after a restart,
/// until retention deletes the segments that held them. Damage is rare: a sorted array copied on change is enough.
/// </summary>
internal sealed partial class CorruptRegistry
{
    public const string FileName = "corrupt-ranges.json";
    private const int FormatVersion = 1;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private readonly string _directory;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private CorruptRange[] _ranges;

    private CorruptRegistry(string directory, ILogger logger, CorruptRange[] ranges)
    {
        _directory = directory;
        _logger = logger;
        _ranges = ranges;
    }

    /// <summary>Sorted by offset, not overlapping.</summary>
    public IReadOnlyList<CorruptRange> Ranges => Volatile.Read(ref _ranges);

    public static CorruptRegistry Load(string directory, ILogger logger)
    {
        var path = Path.Combine(directory, FileName);
        CorruptRange[] ranges = [];
        try
        {
            if (File.Exists(path))
            {
                var file = JsonSerializer.Deserialize<RegistryFile>(File.ReadAllBytes(path), Json);
                if (file is { Version: FormatVersion, Ranges: { } list })
                {
                    ranges = [.. list.Where(r => r.ToOffset > r.FromOffset && r.FromOffset >= 0)
                        .Select(r => new CorruptRange(r.FromOffset, r.ToOffset, r.Reason ?? "unknown", r.DetectedAt))
                        .OrderBy(r => r.FromOffset)];
                }
                else
                {
                    Log.RegistryUnreadable(logger, path, $"unknown format version {file?.Version}");
                }
            }
        }
        catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException)
        {
            // Only the record of earlier damage is lost: the damage itself is found again when read.
            Log.RegistryUnreadable(logger, path, ex.Message);
        }

        return new CorruptRegistry(directory, logger, ranges);
    }

    /// <summary>The range holding <paramref name="offset"/>, or null (at once when the partition has no damage).</summary>
    public CorruptRange? Find(long offset)
    {
        var ranges = Volatile.Read(ref _ranges);
        foreach (var r in ranges)
        {
            if (offset < r.FromOffset)
            {
                return null;
            }

            if (offset < r.ToOffset)
            {
                return r;
            }
        }

        return null;
    }

    /// <summary>
    /// Records a damaged range (merged with the ranges it overlaps) and writes the file. Returns false when the range was
    /// already known entirely.
    /// </summary>
    public bool Add(CorruptRange range)
    {
        lock (_gate)
        {
            var ranges = _ranges;
            if (ranges.Any(r => r.FromOffset <= range.FromOffset && range.ToOffset <= r.ToOffset))
            {
                return false;
            }

            var from = range.FromOffset;
            var to = range.ToOffset;
            var detected = range.DetectedAt;
            var kept = new List<CorruptRange>(ranges.Length + 1);
            foreach (var r in ranges)
            {
                if (r.ToOffset < from || r.FromOffset > to)
                {
                    kept.Add(r);
                    continue;
                }

                from = Math.Min(from, r.FromOffset);
                to = Math.Max(to, r.ToOffset);
                detected = detected < r.DetectedAt ? detected : r.DetectedAt;
            }

            kept.Add(range with { FromOffset = from, ToOffset = to, DetectedAt = detected });
            kept.Sort((a, b) => a.FromOffset.CompareTo(b.FromOffset));
            Volatile.Write(ref _ranges, [.. kept]);
            Save();
            return true;
        }
    }

    /// <summary>Forgets ranges that retention removed (wholly below <paramref name="startOffset"/>).</summary>
    public void PruneBelow(long startOffset)
    {
        lock (_gate)
        {
            var ranges = _ranges;
            if (ranges.Length == 0 || ranges[0].ToOffset > startOffset)
            {
                return;
            }

            Volatile.Write(ref _ranges, [.. ranges.Where(r => r.ToOffset > startOffset)]);
            Save();
        }
    }

    // Under _gate. A failed write (a full disk, say) keeps the ranges in memory; the next change writes them all.
    private void Save()
    {
        var path = Path.Combine(_directory, FileName);
        var tmp = path + ".tmp";
        try
        {
            if (_ranges.Length == 0)
            {
                File.Delete(path);
                DirectorySync.Flush(_directory);
                return;
            }

            var file = new RegistryFile
            {
                Version = FormatVersion,
                Ranges = [.. _ranges.Select(r => new RangeEntry { FromOffset = r.FromOffset, ToOffset = r.ToOffset, Reason = r.Reason, DetectedAt = r.DetectedAt })],
            };
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                JsonSerializer.Serialize(stream, file, Json);
                stream.Flush(flushToDisk: true);
            }

            File.Move(tmp, path, overwrite: true);
            DirectorySync.Flush(_directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.RegistryWriteFailed(_logger, path, ex.Message);
            try
            {
                File.Delete(tmp);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                // Removed at the next open of the partition at the latest.
            }
        }
    }

    private sealed class RegistryFile
    {
        public int Version { get; set; }

        public List<RangeEntry>? Ranges { get; set; }
    }

    private sealed class RangeEntry
    {
        public long FromOffset { get; set; }

        public long ToOffset { get; set; }

        public string? Reason { get; set; }

        public DateTimeOffset DetectedAt { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = StorageEventIds.CorruptRegistryUnreadable, Level = LogLevel.Warning,
            Message = "Could not read '{File}' ({Reason}); damaged ranges found earlier are reported again when read")]
        public static partial void RegistryUnreadable(ILogger logger, string file, string reason);

        [LoggerMessage(EventId = StorageEventIds.CorruptRegistryWriteFailed, Level = LogLevel.Warning,
            Message = "Could not write '{File}' ({Reason}); the damaged ranges stay known until the process stops")]
        public static partial void RegistryWriteFailed(ILogger logger, string file, string reason);
    }
}
