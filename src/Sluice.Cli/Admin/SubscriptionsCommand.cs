using System.CommandLine;
using Sluice.Cli.Connection;
using Sluice.Cli.Consume;
using Sluice.Cli.Output;

namespace Sluice.Cli.Admin;

/// <summary><c>sluice subscriptions list|describe|create|delete|seek</c>.</summary>
internal static class SubscriptionsCommand
{
    public static Command Create()
    {
        var command = new Command("subscriptions", "List, describe (with lag), create, delete and seek subscriptions");
        command.Aliases.Add("subs");
        command.Add(List());
        command.Add(Describe());
        command.Add(CreateOne());
        command.Add(Delete());
        command.Add(Seek());
        return command;
    }

    private static Command List()
    {
        var topic = TopicsCommand.TopicArgument();
        var json = AdminOutput.JsonOption();
        var command = new Command("list", "A topic's subscriptions, one per line") { topic, json };
        command.Aliases.Add("ls");
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            using var answer = await context.Client.SendAsync(HttpMethod.Get, Routes.Topic(context.Parse.GetValue(topic)!) + "/subscriptions", null, cancellationToken);
            if (context.Parse.GetValue(json))
            {
                AdminOutput.Pretty(context, answer);
                return ExitCodes.Ok;
            }

            foreach (var name in answer!.RootElement.GetProperty("subscriptions").EnumerateArray())
            {
                await context.Out.WriteLineAsync(name.ValueKind == System.Text.Json.JsonValueKind.String ? name.GetString() : AdminOutput.Text(name, "name"));
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Describe()
    {
        var topic = TopicsCommand.TopicArgument();
        var name = NameArgument();
        var json = AdminOutput.JsonOption();
        var command = new Command("describe", "A subscription's settings, lag per partition, backlog, in-flight and consumers") { topic, name, json };
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            var p = context.Parse;
            using var answer = await context.Client.SendAsync(HttpMethod.Get, Routes.Subscription(p.GetValue(topic)!, p.GetValue(name)!), null, cancellationToken);
            if (p.GetValue(json))
            {
                AdminOutput.Pretty(context, answer);
                return ExitCodes.Ok;
            }

            var root = answer!.RootElement;
            var o = context.Out;
            foreach (var field in new[] { "name", "type", "ackDeadlineMs", "maxDeliveries", "deadLetterTopic", "filter", "backlog", "inFlight" })
            {
                if (AdminOutput.Text(root, field) is { } value)
                {
                    await o.WriteLineAsync($"{field,-16}{value}");
                }
            }

            await o.WriteLineAsync();
            var partitions = new Table("PARTITION", "COMMITTED", "END", "LAG");
            long lag = 0;
            foreach (var part in root.GetProperty("partitions").EnumerateArray())
            {
                var l = part.GetProperty("lag").GetInt64();
                lag += l;
                partitions.Add(part.GetProperty("partition").GetInt32(), part.GetProperty("committedOffset").GetInt64(), part.GetProperty("endOffset").GetInt64(), l);
            }

            partitions.Add("total", null, null, lag);
            partitions.WriteTo(o);
            if (root.TryGetProperty("consumers", out var consumers) && consumers.GetArrayLength() > 0)
            {
                await o.WriteLineAsync();
                var table = new Table("CONSUMER", "ACTIVE", "IN-FLIGHT", "LAST SEEN");
                foreach (var c in consumers.EnumerateArray())
                {
                    table.Add(AdminOutput.Text(c, "consumerId"), AdminOutput.Text(c, "active"), AdminOutput.Text(c, "inFlight"), AdminOutput.Text(c, "lastSeen"));
                }

                table.WriteTo(o);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command CreateOne()
    {
        var topic = TopicsCommand.TopicArgument();
        var name = NameArgument();
        var type = new Option<string>("--type") { Description = "exclusive, failover, shared or key_shared", DefaultValueFactory = _ => "shared" };
        type.AcceptOnlyFromAmong("exclusive", "failover", "shared", "key_shared");
        var from = new Option<string?>("--from") { Description = "Start position: " + StartPosition.Help + " (default latest)" };
        var ackDeadline = new Option<long?>("--ack-deadline-ms") { Description = "Redeliver what is not acked within this time" };
        var maxDeliveries = new Option<int?>("--max-deliveries") { Description = "Dead-letter a message after this many deliveries (0: never)" };
        var deadLetter = new Option<string?>("--dead-letter-topic") { Description = "Where dead letters go (default {topic}-dlq)" };
        var filter = new Option<string?>("--filter") { Description = "Deliver only matching messages, e.g. 'header.region = \"eu\"' (servers with filters)" };
        var json = AdminOutput.JsonOption();
        var command = new Command("create", "Create a subscription (fails if it exists)") { topic, name, type, from, ackDeadline, maxDeliveries, deadLetter, filter, json };
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            var p = context.Parse;
            var path = Routes.Subscription(p.GetValue(topic)!, p.GetValue(name)!);
            var start = p.GetValue(from) is { } f ? StartPosition.Parse(f, context.Time, "--from") : StartPosition.Latest;
            using (var existing = await context.Client.GetOrNullAsync(path, cancellationToken))
            {
                if (existing is not null)
                {
                    throw new CliException(ExitCodes.Refused, $"subscription {p.GetValue(name)} on {p.GetValue(topic)} already exists; move it with `sluice subscriptions seek`");
                }
            }

            var body = JsonOutput.Build(w =>
            {
                w.WriteStartObject();
                w.WriteString("type", p.GetValue(type));
                start.WriteJson(w, "position");
                w.WriteIfGiven("ackDeadlineMs", p.GetValue(ackDeadline));
                w.WriteIfGiven("maxDeliveries", p.GetValue(maxDeliveries));
                w.WriteIfGiven("deadLetterTopic", p.GetValue(deadLetter));
                w.WriteIfGiven("filter", p.GetValue(filter));
                w.WriteEndObject();
            });
            using var answer = await context.Client.SendJsonAsync(HttpMethod.Put, path, body, cancellationToken);
            if (p.GetValue(json))
            {
                AdminOutput.Pretty(context, answer);
            }
            else
            {
                await context.Out.WriteLineAsync($"created subscription {p.GetValue(name)} on {p.GetValue(topic)}");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Delete()
    {
        var topic = TopicsCommand.TopicArgument();
        var name = NameArgument();
        var command = new Command("delete", "Delete a subscription and its cursors") { topic, name };
        command.Aliases.Add("rm");
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            var p = context.Parse;
            using var _ = await context.Client.SendAsync(HttpMethod.Delete, Routes.Subscription(p.GetValue(topic)!, p.GetValue(name)!), null, cancellationToken);
            await context.Out.WriteLineAsync($"deleted subscription {p.GetValue(name)} on {p.GetValue(topic)}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Seek()
    {
        var topic = TopicsCommand.TopicArgument();
        var name = NameArgument();
        var to = new Option<string>("--to") { Description = "The new position: " + StartPosition.Help, Required = true };
        var command = new Command("seek", "Move a subscription's cursor (in-flight messages are dropped)") { topic, name, to };
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            var p = context.Parse;
            var position = StartPosition.Parse(p.GetValue(to)!, context.Time, "--to");
            var body = JsonOutput.Build(w =>
            {
                w.WriteStartObject();
                position.WriteJson(w, "position");
                w.WriteEndObject();
            });
            using var _ = await context.Client.SendJsonAsync(HttpMethod.Post, Routes.Subscription(p.GetValue(topic)!, p.GetValue(name)!) + "/seek", body, cancellationToken);
            await context.Out.WriteLineAsync($"moved subscription {p.GetValue(name)} on {p.GetValue(topic)} to {p.GetValue(to)}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Argument<string> NameArgument() => new("subscription") { Description = "The subscription's name" };
}
