namespace Sluice.Cli.Connection;

/// <summary>
/// The client's config file: flat YAML, <c>key: value</c> per line, <c># comments</c>, values optionally quoted.
/// Keys: <c>server</c>, <c>token</c>, <c>tokenFile</c>. A hand-written reader rather than a YAML library keeps the client
/// Native AOT-compatible; a nested or unknown key is an error naming its line, never ignored.
/// </summary>
internal sealed record ClientConfigFile(string Path, string? Server, string? Token, string? TokenFile)
{
    public static ClientConfigFile Load(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw CliException.Usage($"cannot read the config file {path}: {ex.Message}");
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = StripComment(lines[i]);
            if (line.Trim().Length == 0 || line.Trim() == "---")
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (char.IsWhiteSpace(line[0]) || colon <= 0)
            {
                throw CliException.Usage($"{path} line {i + 1}: expected 'key: value' (keys: server, token, tokenFile)");
            }

            var key = line[..colon].Trim();
            if (key is not ("server" or "token" or "tokenFile"))
            {
                throw CliException.Usage($"{path} line {i + 1}: unknown key '{Printable(key)}'; known keys: server, token, tokenFile");
            }

            values[key] = Unquote(line[(colon + 1)..].Trim());
        }

        return new ClientConfigFile(path, Get("server"), Get("token"), Get("tokenFile"));

        string? Get(string key) => values.TryGetValue(key, out var v) && v.Length > 0 ? v : null;
    }

    // '#' starts a comment at the start of a line or after whitespace, outside quotes (as in YAML).
    private static string StripComment(string line)
    {
        var quote = '\0';
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quote != '\0')
            {
                quote = c == quote ? '\0' : quote;
            }
            else if (c is '"' or '\'')
            {
                quote = c;
            }
            else if (c == '#' && (i == 0 || char.IsWhiteSpace(line[i - 1])))
            {
                return line[..i].TrimEnd();
            }
        }

        return line.TrimEnd();
    }

    private static string Unquote(string value) =>
        value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[^1] == value[0] ? value[1..^1] : value;

    private static string Printable(string s) => new([.. s.Take(60).Select(c => char.IsControl(c) ? '?' : c)]);
}
