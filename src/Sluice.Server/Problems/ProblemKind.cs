namespace Sluice.Server.Problems;

/// <summary>
/// A kind of error a client can cause. <see cref="Type"/> (<c>urn:sluice:problem:&lt;kind&gt;</c>) is stable:
/// clients branch on it, so a kind is never renamed or reused.
/// </summary>
internal sealed record ProblemKind(string Name, string Title, int Status)
{
    public string Type { get; } = "urn:sluice:problem:" + Name;

    public static readonly ProblemKind InvalidName = new("invalid-name", "Invalid name", StatusCodes.Status400BadRequest);
    public static readonly ProblemKind MalformedJson = new("malformed-json", "Malformed JSON", StatusCodes.Status400BadRequest);
    public static readonly ProblemKind InvalidBase64 = new("invalid-base64", "Invalid base64", StatusCodes.Status400BadRequest);
    public static readonly ProblemKind InvalidParameter = new("invalid-parameter", "Invalid parameter", StatusCodes.Status400BadRequest);
    public static readonly ProblemKind OffsetOutOfRange = new("offset-out-of-range", "Offset out of range", StatusCodes.Status400BadRequest);
    public static readonly ProblemKind MessageTooLarge = new("message-too-large", "Message too large", StatusCodes.Status413PayloadTooLarge);
    public static readonly ProblemKind TopicNotFound = new("topic-not-found", "Topic not found", StatusCodes.Status404NotFound);
    public static readonly ProblemKind PartitionNotFound = new("partition-not-found", "Partition not found", StatusCodes.Status404NotFound);
    public static readonly ProblemKind SubscriptionNotFound = new("subscription-not-found", "Subscription not found", StatusCodes.Status404NotFound);
    public static readonly ProblemKind SubscriptionBusy = new("subscription-busy", "Subscription busy", StatusCodes.Status409Conflict);
    public static readonly ProblemKind RouteNotFound = new("not-found", "Not found", StatusCodes.Status404NotFound);
    public static readonly ProblemKind MethodNotAllowed = new("method-not-allowed", "Method not allowed", StatusCodes.Status405MethodNotAllowed);
    public static readonly ProblemKind UnsupportedMediaType = new("unsupported-media-type", "Unsupported media type", StatusCodes.Status415UnsupportedMediaType);
    public static readonly ProblemKind BadRequest = new("bad-request", "Bad request", StatusCodes.Status400BadRequest);
    public static readonly ProblemKind SubscriptionStreamLimit = new("subscription-stream-limit", "Too many streams on this subscription", StatusCodes.Status429TooManyRequests);
    public static readonly ProblemKind ServerStreamLimit = new("server-stream-limit", "Too many streams on this server", StatusCodes.Status503ServiceUnavailable);
    public static readonly ProblemKind WebhookNotFound = new("webhook-not-found", "Webhook not found", StatusCodes.Status404NotFound);
    public static readonly ProblemKind WebhookUrlRefused = new("webhook-url-refused", "Webhook URL refused", StatusCodes.Status400BadRequest);
    public static readonly ProblemKind Unauthorized = new("unauthorized", "Unauthorized", StatusCodes.Status401Unauthorized);
    public static readonly ProblemKind Forbidden = new("forbidden", "Forbidden", StatusCodes.Status403Forbidden);
    public static readonly ProblemKind RateLimited = new("rate-limited", "Too many requests", StatusCodes.Status429TooManyRequests);
    public static readonly ProblemKind QuotaExceeded = new("quota-exceeded", "Quota exceeded", StatusCodes.Status409Conflict);
    public static readonly ProblemKind InvalidFilter = new("invalid-filter", "Invalid filter", StatusCodes.Status400BadRequest);
    public static readonly ProblemKind FilterImmutable = new("filter-immutable", "Filter cannot change", StatusCodes.Status409Conflict);
    public static readonly ProblemKind NotCancellable = new("not-cancellable", "Not cancellable", StatusCodes.Status409Conflict);
    public static readonly ProblemKind DelayUnavailable = new("delay-unavailable", "Delayed message's scheduler unavailable", StatusCodes.Status503ServiceUnavailable);
    public static readonly ProblemKind NotSupported = new("not-supported", "Not supported by this backend", StatusCodes.Status501NotImplemented);
    public static readonly ProblemKind OriginNotAllowed = new("origin-not-allowed", "Origin not allowed", StatusCodes.Status403Forbidden);
    public static readonly ProblemKind HostNotAllowed = new("host-not-allowed", "Host not allowed", StatusCodes.Status421MisdirectedRequest);
    public static readonly ProblemKind ReplicatorNotFound = new("replicator-not-found", "Replicator not found", StatusCodes.Status404NotFound);
    public static readonly ProblemKind ReplicatorExists = new("replicator-exists", "Replicator exists", StatusCodes.Status409Conflict);
    public static readonly ProblemKind ReplicatorRunning = new("replicator-running", "Replicator running", StatusCodes.Status409Conflict);
    public static readonly ProblemKind NotServedHere = new("not-served-here", "Not served by this instance", StatusCodes.Status404NotFound);
    public static readonly ProblemKind ClusterNotFound = new("cluster-not-found", "Cluster not found", StatusCodes.Status404NotFound);
    public static readonly ProblemKind Internal = new("internal", "Internal server error", StatusCodes.Status500InternalServerError);
    public static readonly ProblemKind StorageFull = new("storage-full", "Insufficient storage", StatusCodes.Status507InsufficientStorage);
    public static readonly ProblemKind CorruptRecords = new("corrupt-records", "Records damaged on disk", StatusCodes.Status500InternalServerError);
}
