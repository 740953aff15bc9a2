using System.CommandLine;
using Sluice.Cli.Connection;
using Sluice.Cli.Output;

namespace Sluice.Cli.Admin;

/// <summary><c>sluice topics list|describe|create|update|delete</c>.</summary>
internal static class TopicsCommand
{
    public static Command Create()
    {
        var command = new Command("topics", "List, describe, create, change and delete topics");
        command.Aliases.Add("topic");
        command.Add(List());
        command.Add(Describe());
        command.Add(Change("create", "Create a topic (fails if it exists)", creating: true));
        command.Add(Change("update", "Change a topic's settings (partitions only grow)", creating: false));
        command.Add(Delete());
        return command;
    }

    private static Command List()
    {
        var json = AdminOutput.JsonOption();
        var command = new Command("list", "The topics, one per line") { json };
        command.Aliases.Add("ls");
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            using var answer = await context.Client.SendAsync(HttpMethod.Get, "v1/topics", null, cancellationToken);
            if (context.Parse.GetValue(json))
            {
                AdminOutput.Pretty(context, answer);
                return ExitCodes.Ok;
            }

            foreach (var topic in answer!.RootElement.GetProperty("topics").EnumerateArray())
            {
                await context.Out.WriteLineAsync(topic.GetString());
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Describe()
    {
        var topic = TopicArgument();
        var json = AdminOutput.JsonOption();
        var command = new Command("describe", "A topic's settings and partitions (offsets, sizes, times)") { topic, json };
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            using var answer = await context.Client.SendAsync(HttpMethod.Get, Routes.Topic(context.Parse.GetValue(topic)!), null, cancellationToken);
            if (context.Parse.GetValue(json))
            {
                AdminOutput.Pretty(context, answer);
                return ExitCodes.Ok;
            }

            var root = answer!.RootElement;
            var o = context.Out;
            await o.WriteLineAsync($"topic      {AdminOutput.Text(root, "name")}");
            await o.WriteLineAsync($"retention  {Retention(AdminOutput.Text(root, "retentionMs"), "ms")}, {Retention(AdminOutput.Text(root, "retentionBytes"), "bytes")} per partition");
            await o.WriteLineAsync($"compacted  {AdminOutput.Text(root, "compacted")}");
            await o.WriteLineAsync();
            var table = new Table("PARTITION", "START", "END", "MESSAGES", "BYTES", "OLDEST", "NEWEST");
            foreach (var p in root.GetProperty("partitions").EnumerateArray())
            {
                var start = p.GetProperty("startOffset").GetInt64();
                var end = p.GetProperty("endOffset").GetInt64();
                table.Add(p.GetProperty("partition").GetInt32(), start, end, end - start, AdminOutput.Text(p, "bytes"), AdminOutput.Text(p, "oldestTimestamp"), AdminOutput.Text(p, "newestTimestamp"));
            }

            table.WriteTo(o);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Change(string name, string description, bool creating)
    {
        var topic = TopicArgument();
        var partitions = new Option<int?>("--partitions", "-p") { Description = "Number of partitions" };
        var retentionMs = new Option<long?>("--retention-ms") { Description = "Keep messages this long (0: forever)" };
        var retentionBytes = new Option<long?>("--retention-bytes") { Description = "Keep at most this many bytes per partition (0: no limit)" };
        var compacted = new Option<bool?>("--compacted") { Description = "Keep only the newest message of each key" };
        var json = AdminOutput.JsonOption();
        var command = new Command(name, description) { topic, partitions, retentionMs, retentionBytes, compacted, json };
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            var p = context.Parse;
            var path = Routes.Topic(p.GetValue(topic)!);
            using (var existing = await context.Client.GetOrNullAsync(path, cancellationToken))
            {
                if (creating && existing is not null)
                {
                    throw new CliException(ExitCodes.Refused, $"topic {p.GetValue(topic)} already exists; change it with `sluice topics update`");
                }

                if (!creating && existing is null)
                {
                    throw new CliException(ExitCodes.NotFound, $"topic {p.GetValue(topic)} does not exist; create it with `sluice topics create`");
                }
            }

            var body = JsonOutput.Build(w =>
            {
                w.WriteStartObject();
                w.WriteIfGiven("partitions", p.GetValue(partitions));
                w.WriteIfGiven("retentionMs", p.GetValue(retentionMs));
                w.WriteIfGiven("retentionBytes", p.GetValue(retentionBytes));
                w.WriteIfGiven("compacted", p.GetValue(compacted));
                w.WriteEndObject();
            });
            using var answer = await context.Client.SendJsonAsync(HttpMethod.Put, path, body, cancellationToken);
            if (p.GetValue(json))
            {
                AdminOutput.Pretty(context, answer);
            }
            else
            {
                var count = answer?.RootElement.TryGetProperty("partitions", out var parts) == true ? parts.GetArrayLength() : 0;
                await context.Out.WriteLineAsync($"{(creating ? "created" : "updated")} topic {p.GetValue(topic)} ({count} partitions)");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Delete()
    {
        var topic = TopicArgument();
        var command = new Command("delete", "Delete a topic, its data and its subscriptions") { topic };
        command.Aliases.Add("rm");
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            using var _ = await context.Client.SendAsync(HttpMethod.Delete, Routes.Topic(context.Parse.GetValue(topic)!), null, cancellationToken);
            await context.Out.WriteLineAsync($"deleted topic {context.Parse.GetValue(topic)}");
            return ExitCodes.Ok;
        });
        return command;
    }

    internal static Argument<string> TopicArgument() => new("topic") { Description = "tenant/namespace/name" };

    private static string Retention(string? value, string unit) => value is null or "0" ? $"no {unit} limit" : $"{value} {unit}";
}
