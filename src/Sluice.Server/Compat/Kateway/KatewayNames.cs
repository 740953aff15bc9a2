using System.Security.Cryptography;
using System.Text;
using Sluice.Core.Topics;

namespace Sluice.Server.Compat.Kateway;

/// <summary>
/// kateway's names in Sluice's:
/// <code>
///   topic   {appid}.{topic}.{ver} (its Kafka topic)      ──► tenant/namespace/name {appid}/{topic}/{ver}
///                                                            (on the Kafka backend: Kafka topic appid.topic.ver again)
///   group   {group} of app {myAppid}                     ──► subscription {myAppid}.{group}
///   X-Tag   t1;t2 on a pull                              ──► subscription {myAppid}.{group}.tags-{hash}, filter header.tag IN (...)
///   shadow  retry / dead queue of a group                ──► topic {appid}/{topic}/{ver}.{myAppid}.{group}.retry (or .dead)
/// </code>
/// </summary>
internal static class KatewayNames
{
    public const string Retry = "retry";
    public const string Dead = "dead";

    /// <summary>The route's topic: <c>{appid}</c> (or the caller's app on pub routes), <c>{topic}</c>, <c>{ver}</c>; 400 "illegal topic".</summary>
    public static TopicName Topic(string appid, HttpContext context)
    {
        var values = context.Request.RouteValues;
        var topic = values["topic"] as string;
        var ver = values["ver"] as string;
        if (!TopicName.IsValidPart(topic, out _) || !TopicName.IsValidPart(ver, out _) || topic!.Length > 100)
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, "illegal topic");
        }

        return new TopicName(appid, topic, ver!);
    }

    /// <summary>The route's <c>:appid</c>, the app whose topic it is; 400 "invalid appid".</summary>
    public static string RouteApp(HttpContext context)
    {
        var appid = context.Request.RouteValues["appid"] as string ?? "";
        if (!TopicName.IsValidPart(appid, out _) || appid.StartsWith(TopicName.InternalTenantPrefix, StringComparison.Ordinal))
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, "invalid appid");
        }

        return appid;
    }

    /// <summary>kateway's group names: letters, digits, '_' and '-'; 400 "illegal group".</summary>
    public static string Group(string? group)
    {
        if (string.IsNullOrEmpty(group) || group.Length > 200 || !group.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, "illegal group");
        }

        return group;
    }

    /// <summary><c>q=retry|dead</c> (or an <c>X-Bury</c> target): null for the topic itself; 400 otherwise.</summary>
    public static string? Shadow(string? value, string error)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        return value is Retry or Dead ? value : throw new CompatException(StatusCodes.Status400BadRequest, error);
    }

    public static TopicName ShadowTopic(TopicName topic, string myAppid, string group, string shadow)
    {
        var name = $"{topic.Name}.{myAppid}.{group}.{shadow}";
        if (!TopicName.IsValidPart(name, out _))
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, "illegal topic");
        }

        return new TopicName(topic.Tenant, topic.Namespace, name);
    }

    public static string Subscription(string myAppid, string group, IReadOnlyList<string>? tags)
        => tags is null ? $"{myAppid}.{group}" : $"{myAppid}.{group}.tags-{TagHash(tags)}";

    /// <summary>The tags of an <c>X-Tag</c> header (<c>t1;t2</c>, cookie rules), sorted and distinct; null when absent.</summary>
    public static IReadOnlyList<string>? Tags(HttpContext context)
    {
        var header = context.Request.Headers["X-Tag"].ToString();
        if (header.Length == 0)
        {
            return null;
        }

        var tags = header.TrimEnd(';').Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        return tags.Count == 0 ? null : tags;
    }

    /// <summary>A filter matching messages whose <c>tag</c> header is one of <paramref name="tags"/>.</summary>
    public static string TagFilter(IReadOnlyList<string> tags)
        => "header.tag IN (" + string.Join(", ", tags.Select(t => "\"" + t.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal) + "\"")) + ")";

    /// <summary>
    /// A message's position from <c>X-Partition</c> and <c>X-Offset</c>: null when both are absent; one without the other
    /// is 400 <paramref name="partial"/>, a value that is not a number 400 <paramref name="bad"/> + " offset" or " partition",
    /// as kateway's routes word it. <paramref name="signed"/> accepts kateway's -1 ("nothing yet").
    /// </summary>
    public static (int Partition, long Offset)? Position(HttpContext context, string partial, string bad, bool signed)
    {
        var partitionText = context.Request.Headers["X-Partition"].ToString();
        var offsetText = context.Request.Headers["X-Offset"].ToString();
        if (partitionText.Length == 0 && offsetText.Length == 0)
        {
            return null;
        }

        if (partitionText.Length == 0 || offsetText.Length == 0)
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, partial);
        }

        var style = signed ? System.Globalization.NumberStyles.AllowLeadingSign : System.Globalization.NumberStyles.None;
        if (!long.TryParse(offsetText, style, System.Globalization.CultureInfo.InvariantCulture, out var offset))
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, bad + " offset");
        }

        if (!int.TryParse(partitionText, style, System.Globalization.CultureInfo.InvariantCulture, out var partition))
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, bad + " partition");
        }

        return (partition, offset);
    }

    /// <summary>The app and group of a subscription named by <see cref="Subscription"/>, else null.</summary>
    public static (string App, string Group)? Parse(string subscription)
    {
        var dot = subscription.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 && dot < subscription.Length - 1 ? (subscription[..dot], subscription[(dot + 1)..]) : null;
    }

    private static string TagHash(IReadOnlyList<string> tags)
        => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', tags))))[..16];
}
