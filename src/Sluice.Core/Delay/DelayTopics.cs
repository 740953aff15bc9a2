using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Sluice.Core.Log;
using Sluice.Core.Topics;

namespace Sluice.Core.Delay;

/// <summary>
/// Where delayed messages live:
/// <code>
/// __sluice/delayed/{source}.g{generation}   holding topic of a source topic: same partitions, records of HoldingRecords
/// __sluice/system/delayed                   compacted state topic (one partition):
///     key "t|{source}"                      {"v":1,"generation":n,"deleted":false}: the source has a holding topic
///     key "p|{holding}|{partition}"         a holding partition's fired watermark (DelayWatermark)
/// </code>
/// A holding topic's name is its source's three parts escaped as Kafka names are (<c>_</c> to <c>__</c>, <c>.</c> to
/// <c>_.</c>) and joined by <c>.</c>, then <c>.g{generation}</c>: readable, and distinct for distinct sources. Names
/// that would be longer than 100 characters use <c>h{SHA-256 of the source, 40 hex}.g{generation}</c> instead (no
/// unescaped dot but the last, so never equal to a readable one), which also keeps the Kafka name under its 249.
/// The registry, not the name, says which source a holding topic serves. The generation grows each time the source's
/// delayed messages are deleted with it, so a holding topic's name is never used twice.
/// </summary>
internal static class DelayTopics
{
    public const string HoldingTenant = "__sluice";

    public const string HoldingNamespace = "delayed";

    public static readonly TopicName State = new("__sluice", "system", "delayed");

    public static readonly TopicSettings StateSettings = new() { Partitions = 1, Compacted = true };

    /// <summary>
    /// Retention of holding topics, a backstop behind trimming (the scheduler deletes what lies below its oldest pending
    /// message): the longest delay plus 30 days, so a message is never removed before it was due for a month.
    /// </summary>
    public static readonly TimeSpan HoldingRetention = DelayLimits.MaxDelay + TimeSpan.FromDays(30);

    private const int MaxReadableLength = 100;

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static TopicName HoldingName(TopicName source, long generation)
    {
        var sb = new StringBuilder(source.Tenant.Length + source.Namespace.Length + source.Name.Length + 16);
        Escape(sb, source.Tenant);
        sb.Append('.');
        Escape(sb, source.Namespace);
        sb.Append('.');
        Escape(sb, source.Name);
        if (sb.Length > MaxReadableLength)
        {
            var hash = SHA256.HashData(Encoding.UTF8.GetBytes(source.ToString()));
            sb.Clear().Append('h').Append(Convert.ToHexStringLower(hash)[..40]);
        }

        sb.Append(".g").Append(generation.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return new TopicName(HoldingTenant, HoldingNamespace, sb.ToString());
    }

    public static bool IsHolding(TopicName topic) => topic.Tenant == HoldingTenant && topic.Namespace == HoldingNamespace;

    public static TopicSettings HoldingSettings(int partitions) => new() { Partitions = partitions, RetentionTime = HoldingRetention };

    public static string RegistryKey(TopicName source) => "t|" + source;

    public static string WatermarkKey(TopicName holding, int partition)
        => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"p|{holding}|{partition}");

    public static byte[] Key(string key) => Encoding.UTF8.GetBytes(key);

    public static byte[] EncodeRegistration(long generation, bool deleted)
        => JsonSerializer.SerializeToUtf8Bytes(new Registration { Version = 1, Generation = generation, Deleted = deleted }, Json);

    public static bool TryDecodeRegistration(string key, ReadOnlySpan<byte> value, out TopicName source, out long generation, out bool deleted)
    {
        source = default;
        generation = 0;
        deleted = false;
        if (!key.StartsWith("t|", StringComparison.Ordinal))
        {
            return false;
        }

        try
        {
            var r = JsonSerializer.Deserialize<Registration>(value, Json);
            if (r is null || r.Version != 1 || r.Generation < 1)
            {
                return false;
            }

            source = TopicName.Parse(key[2..]);
            generation = r.Generation;
            deleted = r.Deleted;
            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidNameException)
        {
            return false;
        }
    }

    public static byte[] EncodeWatermark(DelayWatermark state)
        => JsonSerializer.SerializeToUtf8Bytes(
            new WatermarkRecord
            {
                Version = 1,
                BoundaryDue = state.Boundary.Due,
                BoundaryOffset = state.Boundary.Offset,
                ReadTo = state.ReadTo,
                ScanFrom = state.ScanFrom,
                Pending = state.Pending,
            },
            Json);

    public static bool TryDecodeWatermark(ReadOnlySpan<byte> value, out DelayWatermark state)
    {
        state = default;
        try
        {
            var r = JsonSerializer.Deserialize<WatermarkRecord>(value, Json);
            if (r is null || r.Version != 1 || r.ReadTo < 0 || r.ScanFrom < 0 || r.ScanFrom > r.ReadTo)
            {
                return false;
            }

            state = new DelayWatermark(new PendingEntry(r.BoundaryDue, r.BoundaryOffset), r.ReadTo, r.ScanFrom, r.Pending);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static void Escape(StringBuilder sb, string part)
    {
        foreach (var c in part)
        {
            if (c is '_' or '.')
            {
                sb.Append('_');
            }

            sb.Append(c);
        }
    }

    private sealed class Registration
    {
        [JsonPropertyName("v")]
        public int Version { get; set; }

        public long Generation { get; set; }

        public bool Deleted { get; set; }
    }

    private sealed class WatermarkRecord
    {
        [JsonPropertyName("v")]
        public int Version { get; set; }

        public long BoundaryDue { get; set; }

        public long BoundaryOffset { get; set; }

        public long ReadTo { get; set; }

        public long ScanFrom { get; set; }

        public long Pending { get; set; }
    }
}
