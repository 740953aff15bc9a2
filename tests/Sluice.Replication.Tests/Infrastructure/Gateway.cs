using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Replication.Tests.Infrastructure;

/// <summary>
/// The gateway a replication test talks to. On the embedded log: one server process on its own data directory, killed
/// (SIGKILL) and restarted on the same directory. On Kafka (<c>SLUICE_TEST_BACKEND=kafka</c>): a host process that keeps
/// librdkafka's mock cluster (and so all state) with role <c>http</c> only, and a member gateway (roles http and
/// workers) that runs the replicators and can be killed and restarted without losing the cluster. Topics are created
/// through <see cref="Admin"/> (on Kafka only the mock's host can create topics).
/// </summary>
public sealed class Gateway : IAsyncDisposable
{
    public static readonly string[] CommonArgs = ["--allow-private-webhooks", "--consumer-session-timeout-ms", "5000"];

    private readonly ServerProcess? _host;
    private readonly ServerProcess _member;

    private Gateway(ServerProcess? host, ServerProcess member)
    {
        _host = host;
        _member = member;
    }

    public static bool OnKafka => ServerProcess.OnKafka;

    /// <summary>The gateway that runs the replicators.</summary>
    public HttpClient Client => _member.Client;

    /// <summary>Where topics are created.</summary>
    public HttpClient Admin => (_host ?? _member).Client;

    public string Output => (_host is null ? "" : "---- host\n" + _host.Output + "\n---- member\n") + _member.Output;

    /// <summary>A single gateway; with <paramref name="killable"/> on Kafka, a member beside a mock-hosting process.</summary>
    public static async Task<Gateway> StartAsync(bool killable = false, params string[] extraArgs)
    {
        if (!OnKafka || !killable)
        {
            var single = new ServerProcess([.. CommonArgs, .. extraArgs]);
            await single.StartAsync();
            return new Gateway(null, single);
        }

        var host = new ServerProcess([.. CommonArgs, "--roles", "http"]);
        await host.StartAsync();
        var health = await SluiceApi.ReadJsonAsync(await host.Client.GetAsync("/healthz"));
        var bootstrap = health.GetProperty("kafkaBootstrap").GetString()!;
        var member = new ServerProcess([.. CommonArgs, .. extraArgs, "--kafka-mock-brokers", "0", "--kafka-bootstrap", bootstrap, "--kafka-session-timeout-ms", "6000"]);
        try
        {
            await member.StartAsync();
        }
        catch
        {
            await host.DisposeAsync();
            await member.DisposeAsync();
            throw;
        }

        return new Gateway(host, member);
    }

    /// <summary>SIGKILL of the gateway that runs the replicators: no shutdown code runs.</summary>
    public Task KillAsync() => _member.KillAsync();

    /// <summary>Starts the killed gateway again on the same data (directory, or cluster).</summary>
    public Task RestartAsync() => _member.StartAsync();

    public async Task CreateTopicAsync(string topic, int partitions = 4)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/v1/topics/{topic}") { Content = SluiceApi.Json(new { partitions }) };
        await SluiceApi.SendOkAsync(Admin, request);
    }

    /// <summary>Publishes records through the batch route, in chunks of 1000; returns their ids in order.</summary>
    public async Task ProduceAsync(string topic, IReadOnlyList<TestRecord> records)
    {
        for (var start = 0; start < records.Count; start += 1000)
        {
            var chunk = records.Skip(start).Take(1000).Select(r => new { key = r.Key, value = r.Value, headers = r.Headers }).ToArray();
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/batch") { Content = SluiceApi.Json(new { messages = chunk }) };
            var body = await SluiceApi.SendOkAsync(Client, request);
            Assert.Equal(chunk.Length, body.GetProperty("results").GetArrayLength());
        }
    }

    public void WriteOutputTo(ITestOutputHelper output, int lastLines = 200)
    {
        _host?.WriteOutputTo(output, 40);
        _member.WriteOutputTo(output, lastLines);
    }

    public async ValueTask DisposeAsync()
    {
        await _member.DisposeAsync();
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    public static string NewTopic(string ns) => $"repl/{ns}/t{Guid.NewGuid().ToString("N")[..12]}";

    public static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement.Clone();
}

/// <summary>A record a test publishes: keyed, with headers.</summary>
public sealed record TestRecord(string Key, string Value, Dictionary<string, string> Headers)
{
    /// <summary><paramref name="count"/> records with keys k0..k49 and headers n (the index) and src.</summary>
    public static List<TestRecord> Make(int count, string prefix = "v")
        => [.. Enumerable.Range(0, count).Select(i => new TestRecord($"k{i % 50}", $"{prefix}{i}-{new string('x', i % 17)}", new Dictionary<string, string> { ["n"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture), ["src"] = "test" }))];
}
