using System.CommandLine;
using System.CommandLine.Completions;

namespace Sluice.Cli.Completion;

/// <summary>
/// The command tree flattened for the completion scripts: each command's path ("sluice topics list"), its
/// subcommands and aliases, and its options (whether they take a value, their fixed choices, whether it is a file).
/// The scripts are generated from the real tree, so they cannot drift from the commands.
/// </summary>
internal sealed record CompletionModel(IReadOnlyList<CompletionModel.Node> Nodes)
{
    public sealed record Node(string Path, IReadOnlyList<Sub> Subcommands, IReadOnlyList<Opt> Options);

    public sealed record Sub(string Name, IReadOnlyList<string> Aliases, string Description);

    public sealed record Opt(IReadOnlyList<string> Names, bool TakesValue, IReadOnlyList<string> Choices, bool IsFile, string Description);

    public static CompletionModel From(RootCommand root, string program)
    {
        var nodes = new List<Node>();
        Walk(root, program, [], nodes);
        return new CompletionModel(nodes);
    }

    private static void Walk(Command command, string path, List<Option> inherited, List<Node> nodes)
    {
        var options = inherited.Concat(command.Options).Where(o => !o.Hidden).DistinctBy(o => o.Name).ToList();
        var recursive = inherited.Concat(command.Options.Where(o => o.Recursive)).DistinctBy(o => o.Name).ToList();
        var subs = command.Subcommands.Where(c => !c.Hidden).ToList();
        nodes.Add(new Node(
            path,
            [.. subs.Select(c => new Sub(c.Name, [.. c.Aliases], OneLine(c.Description)))],
            [.. options.Select(ToOpt)]));
        foreach (var sub in subs)
        {
            Walk(sub, path + " " + sub.Name, recursive, nodes);
        }
    }

    private static Opt ToOpt(Option option)
    {
        var flag = option.ValueType == typeof(bool) || option.ValueType == typeof(bool?) || option.Arity.MaximumNumberOfValues == 0;
        var choices = flag ? [] : option.GetCompletions(CompletionContext.Empty).Select(c => c.Label).ToList();
        return new Opt([option.Name, .. option.Aliases], !flag, choices, option.Name is "--file" or "--config", OneLine(option.Description));
    }

    private static string OneLine(string? text)
    {
        var line = (text ?? "").ReplaceLineEndings(" ");
        var cut = line.IndexOfAny(['.', ';', '(']);
        return (cut > 0 ? line[..cut] : line).Trim();
    }
}
