using Sluice.Core.Topics;
using Sluice.Server.Configuration;

namespace Sluice.Server.Compat.Kateway;

/// <summary>
/// kateway's apps: <c>kateway:apps:{appid}</c> = the app's secret, which its clients send as <c>Pubkey</c> (publish) or
/// <c>Subkey</c> (consume) beside <c>Appid</c>. An app owns the topics of its tenant (tenant = app id). Secrets are never
/// logged or echoed, in errors at start included.
/// </summary>
internal static class KatewayApps
{
    private const string Prefix = "kateway:apps:";

    /// <summary>The app id of a <c>kateway:apps:{appid}</c> key, else null.</summary>
    public static string? AppOf(string key)
        => key.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) && key.Length > Prefix.Length && key.IndexOf(':', Prefix.Length) < 0 ? key[Prefix.Length..] : null;

    public static void Add(ServerOptions options, string app, string secret, string source, List<string> errors)
    {
        if (!TopicName.IsValidPart(app, out var reason) || app.StartsWith(TopicName.InternalTenantPrefix, StringComparison.Ordinal))
        {
            errors.Add($"invalid kateway app id in {source}: an app id is a tenant name (1 to 255 letters, digits, '-', '_', '.', not starting with '__'); this one {reason ?? "is reserved"}");
            return;
        }

        if (secret.Length is 0 or > 1024 || secret.Any(char.IsControl))
        {
            // The value is a secret: say what is wrong with it, never what it is.
            errors.Add($"invalid secret for kateway app '{app}' from {source}: expected 1 to 1024 characters without control characters");
            return;
        }

        options.KatewayApps[app] = secret;
    }
}
