using Sluice.Server.Configuration;

namespace Sluice.Server.Tests.Streaming;

/// <summary>The streaming options through the configuration loader: defaults, file, environment, flags, bad values.</summary>
public sealed class StreamingOptionsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Defaults_AreTheDocumentedOnes()
    {
        var o = ServerOptionsLoader.Load([], new Dictionary<string, string?>(), _dir).Options;
        Assert.Equal(15_000, o.SseKeepAliveMs);
        Assert.Equal(10_000, o.SlowConsumerTimeoutMs);
        Assert.Equal(1_000, o.MaxStreamsPerSubscription);
        Assert.Equal(10_000, o.MaxStreams);
    }

    [Fact]
    public void FileEnvironmentAndFlags_SetThem()
    {
        File.WriteAllText(Path.Combine(_dir, "sluice.yaml"), """
            streaming:
              sseKeepAliveMs: 5000
              maxStreams: 200
            """);
        var env = new Dictionary<string, string?> { ["SLUICE_STREAMING__SLOWCONSUMERTIMEOUTMS"] = "2500" };
        var result = ServerOptionsLoader.Load(["--max-streams-per-subscription", "7"], env, _dir);
        Assert.Empty(result.Errors);
        Assert.Equal(5000, result.Options.SseKeepAliveMs);
        Assert.Equal(200, result.Options.MaxStreams);
        Assert.Equal(2500, result.Options.SlowConsumerTimeoutMs);
        Assert.Equal(7, result.Options.MaxStreamsPerSubscription);
    }

    [Fact]
    public void BadValues_AreEachReported()
    {
        var result = ServerOptionsLoader.Load(["--sse-keep-alive-ms", "0", "--max-streams", "-1", "--slow-consumer-timeout-ms", "soon"], new Dictionary<string, string?>(), _dir);
        Assert.Equal(3, result.Errors.Count);
        Assert.Contains(result.Errors, e => e.Contains("streaming:sseKeepAliveMs", StringComparison.Ordinal) && e.Contains("between 100 and 300000", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.Contains("streaming:maxStreams", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.Contains("streaming:slowConsumerTimeoutMs", StringComparison.Ordinal));
    }
}
