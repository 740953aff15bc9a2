using Sluice.Server.Configuration;

namespace Sluice.Server.Tests;

/// <summary>The configuration loader in-process: precedence, YAML flattening, and one error per bad value.</summary>
public sealed class ServerOptionsLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void NoFileNoEnvironmentNoFlags_GivesTheDocumentedDefaults()
    {
        var result = ServerOptionsLoader.Load([], new Dictionary<string, string?>(), _dir);
        Assert.Empty(result.Errors);
        Assert.Null(result.ConfigFile);
        var o = result.Options;
        Assert.Equal(8080, o.Port);
        Assert.Equal("127.0.0.1", o.Bind);
        Assert.Equal("./data", o.DataDir);
        Assert.Equal(FlushPolicyOption.Always, o.FlushPolicy);
        Assert.Equal(1024 * 1024, o.MaxMessageBytes);
        Assert.True(o.AutoCreateTopics);
        Assert.Equal(4, o.DefaultPartitions);
        Assert.Equal(30_000, o.AckDeadlineMs);
    }

    [Fact]
    public void Yaml_NestedKeysFlatten_AndFlagsBeatEnvironmentBeatFile()
    {
        File.WriteAllText(Path.Combine(_dir, "sluice.yaml"), """
            port: 9000
            bind: 0.0.0.0
            flush:
              policy: interval
              intervalMs: 20
            topics:
              defaultPartitions: 2
              autoCreate: false
            """);
        var env = new Dictionary<string, string?> { ["SLUICE_PORT"] = "9100", ["sluice_topics__defaultpartitions"] = "3", ["PATH"] = "/bin" };
        var result = ServerOptionsLoader.Load(["--port", "9200"], env, _dir);

        Assert.Empty(result.Errors);
        Assert.Equal("sluice.yaml", result.ConfigFile);
        Assert.Equal(9200, result.Options.Port);
        Assert.Equal(3, result.Options.DefaultPartitions);
        Assert.Equal("0.0.0.0", result.Options.Bind);
        Assert.Equal(FlushPolicyOption.Interval, result.Options.FlushPolicy);
        Assert.Equal(20, result.Options.FlushIntervalMs);
        Assert.False(result.Options.AutoCreateTopics);
    }

    [Fact]
    public void EveryBadValue_IsReportedOnce_NamingOptionValueAndSource()
    {
        File.WriteAllText(Path.Combine(_dir, "sluice.json"), """{ "maxMessageBytes": 0, "colour": "blue" }""");
        var env = new Dictionary<string, string?> { ["SLUICE_BIND"] = "somewhere" };
        var result = ServerOptionsLoader.Load(["--port=0", "--data-dir"], env, _dir);

        Assert.Contains(result.Errors, e => e.Contains("maxMessageBytes", StringComparison.Ordinal) && e.Contains("sluice.json", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.Contains("colour", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.Contains("'somewhere'", StringComparison.Ordinal) && e.Contains("SLUICE_BIND", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.Contains("'0'", StringComparison.Ordinal) && e.Contains("--port", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.Contains("--data-dir needs a value", StringComparison.Ordinal));
        Assert.Equal(5, result.Errors.Count);
    }

    [Fact]
    public void CrossFieldCheck_BatchSmallerThanMessage_IsAnError()
    {
        var result = ServerOptionsLoader.Load(["--max-message-bytes", "4096", "--max-batch-bytes", "2048"], new Dictionary<string, string?>(), _dir);
        Assert.Empty(result.Errors);
        Assert.Contains(ServerOptionsValidator.Check(result.Options), e => e.Contains("maxBatchBytes", StringComparison.Ordinal));
    }
}
