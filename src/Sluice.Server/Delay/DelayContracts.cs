using System.Text.Json.Serialization;

namespace Sluice.Server.Delay;

/// <summary>One pending delayed message of a listing.</summary>
internal sealed record DelayedMessageResponse(string Id, int Partition, DateTimeOffset DeliverAt);

/// <summary>
/// <c>GET .../delayed</c>: <see cref="Count"/> pending in <see cref="Partitions"/>, this page of them in delivery order,
/// and <see cref="Next"/> to pass as <c>?after=</c> for the next page (absent on the last).
/// </summary>
internal sealed record DelayedListResponse(
    long Count,
    List<DelayedMessageResponse> Messages,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Next,
    IReadOnlyList<int> Partitions,
    long IndexBytes);
