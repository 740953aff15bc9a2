using System.Text;
using Microsoft.Extensions.Configuration;

namespace Sluice.Server.Configuration;

/// <summary>
/// Builds <see cref="ServerOptions"/> from, lowest precedence first: the config file (<c>--config</c>, else
/// <c>sluice.yaml</c>, <c>sluice.yml</c> or <c>sluice.json</c> in the working directory), <c>SLUICE_*</c>
/// environment variables (<c>__</c> for nesting) and flags. Every bad value is reported, each naming the
/// option, where it came from and what would be right; unknown options and flags are errors too.
/// </summary>
internal static class ServerOptionsLoader
{
    public const string EnvironmentPrefix = "SLUICE_";

    private static readonly string[] DefaultFiles = ["sluice.yaml", "sluice.yml", "sluice.json"];

    // The `sluice` command-line client's own variables: a shell that has them set for the client must still start the server.
    private static readonly HashSet<string> ClientVariables = new(StringComparer.OrdinalIgnoreCase) { "SLUICE_SERVER", "SLUICE_TOKEN", "SLUICE_CLI_CONFIG" };

    internal sealed record Result(ServerOptions Options, IReadOnlyList<string> Errors, string? ConfigFile, bool HelpRequested);

    public static Result Load(string[] args, IDictionary<string, string?>? environment = null, string? workingDirectory = null)
    {
        var errors = new List<string>();
        var options = new ServerOptions();
        workingDirectory ??= Directory.GetCurrentDirectory();

        var flags = ParseFlags(args, errors, out var configPath, out var help);
        if (help)
        {
            return new Result(options, errors, null, true);
        }

        // 1. The file.
        IConfiguration? file = null;
        string? fileName = configPath;
        if (fileName is null)
        {
            var present = DefaultFiles.Where(f => File.Exists(Path.Combine(workingDirectory, f))).ToList();
            if (present.Count > 1)
            {
                errors.Add($"both {string.Join(" and ", present)} exist in {workingDirectory}; keep one, or name one with --config");
            }
            else if (present.Count == 1)
            {
                fileName = present[0];
            }
        }

        if (fileName is not null)
        {
            file = LoadFile(Path.GetFullPath(fileName, workingDirectory), errors);
        }

        // 2. The environment.
        environment ??= Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value);
        var envData = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var envNames = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in environment)
        {
            if (name.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase) && name.Length > EnvironmentPrefix.Length && !ClientVariables.Contains(name))
            {
                var key = name[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal);
                envData[key] = value;
                envNames[key] = name;
            }
        }

        var known = new HashSet<string>(OptionKeys.All.Select(o => o.Key), StringComparer.OrdinalIgnoreCase);
        JoinList(file, "roles");
        var roles = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        if (file is not null)
        {
            foreach (var (key, value) in file.AsEnumerable())
            {
                if (value is not null && RoleKey(key) is { } role)
                {
                    AddRole(roles, role, value, $"{fileName} ({key})", errors);
                }
                else if (value is not null && Compat.Kateway.KatewayApps.AppOf(key) is { } app)
                {
                    Compat.Kateway.KatewayApps.Add(options, app, value, $"{fileName} ({key})", errors);
                }
                else if (value is not null && !known.Contains(key) && !OptionKeys.ClusterKey.IsMatch(key))
                {
                    errors.Add($"unknown option '{Printable(key)}' in {fileName}; known options: {string.Join(", ", known)}");
                }
            }
        }

        foreach (var key in envData.Keys)
        {
            if (RoleKey(key) is { } role && envData[key] is { } grants)
            {
                AddRole(roles, role, grants, $"environment variable {envNames[key]}", errors);
            }
            else if (Compat.Kateway.KatewayApps.AppOf(key) is { } app && envData[key] is { } secret)
            {
                Compat.Kateway.KatewayApps.Add(options, app, secret, $"environment variable {envNames[key]}", errors);
            }
            else if (!known.Contains(key) && !OptionKeys.ClusterKey.IsMatch(key))
            {
                errors.Add($"unknown option in environment variable {Printable(envNames[key])}; known options: {string.Join(", ", known)}");
            }
        }

        // 3. Apply, flags winning over environment winning over file.
        foreach (var option in OptionKeys.All)
        {
            string? value;
            string source;
            if (flags.TryGetValue(option.Key, out value))
            {
                source = $"flag {option.Flag}";
            }
            else if (envData.TryGetValue(option.Key, out value))
            {
                source = $"environment variable {envNames[option.Key]}";
            }
            else if (file?[option.Key] is { } fromFile)
            {
                value = fromFile;
                source = $"{fileName} ({option.Key})";
            }
            else
            {
                continue;
            }

            if (value is null || !option.Apply(value, options))
            {
                errors.Add($"invalid value '{Printable(value)}' for {option.Key} from {source}: expected {option.Expected}");
            }
        }

        foreach (var (role, grants) in roles)
        {
            options.AuthRoles[role] = string.Join(';', grants);
        }

        ApplyClusters(file, envData, options, errors);
        return new Result(options, errors, fileName, false);
    }

    // A list in the file (roles: [http, workers]) arrives as roles:0, roles:1: read as one comma-separated value.
    private static void JoinList(IConfiguration? file, string key)
    {
        if (file is null || file[key] is not null)
        {
            return;
        }

        var items = file.GetSection(key).GetChildren().Where(c => int.TryParse(c.Key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _)).ToList();
        if (items.Count == 0)
        {
            return;
        }

        var joined = string.Join(',', items.Select(c => c.Value ?? ""));
        foreach (var item in items)
        {
            file[$"{key}:{item.Key}"] = null;
        }

        file[key] = joined;
    }

    /// <summary><c>auth:roles:ROLE</c> (grants separated by <c>;</c>) or <c>auth:roles:ROLE:N</c> (a YAML or JSON list): the role, else null.</summary>
    private static string? RoleKey(string key)
    {
        const string prefix = "auth:roles:";
        if (!key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) || key.Length == prefix.Length)
        {
            return null;
        }

        var rest = key[prefix.Length..];
        var colon = rest.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0 && !int.TryParse(rest[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _))
        {
            return null;
        }

        return colon >= 0 ? rest[..colon] : rest;
    }

    private static void AddRole(Dictionary<string, List<string>> roles, string role, string grants, string source, List<string> errors)
    {
        if (Security.AccessPolicy.ValidateGrants(grants) is { } problem)
        {
            errors.Add($"invalid grants '{Printable(grants)}' for role '{Printable(role)}' from {source}: {problem}");
            return;
        }

        if (!roles.TryGetValue(role, out var list))
        {
            roles[role] = list = [];
        }

        list.Add(grants);
    }

    // kafka:clusters:<name>:... keys, file then environment. Setting values may be secrets: never echoed.
    private static void ApplyClusters(IConfiguration? file, Dictionary<string, string?> envData, ServerOptions options, List<string> errors)
    {
        var entries = (file?.AsEnumerable() ?? []).Where(kv => kv.Value is not null).Concat(envData);
        foreach (var (key, value) in entries)
        {
            var match = OptionKeys.ClusterKey.Match(key);
            if (!match.Success || value is null || string.Equals(key, "kafka:clusters:default:bootstrap", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var cluster = options.Cluster(match.Groups["name"].Value);
            if (match.Groups["mock"].Success)
            {
                if (!int.TryParse(value.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var brokers) || brokers > 16)
                {
                    errors.Add($"invalid value '{Printable(value)}' for {key}: expected an integer between 0 and 16 (0: not a mock)");
                }
                else
                {
                    cluster.MockBrokers = brokers;
                }
            }
            else if (match.Groups["bootstrap"].Success)
            {
                if (!OptionKeys.IsBootstrapList(value))
                {
                    errors.Add($"invalid value '{Printable(value)}' for {key}: expected a comma-separated list of host:port");
                }
                else
                {
                    cluster.Bootstrap = value.Trim();
                }
            }
            else
            {
                cluster.Settings[match.Groups["setting"].Value.ToLowerInvariant()] = value;
            }
        }
    }

    public static string Usage(string programName = "Sluice.Server")
    {
        var sb = new StringBuilder();
        sb.AppendLine($"usage: {programName} [--config <file>] [--<option> <value>]...");
        sb.AppendLine();
        sb.AppendLine("  --config <file>    a sluice.yaml / sluice.json file (default: one of those in the working directory)");
        foreach (var o in OptionKeys.All)
        {
            sb.AppendLine($"  {o.Flag,-32} {o.Expected}; file key {o.Key}; env {EnvironmentPrefix}{o.Key.Replace(":", "__", StringComparison.Ordinal).ToUpperInvariant()}");
        }

        return sb.ToString();
    }

    private static Dictionary<string, string?> ParseFlags(string[] args, List<string> errors, out string? configPath, out bool help)
    {
        var flags = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        configPath = null;
        help = false;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg is "--help" or "-h")
            {
                help = true;
                continue;
            }

            string name;
            string? value = null;
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 2)
            {
                name = arg[..eq];
                value = arg[(eq + 1)..];
            }
            else
            {
                name = arg;
            }

            var option = OptionKeys.All.FirstOrDefault(o => string.Equals(o.Flag, name, StringComparison.Ordinal));
            if (option is null && name != "--config")
            {
                errors.Add($"unknown argument '{Printable(arg)}'; run with --help for the list of flags");
                if (eq < 0 && i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    i++; // its value
                }

                continue;
            }

            // A true/false option given alone (--allow-private-webhooks) means true.
            if (value is null && option is { Expected: "true or false" } && (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal)))
            {
                value = "true";
            }

            if (value is null)
            {
                if (i + 1 >= args.Length)
                {
                    errors.Add($"flag {name} needs a value");
                    continue;
                }

                value = args[++i];
            }

            if (option is null)
            {
                configPath = value;
            }
            else
            {
                flags[option.Key] = value;
            }
        }

        return flags;
    }

    private static IConfiguration? LoadFile(string path, List<string> errors)
    {
        if (!File.Exists(path))
        {
            errors.Add($"config file {path} does not exist");
            return null;
        }

        // Relative to the file's own folder: a file source otherwise resolves against the app's base directory.
        var builder = new ConfigurationBuilder().SetBasePath(Path.GetDirectoryName(path)!);
        var name = Path.GetFileName(path);
        var extension = Path.GetExtension(path).ToLowerInvariant();
        switch (extension)
        {
            case ".json":
                builder.AddJsonFile(name, optional: false, reloadOnChange: false);
                break;
            case ".yaml" or ".yml":
                builder.Add(new YamlConfigurationSource { Path = name, Optional = false, ReloadOnChange = false });
                break;
            default:
                errors.Add($"config file {path} must end in .json, .yaml or .yml");
                return null;
        }

        try
        {
            return builder.Build();
        }
        catch (Exception ex) when (ex is FormatException or InvalidDataException or System.Text.Json.JsonException)
        {
            errors.Add($"config file {path} is malformed: {Printable(ex.InnerException?.Message ?? ex.Message)}");
            return null;
        }
    }

    private static string Printable(string? s) => s is null ? "(null)" : Problems.ProblemWriter.Printable(s, 200);
}
