using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Streaming;

/// <summary>
/// One server for a streaming test class. Short keep-alive and slow-consumer timeouts keep the tests quick; at most
/// three streams per subscription so the limit is testable without opening thousands.
/// </summary>
public sealed class StreamingServer : IAsyncLifetime
{
    public const int MaxStreamsPerSubscription = 3;
    public const int SlowConsumerTimeoutMs = 1500;

    public ServerProcess Server { get; } = new([
        "--sse-keep-alive-ms", "500",
        "--slow-consumer-timeout-ms", SlowConsumerTimeoutMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--max-streams-per-subscription", MaxStreamsPerSubscription.ToString(System.Globalization.CultureInfo.InvariantCulture),
    ]);

    public HttpClient Client => Server.Client;

    public Uri BaseAddress => Client.BaseAddress!;

    public Task InitializeAsync() => Server.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();

    /// <summary>A new topic with <paramref name="partitions"/> partitions.</summary>
    public async Task<string> NewTopicAsync(int partitions = 1)
    {
        var topic = SluiceApi.NewTopic();
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/v1/topics/{topic}") { Content = SluiceApi.Json(new { partitions }) };
        await SluiceApi.SendOkAsync(Client, request);
        return topic;
    }

    /// <summary>Values m{start} .. m{start + count - 1}, in one batch (in order within each partition).</summary>
    public async Task ProduceManyAsync(string topic, int count, int start = 0)
    {
        var messages = Enumerable.Range(start, count).Select(i => new { value = $"m{i}" }).ToArray();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/batch") { Content = SluiceApi.Json(new { messages }) };
        await SluiceApi.SendOkAsync(Client, request);
    }
}
