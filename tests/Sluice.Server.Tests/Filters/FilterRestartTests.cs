using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Filters;

/// <summary>A filter is part of the persisted subscription: it survives SIGKILL and restart, and so do its filtered acks.</summary>
// Restarts on the same data: the Kafka mock cluster lives in the gateway process and dies with it (the fleet tests
// show the filter travelling through Kafka to another gateway instead).
[Trait("Backend", "EmbeddedOnly")]
public sealed class FilterRestartTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Kill_FilteredSubscription_AfterRestartStillFilters_AndRedeliversNothingAckedOrFiltered()
    {
        const int Count = 100;
        await using var server = await ServerProcess.StartNewAsync();
        try
        {
            var client = server.Client;
            var topic = SluiceApi.NewTopic("filter-restart");
            await client.PutSubscriptionAsync(topic, "eu", new { position = "earliest", filter = FilterApi.Eu, ackDeadlineMs = 120_000 });
            await client.ProduceRegionsAsync(topic, Count);
            Assert.Equal(Count / 5, (await client.DrainAsync(topic, "eu", Count / 5)).Count);
            await client.WaitForSubscriptionAsync(topic, "eu", s => s.Lag() == 0);

            await server.KillAsync();
            await server.StartAsync();
            client = server.Client;

            var info = await client.GetSubscriptionAsync(topic, "eu");
            Assert.Equal(FilterApi.Eu, info.GetProperty("filter").GetString());

            // New traffic: only its matches arrive; nothing from before the kill comes again (acked, or acked by the filter).
            await client.ProduceRegionsAsync(topic, 20, start: Count);
            var after = await client.DrainAsync(topic, "eu", 4);
            Assert.Equal(FilterApi.EuValues(20, start: Count), after.Select(m => m.Value()).Order(StringComparer.Ordinal));
            Assert.Empty(await client.PullAsync(topic, "eu", "drain", waitMs: 1000));
            await client.WaitForSubscriptionAsync(topic, "eu", s => s.Lag() == 0);
        }
        finally
        {
            server.WriteOutputTo(output, 80);
        }
    }
}
