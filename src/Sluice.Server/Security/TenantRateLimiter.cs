using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;
using Sluice.Server.Problems;

namespace Sluice.Server.Security;

/// <summary>
/// Per-tenant rate limits (<c>limits:tenantRequestsPerSecond</c>, <c>limits:tenantBytesPerSecond</c>) with
/// System.Threading.RateLimiting token buckets partitioned by tenant: the route's <c>{tenant}</c>, else the
/// caller's first role (listings, webhooks), else one shared partition. Over the limit: 429 problem+json
/// with <c>Retry-After</c>. Bytes are the request body's declared Content-Length; a body without one is charged
/// as a full bucket. Runs after <see cref="AccessMiddleware"/>, so refused requests do not spend a tenant's budget.
/// </summary>
internal sealed partial class TenantRateLimiter : IAsyncDisposable
{
    private readonly PartitionedRateLimiter<string>? _requests;
    private readonly PartitionedRateLimiter<string>? _bytes;
    private readonly int _bytesBucket;
    private readonly ILogger<TenantRateLimiter> _logger;

    public TenantRateLimiter(IOptions<ServerOptions> options, ILogger<TenantRateLimiter> logger)
    {
        _logger = logger;
        var o = options.Value;
        if (o.TenantRequestsPerSecond > 0)
        {
            _requests = PartitionedRateLimiter.Create<string, string>(tenant => RateLimitPartition.GetTokenBucketLimiter(tenant, _ => Bucket(o.TenantRequestsPerSecond)));
        }

        if (o.TenantBytesPerSecond > 0)
        {
            // Permits are ints: a bucket holds at most 2 GiB, i.e. one second at the configured rate.
            _bytesBucket = (int)Math.Min(o.TenantBytesPerSecond, int.MaxValue);
            _bytes = PartitionedRateLimiter.Create<string, string>(tenant => RateLimitPartition.GetTokenBucketLimiter(tenant, _ => Bucket(_bytesBucket)));
        }
    }

    public bool Enabled => _requests is not null || _bytes is not null;

    public static string PartitionOf(HttpContext context)
        => context.Request.RouteValues["tenant"] is string tenant ? "tenant:" + tenant
            : Caller.Of(context) is { Roles.Count: > 0 } caller ? "role:" + caller.Roles[0]
            : "-";

    /// <summary>Null when the request may go on; else the Retry-After it must wait.</summary>
    public TimeSpan? TryAcquire(HttpContext context)
    {
        var partition = PartitionOf(context);
        if (_requests is not null)
        {
            using var lease = _requests.AttemptAcquire(partition);
            if (!lease.IsAcquired)
            {
                return RetryAfter(lease);
            }
        }

        if (_bytes is not null && HasBody(context.Request))
        {
            var length = context.Request.ContentLength ?? _bytesBucket;
            using var lease = _bytes.AttemptAcquire(partition, (int)Math.Min(length, _bytesBucket));
            if (!lease.IsAcquired)
            {
                return RetryAfter(lease);
            }
        }

        return null;
    }

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (TryAcquire(context) is not { } wait)
        {
            await next(context);
            return;
        }

        var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
        Log.RateLimited(_logger, ProblemWriter.Printable(PartitionOf(context), 100), seconds);
        context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await ErrorShape.For(context).WriteAsync(context, ProblemKind.RateLimited,
            $"this tenant is over its rate limit (limits:tenantRequestsPerSecond, limits:tenantBytesPerSecond); retry after {seconds} s");
    }

    public async ValueTask DisposeAsync()
    {
        if (_requests is not null)
        {
            await _requests.DisposeAsync();
        }

        if (_bytes is not null)
        {
            await _bytes.DisposeAsync();
        }
    }

    // One second's worth, refilled every second: bursts up to the limit, then the limit per second.
    private static TokenBucketRateLimiterOptions Bucket(int perSecond) => new()
    {
        TokenLimit = perSecond,
        TokensPerPeriod = perSecond,
        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    private static bool HasBody(HttpRequest request) => request.ContentLength > 0 || (request.ContentLength is null && request.Headers.TransferEncoding.Count > 0);

    private static TimeSpan RetryAfter(RateLimitLease lease) => lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.RateLimited, Level = LogLevel.Debug, Message = "Rate limited {Partition}; retry after {Seconds} s")]
        public static partial void RateLimited(ILogger logger, string partition, int seconds);
    }
}
