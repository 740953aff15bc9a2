using System.Net;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Faults;

/// <summary>What the fault suite does to a topic: produce known records, find its files, read it back whole.</summary>
internal static class FaultLog
{
    /// <summary>A value that says where it belongs, padded to about <paramref name="bytes"/>.</summary>
    public static string Value(int partition, int sequence, int bytes)
        => $"p{partition}-{sequence:D6}|" + new string((char)('a' + (sequence % 26)), Math.Max(0, bytes - 16));

    /// <summary>Produces <paramref name="count"/> records to one partition, <paramref name="perRequest"/> per batch; returns offset -> value.</summary>
    public static async Task<Dictionary<long, string>> ProduceAsync(HttpClient client, string topic, int partition, int first, int count, int bytes, int perRequest = 10)
    {
        var acked = new Dictionary<long, string>();
        for (var i = first; i < first + count; i += perRequest)
        {
            var values = Enumerable.Range(i, Math.Min(perRequest, first + count - i)).Select(s => Value(partition, s, bytes)).ToList();
            using var response = await client.PostAsync($"/v1/topics/{topic}/batch",
                SluiceApi.Json(new { messages = values.Select(v => new { value = v, partition }).ToArray() }));
            var body = await SluiceApi.ReadJsonAsync(response);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"batch produce answered {(int)response.StatusCode}: {body}");
            var results = body.GetProperty("results").EnumerateArray().ToList();
            for (var r = 0; r < results.Count; r++)
            {
                acked[results[r].GetProperty("offset").GetInt64()] = values[r];
            }
        }

        return acked;
    }

    public static string PartitionDirectory(string dataDir, string topic, int partition)
        => Path.Combine([dataDir, "topics", .. topic.Split('/'), partition.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

    public static List<string> Segments(string dataDir, string topic, int partition)
        => [.. Directory.GetFiles(PartitionDirectory(dataDir, topic, partition), "*.log").Order(StringComparer.Ordinal)];

    /// <summary>
    /// Reads a partition whole through replay (<c>GET .../messages</c>), which steps over damaged ranges and lists them.
    /// Returns offset -> value, and the ranges skipped.
    /// </summary>
    public static async Task<(Dictionary<long, string> Served, List<(long From, long To)> Skipped)> ReplayAllAsync(HttpClient client, string topic, int partition)
    {
        var served = new Dictionary<long, string>();
        var skipped = new List<(long, long)>();
        long? offset = null;
        while (true)
        {
            using var response = await client.GetAsync($"/v1/topics/{topic}/messages?partition={partition}&max=1000" + (offset is { } o ? $"&offset={o}" : ""));
            var body = await SluiceApi.ReadJsonAsync(response);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"replay at {offset} answered {(int)response.StatusCode}: {body}");
            foreach (var m in body.GetProperty("messages").EnumerateArray())
            {
                Assert.True(served.TryAdd(m.GetProperty("offset").GetInt64(), m.Value()), $"offset {m.GetProperty("offset")} served twice");
            }

            if (body.TryGetProperty("skipped", out var ranges))
            {
                skipped.AddRange(ranges.EnumerateArray().Select(r => (r.GetProperty("fromOffset").GetInt64(), r.GetProperty("toOffset").GetInt64())));
            }

            var next = body.GetProperty("nextOffset").GetInt64();
            if (next >= body.GetProperty("endOffset").GetInt64())
            {
                return (served, skipped);
            }

            Assert.True(offset is null || next > offset, "replay must make progress");
            offset = next;
        }
    }

    public static async Task<JsonElement> GetJsonAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        var body = await SluiceApi.ReadJsonAsync(response);
        Assert.True(response.IsSuccessStatusCode, $"GET {path} answered {(int)response.StatusCode}: {body}");
        return body;
    }
}
