using System.Net.Http.Headers;
using System.Text.Json;
using Sluice.Cli.Connection;
using Sluice.Cli.Output;

namespace Sluice.Cli.Consume;

/// <summary>
/// Consumes through a subscription: long-poll pulls, each batch printed and flushed before it is acked (so a message
/// is acked only once it is out), or an SSE stream with the server's automatic acks.
/// </summary>
internal sealed class SubscriptionConsumer(SluiceClient client, string topic, string subscription, string consumerId, MessagePrinter printer, TextWriter error)
{
    /// <summary>Creates the subscription with this type and start position when it does not exist yet.</summary>
    public async Task EnsureAsync(string? type, StartPosition? start, CancellationToken cancellationToken)
    {
        var path = Routes.Subscription(topic, subscription);
        using var existing = await client.GetOrNullAsync(path, cancellationToken);
        if (existing is not null)
        {
            if (start is not null)
            {
                await error.WriteLineAsync($"sluice: subscription '{subscription}' exists: --from applies only when it is created (move it with `sluice subscriptions seek`)");
            }

            return;
        }

        var body = JsonOutput.Build(w =>
        {
            w.WriteStartObject();
            w.WriteString("type", type ?? "shared");
            (start ?? StartPosition.Latest).WriteJson(w, "position");
            w.WriteEndObject();
        });
        using var _ = await client.SendJsonAsync(HttpMethod.Put, path, body, cancellationToken);
    }

    public async Task PullAsync(int max, int waitMs, long? count, bool exitOnEmpty, bool ack, CancellationToken cancellationToken)
    {
        var path = Routes.Subscription(topic, subscription);
        long printed = 0;
        while (count is null || printed < count)
        {
            var take = (int)Math.Min(max, (count ?? long.MaxValue) - printed);
            using var answer = await client.SendAsync(HttpMethod.Get, $"{path}/messages?max={take}&waitMs={waitMs}", null, cancellationToken,
                r => r.Headers.Add("Sluice-Consumer-Id", consumerId));
            var messages = answer!.RootElement.GetProperty("messages");
            if (messages.GetArrayLength() == 0)
            {
                if (exitOnEmpty)
                {
                    return;
                }

                continue;
            }

            var ackIds = new List<string>(messages.GetArrayLength());
            foreach (var message in messages.EnumerateArray())
            {
                printer.Print(message);
                ackIds.Add(message.GetProperty("ackId").GetString()!);
            }

            printer.Flush();
            printed += ackIds.Count;
            if (ack)
            {
                // Not cancellable: what was printed is acked even when Ctrl+C came meanwhile.
                using var _ = await client.SendJsonAsync(HttpMethod.Post, path + "/acks", JsonWriterExtensions.AckBody(ackIds), CancellationToken.None);
            }
        }
    }

    /// <summary>The subscription's SSE stream: acked by the server as each message is flushed, or never with <paramref name="ack"/> false.</summary>
    public async Task StreamAsync(long? count, bool ack, CancellationToken cancellationToken)
    {
        var mode = ack ? "auto" : "explicit";
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{Routes.Subscription(topic, subscription)}/events?consumer={Uri.EscapeDataString(consumerId)}&ack={mode}");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        long printed = 0;
        try
        {
            using var response = await client.OpenStreamAsync(request, cancellationToken);
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            await foreach (var data in SseReader.ReadMessagesAsync(body, cancellationToken))
            {
                using var message = JsonDocument.Parse(data);
                printer.Print(message.RootElement);
                printer.Flush();
                if (++printed == count)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            throw new CliException(ExitCodes.Unavailable, $"the stream broke: {ex.Message}");
        }

        throw new CliException(ExitCodes.Unavailable, "the server ended the stream (shutting down?)");
    }
}
