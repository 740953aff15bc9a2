using System.Text;
using Sluice.Server.Tests.Infrastructure;
using Sluice.Server.Tests.Webhooks;

namespace Sluice.Server.Tests.Diagnostics;

/// <summary>
/// Traces and metrics over OTLP/HTTP to a real receiver on loopback: a produce carrying a W3C <c>traceparent</c> gets a
/// producer span in that trace, the message carries the span's context as header <c>traceparent</c>, and each delivery
/// (a pull, a webhook call) has a consumer span that points back to it.
/// </summary>
public sealed class TracingTests(ITestOutputHelper output)
{
    private const int Consumer = 5; // SpanKind.CONSUMER
    private const int Producer = 4; // SpanKind.PRODUCER

    [Fact]
    public async Task ProduceThenPullAndWebhook_ExportSpansOverOtlp_LinkedToTheProducersTrace()
    {
        await using var otlp = await OtlpReceiver.StartAsync();
        await using var hook = await WebhookReceiver.StartAsync();
        await using var server = await ServerProcess.StartNewAsync(
            ["--otlp-endpoint", otlp.Endpoint, "--otlp-export-interval-ms", "500", "--otlp-service-name", "sluice-test", "--allow-private-webhooks"]);
        try
        {
            var client = server.Client;
            var topic = SluiceApi.NewTopic("traced");
            await client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
            (await client.PostAsync("/v1/webhooks", SluiceApi.Json(new { topic, url = hook.Url }))).EnsureSuccessStatusCode();

            // The producer's own trace: W3C trace context on the produce request.
            var traceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
            var clientSpan = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()[..8]);
            using var produce = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/messages") { Content = new StringContent("traced", Encoding.UTF8, "text/plain") };
            produce.Headers.Add("traceparent", $"00-{traceId}-{clientSpan}-01");
            (await client.SendAsync(produce)).EnsureSuccessStatusCode();

            // The message carries the send span's context, in the producer's trace.
            var pulled = Assert.Single(await client.DrainAsync(topic, "s", 1));
            var carried = pulled.GetProperty("headers").GetProperty("traceparent").GetString()!.Split('-');
            Assert.Equal(traceId, carried[1]);
            var sendSpanId = carried[2];
            await hook.WaitForAsync(calls => calls.Count >= 1);
            Assert.Equal(string.Join('-', carried), hook.Calls[0].Header("Sluice-Header-traceparent"));

            var spans = await otlp.WaitForAsync(s =>
                s.Any(x => x.Name == "send " + topic) && s.Any(x => x.Name == "receive " + topic) && s.Any(x => x.Name == "process " + topic));
            output.WriteLine(string.Join("\n", spans));

            var send = Assert.Single(spans, s => s.Name == "send " + topic);
            Assert.Equal(Producer, send.Kind);
            Assert.Equal(traceId, send.TraceId);
            Assert.Equal(sendSpanId, send.SpanId);
            Assert.Equal(topic, send.Attributes["messaging.destination.name"]);
            Assert.Equal("sluice", send.Attributes["messaging.system"]);

            // The request span (ASP.NET Core) is the send span's parent, itself a child of the client's span.
            var request = Assert.Single(spans, s => s.SpanId == send.ParentSpanId);
            Assert.Equal(clientSpan, request.ParentSpanId);

            var receive = Assert.Single(spans, s => s.Name == "receive " + topic);
            Assert.Equal(Consumer, receive.Kind);
            Assert.Contains((traceId, sendSpanId), receive.Links);
            Assert.Equal("s", receive.Attributes["messaging.destination.subscription.name"]);

            var process = Assert.Single(spans, s => s.Name == "process " + topic);
            Assert.Equal(Consumer, process.Kind);
            Assert.Equal(traceId, process.TraceId);
            Assert.Equal(sendSpanId, process.ParentSpanId);

            // Metrics go over OTLP too, with the same instruments as /metrics.
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!otlp.MetricExports.Any(m => Encoding.UTF8.GetString(m).Contains("messaging.client.sent.messages", StringComparison.Ordinal)))
            {
                Assert.True(DateTime.UtcNow < deadline, "no OTLP metrics export named messaging.client.sent.messages within 30 s");
                await Task.Delay(200);
            }
        }
        finally
        {
            server.WriteOutputTo(output, lastLines: 40);
        }
    }

    [Fact]
    public async Task WithoutAnOtlpEndpoint_MessagesCarryNoTraceContext()
    {
        await using var server = await ServerProcess.StartNewAsync();
        var topic = SluiceApi.NewTopic("untraced");
        using var produce = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/messages") { Content = new StringContent("plain", Encoding.UTF8, "text/plain") };
        produce.Headers.Add("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        (await server.Client.SendAsync(produce)).EnsureSuccessStatusCode();
        await server.Client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        var pulled = Assert.Single(await server.Client.DrainAsync(topic, "s", 1));
        Assert.False(pulled.GetProperty("headers").TryGetProperty("traceparent", out _), pulled.ToString());
    }
}
