using System.CommandLine;
using Sluice.Cli.Connection;
using Sluice.Cli.Output;

namespace Sluice.Cli.Admin;

/// <summary><c>sluice webhooks list|get|create|delete|pause|resume|stats</c>.</summary>
internal static class WebhooksCommand
{
    public static Command Create()
    {
        var command = new Command("webhooks", "Push subscriptions that POST each message to a URL");
        command.Aliases.Add("webhook");
        command.Add(ResourceCommands.List("v1/webhooks", "webhooks", "The webhooks", ("ID", "id"), ("TOPIC", "topic"), ("URL", "url"), ("PAUSED", "paused"), ("SUBSCRIPTION", "subscription")));
        command.Add(ResourceCommands.Show("get", "One webhook's settings (never its secret)", "id", Routes.Webhook));
        command.Add(CreateOne());
        command.Add(ResourceCommands.Delete("id", Routes.Webhook, "Delete a webhook (and the subscription it created)"));
        command.Add(ResourceCommands.Act("pause", "Stop calling the URL; messages wait in the log", "id", Routes.Webhook, "/pause", "paused webhook"));
        command.Add(ResourceCommands.Act("resume", "Call the URL again from where it stopped", "id", Routes.Webhook, "/resume", "resumed webhook"));
        command.Add(ResourceCommands.Show("stats", "Deliveries, failures, retries, backlog and breaker state", "id", Routes.Webhook, "/stats"));
        return command;
    }

    private static Command CreateOne()
    {
        var topic = new Option<string?>("--topic") { Description = "The topic to push (tenant/namespace/name)" };
        var url = new Option<string?>("--url") { Description = "The http(s) URL to POST each message to" };
        var subscription = new Option<string?>("--subscription") { Description = "Use this subscription (default webhook-{id}, created at latest)" };
        var headers = new Option<string[]>("--header", "-H") { Description = "An extra request header, name=value (repeat for more)", HelpName = "name=value" };
        var secret = new Option<string?>("--secret") { Description = "Signing secret whsec_... (default: generated, shown once)" };
        var timeoutMs = new Option<int?>("--timeout-ms") { Description = "Call timeout" };
        var concurrency = new Option<int?>("--concurrency") { Description = "Calls in flight at once" };
        var ordering = new Option<string?>("--ordering") { Description = "none or per_key" };
        ordering.AcceptOnlyFromAmong("none", "per_key");
        var deadLetter = new Option<string?>("--dead-letter-topic") { Description = "Where refused messages go (default {topic}-dlq)" };
        var file = new Option<string?>("--file", "-f") { Description = "The whole registration as a JSON file (- for stdin) instead of flags" };
        var command = new Command("create", "Register a webhook; the answer shows its secret this once")
        {
            topic, url, subscription, headers, secret, timeoutMs, concurrency, ordering, deadLetter, file,
        };
        CommandAction.Set(command, async (context, cancellationToken) =>
        {
            var p = context.Parse;
            byte[] body;
            if (p.GetValue(file) is { } path)
            {
                if (p.GetValue(topic) is not null || p.GetValue(url) is not null)
                {
                    throw CliException.Usage("give the registration with --file or with flags, not both");
                }

                body = AdminOutput.ReadJsonFile(path);
            }
            else
            {
                if (p.GetValue(topic) is null || p.GetValue(url) is null)
                {
                    throw CliException.Usage("a webhook needs --topic and --url (or --file)");
                }

                body = JsonOutput.Build(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("topic", p.GetValue(topic));
                    w.WriteString("url", p.GetValue(url));
                    w.WriteIfGiven("subscription", p.GetValue(subscription));
                    w.WriteIfGiven("secret", p.GetValue(secret));
                    w.WriteIfGiven("ordering", p.GetValue(ordering));
                    w.WriteIfGiven("deadLetterTopic", p.GetValue(deadLetter));
                    w.WriteIfGiven("timeoutMs", p.GetValue(timeoutMs));
                    w.WriteIfGiven("concurrency", p.GetValue(concurrency));

                    if (p.GetValue(headers) is { Length: > 0 } list)
                    {
                        w.WriteStartObject("headers");
                        foreach (var header in list)
                        {
                            var eq = header.IndexOf('=', StringComparison.Ordinal);
                            if (eq <= 0)
                            {
                                throw CliException.Usage($"--header '{header}' must be name=value");
                            }

                            w.WriteString(header[..eq], header[(eq + 1)..]);
                        }

                        w.WriteEndObject();
                    }

                    w.WriteEndObject();
                });
            }

            using var answer = await context.Client.SendJsonAsync(HttpMethod.Post, "v1/webhooks", body, cancellationToken);
            AdminOutput.Pretty(context, answer);
            return ExitCodes.Ok;
        });
        return command;
    }
}
