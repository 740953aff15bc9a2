using System.CommandLine;

namespace Sluice.Cli;

/// <summary>
/// Attaches a command's work and turns its outcome into an exit code: a <see cref="CliException"/> is one line on
/// stderr; Ctrl+C ends a command that runs until stopped (consume, tail, bench) with 0 and any other with 130.
/// </summary>
internal static class CommandAction
{
    public static void Set(Command command, Func<CliContext, CancellationToken, Task<int>> action, bool runsUntilStopped = false)
    {
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var context = new CliContext(parse, TimeProvider.System);
            try
            {
                var code = await action(context, cancellationToken);
                await context.Out.FlushAsync(CancellationToken.None);
                return code;
            }
            catch (CliException ex)
            {
                await FlushQuietly(context);
                await context.Error.WriteLineAsync("sluice: " + ex.Message);
                return ex.ExitCode;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await FlushQuietly(context);
                return runsUntilStopped ? ExitCodes.Ok : ExitCodes.Interrupted;
            }
            catch (IOException ex) when (ex.Message.Contains("pipe", StringComparison.OrdinalIgnoreCase))
            {
                // The reader of stdout went away (`sluice consume ... | head -1`): stop quietly, as Unix tools do.
                return ExitCodes.Ok;
            }
        });
    }

    private static async Task FlushQuietly(CliContext context)
    {
        try
        {
            await context.Out.FlushAsync(CancellationToken.None);
        }
        catch (IOException)
        {
        }
    }
}
