namespace Sluice.Cli.Connection;

/// <summary>Where the server is and how to authenticate, and where each came from (for error messages).</summary>
internal sealed record ClientSettings(Uri Server, string ServerSource, string? Token, string? TokenSource)
{
    public const string DefaultServer = "http://127.0.0.1:8080";

    /// <summary>
    /// Resolves, highest precedence first: flags (<c>--server</c>, <c>--token</c>), environment (<c>SLUICE_SERVER</c>,
    /// <c>SLUICE_TOKEN</c>), the config file (<c>--config</c>, else <c>$SLUICE_CLI_CONFIG</c>, else
    /// <c>$XDG_CONFIG_HOME/sluice/config.yaml</c> or <c>~/.config/sluice/config.yaml</c> when present), the default server.
    /// </summary>
    public static ClientSettings Resolve(string? serverFlag, string? tokenFlag, string? configFlag, Func<string, string?> environment)
    {
        var configPath = configFlag ?? NonEmpty(environment("SLUICE_CLI_CONFIG")) ?? DefaultConfigPath(environment);
        var mustExist = configFlag is not null || NonEmpty(environment("SLUICE_CLI_CONFIG")) is not null;
        var file = configPath is not null && (mustExist || File.Exists(configPath)) ? ClientConfigFile.Load(configPath) : null;

        var (server, serverSource) = NonEmpty(serverFlag) is { } f ? (f, "flag --server")
            : NonEmpty(environment("SLUICE_SERVER")) is { } e ? (e, "environment variable SLUICE_SERVER")
            : file?.Server is { } s ? (s, $"{file.Path} (server)")
            : (DefaultServer, "the default");

        var (token, tokenSource) = NonEmpty(tokenFlag) is { } tf ? (tf, "flag --token")
            : NonEmpty(environment("SLUICE_TOKEN")) is { } te ? (te, "environment variable SLUICE_TOKEN")
            : file?.Token is { } t ? (t, $"{file.Path} (token)")
            : file?.TokenFile is { } tokenFile ? (ReadTokenFile(tokenFile, file.Path), $"{file.Path} (tokenFile)")
            : ((string?)null, (string?)null);

        return new ClientSettings(ParseServer(server, serverSource), serverSource, token, tokenSource);
    }

    private static Uri ParseServer(string value, string source)
    {
        // "localhost:8080" and "127.0.0.1:8080" are what people type: http is the server's default.
        var text = value.Contains("://", StringComparison.Ordinal) ? value : "http://" + value;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
        {
            throw CliException.Usage($"server '{value}' from {source} is not a server address: expected http(s)://host:port, e.g. {DefaultServer}");
        }

        // Keep a path prefix (a gateway behind a proxy at /sluice/) and make it end with '/', so relative routes append.
        return new Uri(uri.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/");
    }

    private static string ReadTokenFile(string path, string configPath)
    {
        var full = Path.GetFullPath(ExpandHome(path), Path.GetDirectoryName(Path.GetFullPath(configPath))!);
        try
        {
            return File.ReadAllText(full).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw CliException.Usage($"cannot read tokenFile {full} named in {configPath}: {ex.Message}");
        }
    }

    private static string? DefaultConfigPath(Func<string, string?> environment)
    {
        var xdg = NonEmpty(environment("XDG_CONFIG_HOME"));
        var home = NonEmpty(environment("HOME"));
        return xdg is not null ? Path.Combine(xdg, "sluice", "config.yaml")
            : home is not null ? Path.Combine(home, ".config", "sluice", "config.yaml")
            : null;
    }

    internal static string ExpandHome(string path) =>
        path.StartsWith("~/", StringComparison.Ordinal) && Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } home
            ? Path.Combine(home, path[2..])
            : path;

    private static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();
}
