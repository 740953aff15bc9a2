using Sluice.Server.Tests.Infrastructure;
using static Sluice.Server.Tests.Diagnostics.MetricsScraper;

namespace Sluice.Server.Tests.Diagnostics;

/// <summary>The label policy of per-topic and per-subscription series: the cap on label sets, and dropping labels.</summary>
public sealed class MetricsLabelTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SeriesPastTheCap_AreSummedIntoOneOtherSeries_AndTotalsStayRight()
    {
        await using var server = await ServerProcess.StartNewAsync(["--metrics-max-series", "3"]);
        try
        {
            // Five topics of one tenant (names sort in creation order), 1 to 5 messages each: 15 in all.
            var prefix = "tests/cap" + Guid.NewGuid().ToString("N")[..8];
            for (var t = 1; t <= 5; t++)
            {
                for (var m = 0; m < t; m++)
                {
                    await server.Client.ProduceAsync($"{prefix}/t{t}", "x");
                }
            }

            var scrape = await server.Client.ScrapeAsync();
            var sent = scrape.Find("messaging_client_sent_messages_total").ToList();
            output.WriteLine(string.Join("\n", sent));
            Assert.Equal(4, sent.Count);
            Assert.Equal(1, scrape.Value("messaging_client_sent_messages_total", Of($"{prefix}/t1")));
            Assert.Equal(2, scrape.Value("messaging_client_sent_messages_total", Of($"{prefix}/t2")));
            Assert.Equal(3, scrape.Value("messaging_client_sent_messages_total", Of($"{prefix}/t3")));
            Assert.Equal(9, scrape.Value("messaging_client_sent_messages_total", Of("_other")));

            // Subscriptions: four on one topic, capped at three label sets plus _other.
            var topic = $"{prefix}/t5";
            foreach (var name in new[] { "a", "b", "c", "d" })
            {
                await server.Client.PutSubscriptionAsync(topic, name, new { position = "earliest" });
                Assert.Equal(5, (await server.Client.DrainAsync(topic, name, 5)).Count);
            }

            scrape = await server.Client.ScrapeAsync();
            var consumed = scrape.Find("messaging_client_consumed_messages_total").ToList();
            Assert.Equal(4, consumed.Count);
            Assert.Equal(5, scrape.Value("messaging_client_consumed_messages_total", Of(topic, "c")));
            Assert.Equal(5, scrape.Value("messaging_client_consumed_messages_total", Of("_other", "_other")));
            Assert.Null(scrape.Value("messaging_client_consumed_messages_total", Of(topic, "d")));
        }
        finally
        {
            server.WriteOutputTo(output, lastLines: 30);
        }
    }

    [Fact]
    public async Task DelayedMessageSeries_FollowTheLabelPolicy_TopicDroppedWithLabelsNone_AndCapped()
    {
        var prefix = "tests/delaycap" + Guid.NewGuid().ToString("N")[..8];
        await using (var none = await ServerProcess.StartNewAsync(["--metrics-labels", "none"]))
        {
            for (var t = 1; t <= 3; t++)
            {
                await ProduceHeldAsync(none.Client, $"{prefix}/t{t}");
            }

            var held = Assert.Single((await none.Client.ScrapeAsync()).Find("sluice_delay_held_total"));
            Assert.Equal(3, held.Value);
            Assert.False(held.Labels.ContainsKey("messaging_destination_name"), held.ToString());
        }

        await using var capped = await ServerProcess.StartNewAsync(["--metrics-max-series", "2"]);
        try
        {
            for (var t = 1; t <= 5; t++)
            {
                await ProduceHeldAsync(capped.Client, $"{prefix}/t{t}");
            }

            // Two topics' series and one overflow series, which holds the other three.
            var series = (await capped.Client.ScrapeAsync()).Find("sluice_delay_held_total").ToList();
            output.WriteLine(string.Join("\n", series));
            Assert.Equal(3, series.Count);
            Assert.Equal(5, series.Sum(s => s.Value));
            Assert.Equal(2, series.Count(s => s.Labels.ContainsKey("messaging_destination_name")));
        }
        finally
        {
            capped.WriteOutputTo(output, lastLines: 30);
        }
    }

    [Fact]
    public async Task LabelsTopic_DropsTheSubscriptionLabel_AndLabelsNone_KeepsOneSeries()
    {
        var topic = SluiceApi.NewTopic("labels");
        foreach (var (labels, expectTopic) in new[] { ("topic", true), ("none", false) })
        {
            await using var server = await ServerProcess.StartNewAsync(["--metrics-labels", labels]);
            for (var m = 0; m < 3; m++)
            {
                await server.Client.ProduceAsync(topic, "x");
            }

            foreach (var name in new[] { "a", "b" })
            {
                await server.Client.PutSubscriptionAsync(topic, name, new { position = "earliest" });
                Assert.Equal(3, (await server.Client.DrainAsync(topic, name, 3)).Count);
            }

            var scrape = await server.Client.ScrapeAsync();
            var consumed = Assert.Single(scrape.Find("messaging_client_consumed_messages_total"));
            Assert.Equal(6, consumed.Value);
            Assert.False(consumed.Labels.ContainsKey("messaging_destination_subscription_name"), consumed.ToString());
            Assert.Equal(expectTopic, consumed.Labels.ContainsKey("messaging_destination_name"));
            Assert.Equal(3, Assert.Single(scrape.Find("messaging_client_sent_messages_total")).Value);
        }
    }

    // A message held for an hour: counted by sluice.delay.held, never delivered during the test.
    private static async Task ProduceHeldAsync(HttpClient client, string topic)
    {
        using var response = await client.PostAsync($"/v1/topics/{topic}/messages?deliverAfterMs=3600000", new StringContent("x"));
        Assert.True(response.IsSuccessStatusCode, $"delayed produce answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }
}
