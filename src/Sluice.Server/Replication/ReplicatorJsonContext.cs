using System.Text.Json;
using System.Text.Json.Serialization;
using Sluice.Core.Replication;

namespace Sluice.Server.Replication;

/// <summary>Source-generated JSON of the replicator routes' answers (requests are read field by field: ReplicatorRequestReader).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ReplicatorResponse))]
[JsonSerializable(typeof(ReplicatorListResponse))]
[JsonSerializable(typeof(ReplicatorStatus))]
internal sealed partial class ReplicatorJsonContext : JsonSerializerContext
{
    /// <summary>Like the API's own context: non-ASCII and <c>&lt; &gt; &amp; '</c> written as themselves.</summary>
    public static ReplicatorJsonContext Api { get; } = new(new JsonSerializerOptions(JsonSerializerDefaults.Web)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
