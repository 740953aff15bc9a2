using System.CommandLine;
using System.CommandLine.Help;
using Sluice.Cli.Admin;
using Sluice.Cli.Bench;
using Sluice.Cli.Completion;
using Sluice.Cli.Consume;
using Sluice.Cli.Produce;

namespace Sluice.Cli;

/// <summary>
/// The <c>sluice</c> command line: builds the command tree and runs one command. <c>serve</c> is handed to the server
/// (its own flags, config and exit codes) before any client parsing, so a server flag never meets a client option.
/// </summary>
public static class CliApp
{
    internal const string ProgramName = "sluice";

    /// <summary>Runs the command line; returns the process exit code (see docs/cli.md).</summary>
    /// <param name="args">The process's arguments.</param>
    /// <param name="serve">Runs the gateway with the arguments after <c>serve</c>; null in a client-only build.</param>
    public static async Task<int> RunAsync(string[] args, Func<string[], Task<int>>? serve)
    {
        if (args.Length > 0 && args[0] == "serve")
        {
            if (serve is null)
            {
                await Console.Error.WriteLineAsync("sluice: this build is the client only; run the gateway with the full `sluice` binary (`sluice serve`) or Sluice.Server");
                return ExitCodes.Usage;
            }

            return await serve(args[1..]);
        }

        var root = Build(serve is not null);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is not HelpAction)
        {
            foreach (var error in parse.Errors)
            {
                await Console.Error.WriteLineAsync("sluice: " + error.Message);
            }

            await Console.Error.WriteLineAsync($"run '{ProgramName} {string.Join(' ', CommandPath(parse.CommandResult.Command))} --help' for usage".Replace("  ", " ", StringComparison.Ordinal));
            return ExitCodes.Usage;
        }

        return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = true });
    }

    internal static RootCommand Build(bool withServe)
    {
        var root = new RootCommand("Sluice: an HTTP gateway for event streams. This is its command-line client" + (withServe ? ", and `sluice serve` runs the gateway." : "."))
        {
            GlobalOptions.Server,
            GlobalOptions.Token,
            GlobalOptions.Config,
            ProduceCommand.Create(),
            ConsumeCommand.CreateConsume(),
            ConsumeCommand.CreateTail(),
            TopicsCommand.Create(),
            SubscriptionsCommand.Create(),
            WebhooksCommand.Create(),
            ReplicatorsCommand.Create(),
            DelayedCommand.Create(),
            BenchCommand.Create(),
            CompletionCommand.Create(() => Build(withServe)),
        };
        if (withServe)
        {
            // Listed for --help and completion; never parsed here (RunAsync hands `serve` to the server first).
            root.Add(new Command("serve", "Run the gateway (the same flags as Sluice.Server: `sluice serve --help`)") { TreatUnmatchedTokensAsErrors = false });
        }

        return root;
    }

    private static IEnumerable<string> CommandPath(Command command) =>
        command.Parents.OfType<Command>().SelectMany(CommandPath).Concat(command is RootCommand ? [] : [command.Name]);
}
