using System.CommandLine;
using System.Globalization;
using Sluice.Cli.Connection;
using Sluice.Cli.Output;

namespace Sluice.Cli.Admin;

/// <summary>
/// <c>sluice delayed list|cancel</c>: messages produced with a delivery time that is not due yet
/// (<c>GET .../delayed?limit=&amp;after=</c> and <c>DELETE .../delayed/{id}</c>).
/// </summary>
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
        var limit = new Option<int?>("--limit") { Description = "Most messages in this page, 1 to 1000 (the server's default: 100)", HelpName = "n" };
        var after = new Option<string?>("--after") { Description = "The next page: the cursor the previous page printed", HelpName = "cursor" };
        var json = AdminOutput.JsonOption();
        var command = new Command("list", "The topic's pending delayed messages in delivery order (a page), with their count") { topic, limit, after, json };
        command.Aliases.Add("ls");
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            var p = context.Parse;
            var query = new List<string>();
            if (p.GetValue(limit) is { } n)
            {
                query.Add(n is >= 1 and <= 1000 ? $"limit={n.ToString(CultureInfo.InvariantCulture)}" : throw CliException.Usage("--limit must be 1 to 1000"));
            }

            if (p.GetValue(after) is { } cursor)
            {
                query.Add("after=" + Uri.EscapeDataString(cursor));
            }

            var path = Routes.Delayed(p.GetValue(topic)!) + (query.Count > 0 ? "?" + string.Join('&', query) : "");
            using var answer = await context.Client.SendAsync(HttpMethod.Get, path, null, cancellationToken);
            if (p.GetValue(json))
            {
                AdminOutput.Pretty(context, answer);
                return ExitCodes.Ok;
            }

            var root = answer!.RootElement;
            var table = new Table("ID", "PARTITION", "DELIVER AT");
            foreach (var m in root.GetProperty("messages").EnumerateArray())
            {
                table.Add(AdminOutput.Text(m, "id"), AdminOutput.Text(m, "partition"), AdminOutput.Text(m, "deliverAt"));
            }

            table.WriteTo(context.Out);
            var partitions = string.Join(',', root.GetProperty("partitions").EnumerateArray().Select(e => e.GetInt32()));
            await context.Out.WriteLineAsync($"{AdminOutput.Text(root, "count")} pending in partitions {partitions}");
            if (AdminOutput.Text(root, "next") is { } next)
            {
                await context.Out.WriteLineAsync($"more: --after {next}");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Cancel()
    {
        var topic = TopicsCommand.TopicArgument();
        var id = new Argument<string>("id") { Description = "The id produce printed for the delayed message (d:...)" };
        var command = new Command("cancel", "Cancel a delayed message that is not due yet (exit 5 when already delivered, cancelled or unknown)") { topic, id };
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            var p = context.Parse;
            using var _ = await context.Client.SendAsync(HttpMethod.Delete, $"{Routes.Delayed(p.GetValue(topic)!)}/{Uri.EscapeDataString(p.GetValue(id)!)}", null, cancellationToken);
            await context.Out.WriteLineAsync($"cancelled delayed message {p.GetValue(id)}");
            return ExitCodes.Ok;
        });
        return command;
    }
}
