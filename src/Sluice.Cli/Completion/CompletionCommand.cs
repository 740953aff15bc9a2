using System.CommandLine;

namespace Sluice.Cli.Completion;

/// <summary><c>sluice completion bash|zsh|fish</c>: prints the shell's completion script for the whole command tree.</summary>
internal static class CompletionCommand
{
    public static Command Create(Func<RootCommand> root)
    {
        var shell = new Argument<string>("shell") { Description = "bash, zsh or fish" };
        shell.AcceptOnlyFromAmong("bash", "zsh", "fish");
        var command = new Command("completion", "Print a shell completion script: source <(sluice completion bash), or zsh, or fish") { shell };
        command.SetAction(parse =>
        {
            var model = CompletionModel.From(root(), CliApp.ProgramName);
            Console.Out.Write(parse.GetValue(shell) switch
            {
                "bash" => CompletionScripts.Bash(model, CliApp.ProgramName),
                "zsh" => CompletionScripts.Zsh(model, CliApp.ProgramName),
                _ => CompletionScripts.Fish(model, CliApp.ProgramName),
            });
            return ExitCodes.Ok;
        });
        return command;
    }
}
