using System.Security.Cryptography;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Server.Security;

namespace Sluice.Server.Compat.Beam;

/// <summary>
/// What a Beam consumer route (<c>/v2/sse</c>, <c>/v2/poll</c>) asks for, from its query: <c>SubscriptionName</c> (5 or
/// more characters; absent: a temporary <c>NonResumable…</c> subscription deleted when the request ends),
/// <c>SubscriptionType</c> (<c>exclusive</c> by default, <c>shared</c>, <c>keyshared</c>, <c>failover</c>) and
/// <c>SubscriptionInitialPosition</c> (<c>latest</c> by default, <c>earliest</c>). Errors are 422 with Beam's messages.
/// </summary>
/// <remarks>
/// Consumer ids: exclusive and failover subscriptions take every Beam client as the one consumer <c>beam</c>, so a client
/// that reconnects is served at once (Pulsar frees an exclusive subscription when its consumer closes; Sluice keeps a
/// consumer's session for <c>subscriptions:consumerSessionTimeoutMs</c>), and a second stream takes over from the first.
/// Shared and key_shared subscriptions give each request its own consumer id.
/// </remarks>
internal sealed record BeamConsumerRequest(TopicName Topic, string Scheme, string Subscription, bool Temporary, SubscriptionType Type, StartPosition Position, string ConsumerId)
{
    /// <summary>Beam's prefix of the temporary subscriptions it makes when a request names none.</summary>
    public const string NonResumable = "NonResumable";

    public string FullName => BeamNames.FullName(Scheme, Topic);

    public static async ValueTask<BeamConsumerRequest> ParseAsync(HttpContext context, BeamServices beam, StartPosition? position = null)
    {
        var caller = await beam.Access.AuthenticateAsync(context);
        beam.Access.CheckCluster(context, StatusCodes.Status422UnprocessableEntity);
        var (topic, scheme) = BeamNames.FromRoute(context);
        var query = context.Request.Query;

        var typeText = query.TryGetValue("SubscriptionType", out var t) ? t[0] ?? "" : "exclusive";
        var type = typeText.ToLowerInvariant() switch
        {
            "exclusive" or "" => SubscriptionType.Exclusive,
            "shared" => SubscriptionType.Shared,
            "keyshared" => SubscriptionType.KeyShared,
            "failover" => SubscriptionType.Failover,
            _ => throw new CompatException(StatusCodes.Status422UnprocessableEntity, $"unsupported subscription type {typeText}"),
        };

        var positionText = query.TryGetValue("SubscriptionInitialPosition", out var p) ? p[0] ?? "" : "latest";
        var initial = positionText.ToLowerInvariant() switch
        {
            "latest" or "" => StartPosition.Latest,
            "earliest" => StartPosition.Earliest,
            _ => throw new CompatException(StatusCodes.Status422UnprocessableEntity, $"invalid subscription initial position {positionText}"),
        };

        var name = query.TryGetValue("SubscriptionName", out var n) ? n[0] ?? "" : "";
        var temporary = name.Length == 0;
        if (temporary)
        {
            name = NonResumable + Guid.NewGuid().ToString();
        }
        else if (name.Length < 5)
        {
            CompatException.Throw(StatusCodes.Status422UnprocessableEntity, "subscription name must be more than 4 characters");
        }
        else if (!TopicName.IsValidPart(name, out var reason))
        {
            CompatException.Throw(StatusCodes.Status422UnprocessableEntity, $"subscription name {reason} (here: 5 to 255 letters, digits, '-', '_' or '.')");
        }

        beam.Access.Require(caller, topic, Permission.Consume);
        var consumer = type is SubscriptionType.Exclusive or SubscriptionType.Failover ? "beam" : "beam-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        return new BeamConsumerRequest(topic, scheme, name, temporary, type, position ?? initial, consumer);
    }

    /// <summary>
    /// Creates the subscription with this type and position when absent. An existing one keeps its position; a
    /// different type is applied as Pulsar does while no consumer is attached, else refused (409).
    /// </summary>
    public async ValueTask<SubscriptionSettings> EnsureAsync(BeamServices beam, CancellationToken cancellationToken)
    {
        await beam.Topics.GetPartitionCountAsync(Topic, create: true, cancellationToken);
        var existing = await beam.Subscriptions.GetSettingsAsync(Topic, Subscription, cancellationToken);
        if (existing is not null && existing.Type == Type)
        {
            return existing;
        }

        if (existing is null)
        {
            await beam.Quotas.CheckSubscriptionAsync(Topic, cancellationToken);
        }

        var settings = (existing ?? beam.SubscriptionDirectory.DefaultSettings with { Position = Position }) with { Type = Type };
        SubscriptionInfo info;
        try
        {
            info = await beam.Subscriptions.CreateOrUpdateAsync(Topic, Subscription, settings, cancellationToken);
        }
        catch (InvalidSubscriptionSettingsException ex)
        {
            throw new CompatException(StatusCodes.Status409Conflict, $"subscription {Subscription} is of another type while consumers are attached: {ex.Message}");
        }

        beam.SubscriptionDirectory.Remember(Topic, Subscription);
        return info.Settings;
    }

    /// <summary>A temporary subscription goes when its request ends, as Beam unsubscribes it.</summary>
    public async ValueTask EndAsync(BeamServices beam)
    {
        if (!Temporary)
        {
            return;
        }

        try
        {
            await beam.Subscriptions.DeleteAsync(Topic, Subscription, CancellationToken.None);
        }
        catch (ObjectDisposedException)
        {
            // The engine is shutting down: the subscription is left for an operator to delete.
        }

        beam.SubscriptionDirectory.Forget(Topic, Subscription);
    }
}
