using System.Globalization;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http.Features;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Server.Problems;
using Sluice.Server.Subscriptions;
using Sluice.Server.Topics;

namespace Sluice.Server.Streaming;

/// <summary>
/// Query parameters shared by the SSE and WebSocket consumers. Everything is in the query, not in headers, because a
/// browser's <c>EventSource</c> and <c>WebSocket</c> cannot set headers.
/// </summary>
internal static class StreamRequest
{
    /// <summary>
    /// The bearer token for browsers, which cannot send an Authorization header on these routes; read by
    /// Security.AccessMiddleware on the SSE and WebSocket routes only, and never logged.
    /// </summary>
    public const string AccessTokenParameter = "access_token";

    /// <summary>
    /// The consumer id: <c>?consumer=</c> (or the pull's <c>Sluice-Consumer-Id</c> header, for clients that can send
    /// one), else <paramref name="fallback"/>, else a new per-connection id.
    /// </summary>
    public static string ConsumerId(HttpContext context, string? fallback, string prefix)
    {
        var request = context.Request;
        if (request.Query.TryGetValue("consumer", out var given) || request.Headers.TryGetValue(Subscriptions.SubscriptionEndpoints.ConsumerIdHeader, out given))
        {
            var id = given.ToString();
            if (!IsValidConsumerId(id))
            {
                ProblemException.Throw(ProblemKind.InvalidParameter, "consumer must be 1 to 255 printable ASCII characters");
            }

            return id;
        }

        if (fallback is not null && IsValidConsumerId(fallback))
        {
            return fallback;
        }

        // 96 random bits: unguessable, so one client cannot take over another's stream by naming its consumer. Made on
        // the stack, so the id is the one string this makes.
        Span<byte> random = stackalloc byte[12];
        RandomNumberGenerator.Fill(random);
        Span<char> chars = stackalloc char[prefix.Length + (random.Length * 2)];
        prefix.CopyTo(chars);
        Convert.TryToHexStringLower(random, chars[prefix.Length..], out _);
        return new string(chars);
    }

    public static bool IsValidConsumerId(string id)
    {
        if (id.Length is 0 or > 255)
        {
            return false;
        }

        foreach (var c in id)
        {
            if (c is < '!' or > '~')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// For a stream that has read its query and will stay open for a long time: drops the parsed query (its feature, a
    /// dictionary and its entries) instead of keeping it as long as the connection. A later read parses it again.
    /// </summary>
    public static void DropParsedQuery(HttpContext context)
    {
        context.Features.Set<IQueryFeature>(null);

        // The request object caches its features until it next reads one through its cache: a read lets go of the old copy.
        _ = context.Request.Path;
    }

    /// <summary>
    /// Creates the subscription on first use with <c>?type=</c>, <c>?position=</c> and <c>?filter=</c> (defaults
    /// otherwise); an existing subscription keeps its position, and a <c>type</c> or <c>filter</c> different from its
    /// own is refused.
    /// </summary>
    public static async ValueTask<SubscriptionSettings> EnsureSubscriptionAsync(HttpContext context, IServiceProvider services, TopicName topic, string name)
    {
        var query = context.Request.Query;
        SubscriptionType? type = query.TryGetValue("type", out var t) ? SubscriptionTypeNames.Parse(t.ToString()) : null;
        StartPosition? position = query.TryGetValue("position", out var p) ? ParsePosition(p.ToString()) : null;
        var filterGiven = query.TryGetValue("filter", out var f);
        var filter = filterGiven ? SubscriptionEndpoints.ParseFilter(f.ToString()) : null;
        await services.GetRequiredService<TopicDirectory>().GetPartitionCountAsync(topic, create: true, context.RequestAborted);

        var service = services.GetRequiredService<ISubscriptionService>();
        var directory = services.GetRequiredService<SubscriptionDirectory>();
        var existing = await service.GetSettingsAsync(topic, name, context.RequestAborted);
        if (existing is not null)
        {
            if (type is { } wanted && wanted != existing.Type)
            {
                ProblemException.Throw(ProblemKind.SubscriptionBusy, $"subscription '{name}' exists with type {SubscriptionTypeNames.Name(existing.Type)}, not {SubscriptionTypeNames.Name(wanted)}; omit type, or change it with PUT while no consumer is connected");
            }

            if (filterGiven && filter != existing.Filter)
            {
                throw new SubscriptionFilterFixedException(topic, name, existing.Filter, filter);
            }

            return existing;
        }

        var settings = directory.DefaultSettings with
        {
            Type = type ?? directory.DefaultSettings.Type,
            Position = position ?? directory.DefaultSettings.Position,
            Filter = filter,
        };
        await services.GetRequiredService<Security.TenantQuotas>().CheckSubscriptionAsync(topic, context.RequestAborted);
        var info = await service.CreateOrUpdateAsync(topic, name, settings, context.RequestAborted);
        directory.Remember(topic, name);
        return info.Settings;
    }

    /// <summary><c>earliest</c>, <c>latest</c>, an offset (every partition), or a time (ISO-8601 or epoch milliseconds).</summary>
    public static StartPosition ParsePosition(string value)
    {
        if (string.Equals(value, "earliest", StringComparison.OrdinalIgnoreCase))
        {
            return StartPosition.Earliest;
        }

        if (string.Equals(value, "latest", StringComparison.OrdinalIgnoreCase))
        {
            return StartPosition.Latest;
        }

        if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
        {
            return StartPosition.AtOffset(offset);
        }

        if (ParseTime(value) is { } time)
        {
            return StartPosition.AtTime(time);
        }

        throw new ProblemException(ProblemKind.InvalidParameter, $"position must be earliest, latest, an offset, or a time (ISO-8601 such as 2026-01-01T00:00:00Z); got '{ProblemWriter.Printable(value, 50)}'");
    }

    /// <summary>An ISO-8601 time, or null.</summary>
    public static DateTimeOffset? ParseTime(string value)
        => value.Contains('-', StringComparison.Ordinal) && DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)
            ? t
            : null;
}
