using System.CommandLine;
using Sluice.Cli.Connection;

namespace Sluice.Cli.Admin;

/// <summary><c>sluice delayed list|cancel</c>: messages produced with a delivery time that is not due yet (issue 15's routes).</summary>
internal static class DelayedCommand
{
    public static Command Create()
    {
        var command = new Command("delayed", "Delayed messages not yet due: list them, cancel one");
        command.Add(List());
        command.Add(Cancel());
        return command;
    }

    private static Command List()
    {
        var topic = TopicsCommand.TopicArgument();
        var query = new Option<string[]>("--query") { Description = "A paging parameter passed on as it is, name=value (repeat for more)", HelpName = "name=value" };
        var command = new Command("list", "The topic's pending delayed messages (a page, with the count)") { topic, query };
        command.Aliases.Add("ls");
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            var parameters = context.Parse.GetValue(query) ?? [];
            var suffix = parameters.Length == 0 ? "" : "?" + string.Join('&', parameters.Select(Parameter));
            using var answer = await context.Client.SendAsync(HttpMethod.Get, Routes.Delayed(context.Parse.GetValue(topic)!) + suffix, null, cancellationToken);
            AdminOutput.Pretty(context, answer);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Cancel()
    {
        var topic = TopicsCommand.TopicArgument();
        var id = new Argument<string>("id") { Description = "The id produce answered (partition:offset)" };
        var command = new Command("cancel", "Cancel a delayed message that is not due yet") { topic, id };
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            var p = context.Parse;
            using var _ = await context.Client.SendAsync(HttpMethod.Delete, $"{Routes.Delayed(p.GetValue(topic)!)}/{Uri.EscapeDataString(p.GetValue(id)!)}", null, cancellationToken);
            await context.Out.WriteLineAsync($"cancelled delayed message {p.GetValue(id)}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string Parameter(string pair)
    {
        var eq = pair.IndexOf('=', StringComparison.Ordinal);
        return eq <= 0
            ? throw CliException.Usage($"--query '{pair}' must be name=value")
            : Uri.EscapeDataString(pair[..eq]) + "=" + Uri.EscapeDataString(pair[(eq + 1)..]);
    }
}
