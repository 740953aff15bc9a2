using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Sluice.Core.Topics;

namespace Sluice.Server.Compat.Beam;

/// <summary>
/// Pulsar names as Beam takes them: <c>{persistent}</c> route values, <c>persistent://tenant/namespace/topic</c> full
/// names (the <c>TopicFn</c> header, topic documents), and a document's key, the SHA-1 of its topic and cluster URL.
/// Both persistent and non-persistent names map to the Sluice topic <c>tenant/namespace/topic</c>, which is durable.
/// </summary>
internal static partial class BeamNames
{
    public const string Persistent = "persistent";
    public const string NonPersistent = "non-persistent";

    /// <summary>The route's topic and the scheme it was named with; 422 with Beam's message for another <c>{persistent}</c>.</summary>
    public static (TopicName Topic, string Scheme) FromRoute(HttpContext context)
    {
        var values = context.Request.RouteValues;
        var scheme = (values["persistent"] as string) switch
        {
            "persistent" or "p" => Persistent,
            "non-persistent" or "np" => NonPersistent,
            _ => throw new CompatException(StatusCodes.Status422UnprocessableEntity, "supported persistent types are persistent, p, non-persistent, np"),
        };
        return (Checked(values["tenant"] as string, values["namespace"] as string, values["topic"] as string), scheme);
    }

    /// <summary>
    /// A full name, <c>persistent://tenant/namespace/topic</c> or <c>non-persistent://...</c> (also <c>tenant/namespace/topic</c>,
    /// which Pulsar reads as persistent); 422 for anything else.
    /// </summary>
    public static (TopicName Topic, string Scheme) Parse(string fullName)
    {
        var name = fullName.Trim();
        var scheme = Persistent;
        var schemeEnd = name.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd >= 0)
        {
            scheme = name[..schemeEnd];
            if (scheme is not (Persistent or NonPersistent))
            {
                CompatException.Throw(StatusCodes.Status422UnprocessableEntity, "invalid persistent or non-persistent part");
            }

            name = name[(schemeEnd + 3)..];
        }

        var parts = name.Split('/');
        if (parts.Length != 3)
        {
            CompatException.Throw(StatusCodes.Status422UnprocessableEntity, "missing tenant, namespace, or topic name");
        }

        return (Checked(parts[0], parts[1], parts[2]), scheme);
    }

    public static string FullName(string scheme, TopicName topic) => $"{scheme}://{topic}";

    /// <summary>A topic document's key: lowercase hex SHA-1 of the trimmed full name and the trimmed cluster URL.</summary>
    public static string Key(string? topicFullName, string? pulsarUrl)
    {
        var url = pulsarUrl?.Trim() ?? "";
        var name = topicFullName?.Trim() ?? "";
        if (url.Length == 0 || name.Length == 0)
        {
            CompatException.Throw(StatusCodes.Status422UnprocessableEntity, "missing PulsarURL or TopicFullName");
        }

        if (!IsClusterUrl(url))
        {
            CompatException.Throw(StatusCodes.Status422UnprocessableEntity, $"incorrect pulsar url format {url}");
        }

        return Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(name + url)));
    }

    /// <summary>Beam's pattern for a cluster URL: <c>pulsar://host[:port]</c> or <c>pulsar+ssl://host[:port]</c>.</summary>
    public static bool IsClusterUrl(string url) => ClusterUrl().IsMatch(url);

    private static TopicName Checked(string? tenant, string? @namespace, string? topic)
    {
        if (!TopicName.IsValidPart(tenant, out var reason) || !TopicName.IsValidPart(@namespace, out reason) || !TopicName.IsValidPart(topic, out reason))
        {
            CompatException.Throw(StatusCodes.Status422UnprocessableEntity, $"topic name parts must be 1 to 255 letters, digits, '-', '_' or '.' here: a part {reason}");
        }

        var name = new TopicName(tenant!, @namespace!, topic!);
        if (name.IsInternal)
        {
            CompatException.Throw(StatusCodes.Status422UnprocessableEntity, $"tenant names starting with '{TopicName.InternalTenantPrefix}' are reserved");
        }

        return name;
    }

    [GeneratedRegex(@"^(pulsar|pulsar\+ssl)?:\/\/[a-zA-Z0-9]+([\-\.]{1}[a-zA-Z0-9]+)*(:[0-9]{0,6})?$")]
    private static partial Regex ClusterUrl();
}
