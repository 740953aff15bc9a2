using System.CommandLine;

namespace Sluice.Cli.Admin;

/// <summary>The commands webhooks and replicators share: show one (or one of its sub-resources), act on one, delete one.</summary>
internal static class ResourceCommands
{
    /// <summary>GET <c>route(id) + suffix</c>, printed as JSON.</summary>
    public static Command Show(string name, string description, string what, Func<string, string> route, string suffix = "")
    {
        var id = new Argument<string>(what) { Description = $"The {what}" };
        var command = new Command(name, description) { id };
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            using var answer = await context.Client.SendAsync(HttpMethod.Get, route(context.Parse.GetValue(id)!) + suffix, null, cancellationToken);
            AdminOutput.Pretty(context, answer);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>POST (or DELETE) <c>route(id) + suffix</c> without a body; prints the answer, or <paramref name="done"/> when there is none.</summary>
    public static Command Act(string name, string description, string what, Func<string, string> route, string suffix, string done, HttpMethod? method = null)
    {
        var id = new Argument<string>(what) { Description = $"The {what}" };
        var command = new Command(name, description) { id };
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            var value = context.Parse.GetValue(id)!;
            using var answer = await context.Client.SendAsync(method ?? HttpMethod.Post, route(value) + suffix, null, cancellationToken);
            if (answer is null)
            {
                await context.Out.WriteLineAsync($"{done} {value}");
            }
            else
            {
                AdminOutput.Pretty(context, answer);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    public static Command Delete(string what, Func<string, string> route, string description)
    {
        var command = Act("delete", description, what, route, "", "deleted", HttpMethod.Delete);
        command.Aliases.Add("rm");
        return command;
    }

    /// <summary>GET a list; prints the array under <paramref name="property"/> as a table of <paramref name="columns"/>.</summary>
    public static Command List(string path, string property, string description, params (string Header, string Field)[] columns)
    {
        var json = AdminOutput.JsonOption();
        var command = new Command("list", description) { json };
        command.Aliases.Add("ls");
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            using var answer = await context.Client.SendAsync(HttpMethod.Get, path, null, cancellationToken);
            if (context.Parse.GetValue(json))
            {
                AdminOutput.Pretty(context, answer);
                return ExitCodes.Ok;
            }

            var table = new Output.Table([.. columns.Select(c => c.Header)]);
            foreach (var item in answer!.RootElement.GetProperty(property).EnumerateArray())
            {
                table.Add([.. columns.Select(c => AdminOutput.Text(item, c.Field))]);
            }

            table.WriteTo(context.Out);
            return ExitCodes.Ok;
        });
        return command;
    }
}
