using System.Text.Json;
using System.Text.Json.Serialization;
using Sluice.Core.Log;

namespace Sluice.Storage.Topics;

/// <summary>
/// <c>topic.json</c>: a topic's settings, written atomically (temp file, fsync, rename, fsync of the directory).
/// </summary>
internal static class TopicStore
{
    public const string SettingsFile = "topic.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public static void Write(string topicDirectory, TopicSettings settings)
    {
        var file = new TopicFile
        {
            Version = 1,
            Partitions = settings.Partitions,
            RetentionMs = settings.RetentionTime is { } t ? (long)t.TotalMilliseconds : null,
            RetentionBytes = settings.RetentionBytes,
            Compacted = settings.Compacted,
        };
        var path = Path.Combine(topicDirectory, SettingsFile);
        var tmp = path + ".tmp";
        using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(stream, file, Json);
            stream.Flush(flushToDisk: true);
        }

        File.Move(tmp, path, overwrite: true);
        DirectorySync.Flush(topicDirectory);
    }

    public static TopicSettings Read(string topicDirectory)
    {
        var path = Path.Combine(topicDirectory, SettingsFile);
        var file = JsonSerializer.Deserialize<TopicFile>(File.ReadAllBytes(path), Json)
            ?? throw new InvalidDataException($"'{path}' is empty");
        return new TopicSettings
        {
            Partitions = file.Partitions,
            RetentionTime = file.RetentionMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null,
            RetentionBytes = file.RetentionBytes,
            Compacted = file.Compacted,
        };
    }

    private sealed class TopicFile
    {
        public int Version { get; set; }

        public int Partitions { get; set; }

        public long? RetentionMs { get; set; }

        public long? RetentionBytes { get; set; }

        public bool Compacted { get; set; }
    }
}
