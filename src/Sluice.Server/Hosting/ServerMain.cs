using Sluice.Server.Configuration;

namespace Sluice.Server.Hosting;

/// <summary>
/// The gateway's entry point: what <c>dotnet run --project src/Sluice.Server</c> runs, and what the <c>sluice</c>
/// binary runs for <c>sluice serve</c>, so both take the same flags, environment and config file.
/// </summary>
public static class ServerMain
{
    /// <summary>Loads and validates the configuration (errors on stderr, exit code 2), then runs the server until it stops.</summary>
    /// <param name="args">The server's flags (<c>--port</c>, <c>--config</c>, ...).</param>
    /// <param name="programName">How <c>--help</c> names the command.</param>
    /// <returns>The process exit code: 0 after a clean stop, 1 when the server cannot start, 2 for a bad configuration.</returns>
    public static async Task<int> RunAsync(string[] args, string programName = "Sluice.Server")
    {
        // Configuration first, so every bad value is reported on stderr before anything starts.
        var loaded = ServerOptionsLoader.Load(args);
        if (loaded.HelpRequested)
        {
            Console.Out.Write(ServerOptionsLoader.Usage(programName));
            return 0;
        }

        var errors = loaded.Errors.Count > 0 ? [.. loaded.Errors] : ServerOptionsValidator.Check(loaded.Options);
        if (errors.Count > 0)
        {
            Console.Error.WriteLine("sluice: invalid configuration:");
            foreach (var error in errors)
            {
                Console.Error.WriteLine("  - " + error);
            }

            return 2;
        }

        return await SluiceServer.RunAsync(loaded.Options, loaded.ConfigFile);
    }
}
