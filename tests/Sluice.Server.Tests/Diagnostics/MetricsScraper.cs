using System.Net;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Diagnostics;

/// <summary>Scrapes a server's <c>/metrics</c>, and waits for a sample to reach a value (gauges are sampled in the background).</summary>
public static class MetricsScraper
{
    public static async Task<PrometheusText> ScrapeAsync(this HttpClient client)
    {
        using var response = await client.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"/metrics answered {(int)response.StatusCode}: {text}");
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType ?? "", StringComparison.Ordinal);
        return PrometheusText.Parse(text);
    }

    /// <summary>Scrapes until the sample has <paramref name="expected"/>; fails with the last scrape's samples of that name.</summary>
    public static async Task<PrometheusText> WaitForAsync(this HttpClient client, double expected, string name, params (string Name, string Value)[] labels)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var scrape = await client.ScrapeAsync();
            if (scrape.Value(name, labels) == expected)
            {
                return scrape;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"{name} {string.Join(",", labels)} did not reach {expected} within 30 s; samples: {string.Join("; ", scrape.Find(name))}");
            }

            await Task.Delay(200);
        }
    }

    public static (string, string)[] Of(string topic, string? subscription = null) => subscription is null
        ? [("messaging_system", "sluice"), ("messaging_destination_name", topic)]
        : [("messaging_system", "sluice"), ("messaging_destination_name", topic), ("messaging_destination_subscription_name", subscription)];
}
