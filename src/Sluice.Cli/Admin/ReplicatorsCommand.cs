using System.CommandLine;
using Sluice.Cli.Connection;
using Sluice.Cli.Consume;
using Sluice.Cli.Output;

namespace Sluice.Cli.Admin;

/// <summary>
/// <c>sluice replicators list|get|create|update|delete|start|stop|restart|status|seek</c>, over <c>/v1/replicators</c>
/// as issue 12 specifies it. A registration (source, sink, secrets, batch, retry) is a JSON file: too nested for flags.
/// </summary>
internal static class ReplicatorsCommand
{
    public static Command Create()
    {
        var command = new Command("replicators", "Copy topics to external systems (Kafka, HTTP, AMQP, PostgreSQL, NATS, S3)");
        command.Aliases.Add("replicator");
        command.Add(ResourceCommands.List("v1/replicators", "replicators", "The replicators", ("NAME", "name"), ("STATE", "state"), ("SOURCE", "source"), ("SINK", "sink")));
        command.Add(ResourceCommands.Show("get", "One replicator's settings (secrets are never shown)", "name", Routes.Replicator));
        command.Add(Write("create", "Register a replicator from a JSON file (it starts at once)", update: false));
        command.Add(Write("update", "Replace a replicator's settings from a JSON file", update: true));
        command.Add(ResourceCommands.Delete("name", Routes.Replicator, "Delete a replicator"));
        command.Add(ResourceCommands.Act("start", "Start a stopped replicator where it stopped", "name", Routes.Replicator, "/start", "started replicator"));
        command.Add(ResourceCommands.Act("stop", "Stop a replicator (it keeps its position)", "name", Routes.Replicator, "/stop", "stopped replicator"));
        command.Add(ResourceCommands.Act("restart", "Restart a replicator (after a failure)", "name", Routes.Replicator, "/restart", "restarted replicator"));
        command.Add(ResourceCommands.Show("status", "State, per-partition position and lag, records and bytes written, last error", "name", Routes.Replicator, "/status"));
        command.Add(Seek());
        return command;
    }

    private static Command Write(string name, string description, bool update)
    {
        var file = new Option<string>("--file", "-f") { Description = "The registration as JSON (- for stdin): name, source, sink, secrets, batch, retry, ...", Required = true };
        var replicator = new Argument<string>("name") { Description = "The replicator's name" };
        var command = new Command(name, description) { file };
        if (update)
        {
            command.Add(replicator);
        }

        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            var body = AdminOutput.ReadJsonFile(context.Parse.GetValue(file)!);
            using var answer = update
                ? await context.Client.SendJsonAsync(HttpMethod.Put, Routes.Replicator(context.Parse.GetValue(replicator)!), body, cancellationToken)
                : await context.Client.SendJsonAsync(HttpMethod.Post, "v1/replicators", body, cancellationToken);
            AdminOutput.Pretty(context, answer);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Seek()
    {
        var replicator = new Argument<string>("name") { Description = "The replicator's name" };
        var to = new Option<string>("--to") { Description = "earliest, latest, or a time (ISO-8601, @epoch-ms, or ago: 15m, 2h)", Required = true };
        var command = new Command("seek", "Move a stopped replicator's position") { replicator, to };
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            var position = StartPosition.Parse(context.Parse.GetValue(to)!, context.Time, "--to");
            var body = JsonOutput.Build(w =>
            {
                w.WriteStartObject();
                position.WriteJson(w, "position");
                w.WriteEndObject();
            });
            var name = context.Parse.GetValue(replicator)!;
            using var answer = await context.Client.SendJsonAsync(HttpMethod.Post, Routes.Replicator(name) + "/seek", body, cancellationToken);
            if (answer is null)
            {
                await context.Out.WriteLineAsync($"moved replicator {name} to {context.Parse.GetValue(to)}");
            }
            else
            {
                AdminOutput.Pretty(context, answer);
            }

            return ExitCodes.Ok;
        });
        return command;
    }
}
