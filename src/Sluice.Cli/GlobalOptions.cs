using System.CommandLine;

namespace Sluice.Cli;

/// <summary>Options every client command takes (recursive from the root).</summary>
internal static class GlobalOptions
{
    public static readonly Option<string?> Server = new("--server")
    {
        Description = "The server's address, e.g. http://127.0.0.1:8080 (else SLUICE_SERVER, else the config file's server, else http://127.0.0.1:8080)",
        HelpName = "url",
        Recursive = true,
    };

    public static readonly Option<string?> Token = new("--token")
    {
        Description = "Bearer token for a server with authentication on (else SLUICE_TOKEN, else the config file's token or tokenFile)",
        HelpName = "jwt",
        Recursive = true,
    };

    public static readonly Option<string?> Config = new("--config")
    {
        Description = "The client config file (else SLUICE_CLI_CONFIG, else ~/.config/sluice/config.yaml when present)",
        HelpName = "file",
        Recursive = true,
    };
}
