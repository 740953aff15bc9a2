using Sluice.Core.Replication;
using Sluice.Core.Topics;

namespace Sluice.Core.Tests.Replication;

public sealed class SinkCatalogTests
{
    private static readonly SinkCatalog Catalog = new([new EchoSinkType()]);

    [Theory]
    [InlineData("""{"type":"echo","target":"x","depth":3}""", "sink.depth", "between 1 and 2")]
    [InlineData("""{"type":"echo","target":"x","colour":"red"}""", "sink.colour", "is not a setting")]
    [InlineData("""{"type":"echo"}""", "sink.target", "is required")]
    [InlineData("""{"type":"echo","target":"{nope}"}""", "sink.target", "unknown placeholder")]
    [InlineData("""{"type":"echo","target":"x","password":"${secret:missing}"}""", "sink.password", "not in secrets")]
    [InlineData("""{"type":"other","target":"x"}""", "sink.type", "echo")]
    public void BadSetting_NamesTheField(string sink, string field, string says)
    {
        var ex = Assert.Throws<SinkSettingsException>(() => Catalog.Prepare(Definition(sink)));
        Assert.Equal(field, ex.Field);
        Assert.Contains(says, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SecretReferences_AreResolvedForTheSink_AndScrubbedFromItsErrors()
    {
        var prepared = Catalog.Prepare(Definition("""{"type":"echo","target":"{namespace}_{topic}","password":"pre-${secret:pw}-post"}"""));
        Assert.Equal("pre-hunter2!-post", prepared.Settings);
        Assert.Equal("ns_orders", prepared.TargetFor(new TopicName("t", "ns", "orders")));

        var ex = Assert.Throws<SinkSettingsException>(() => Catalog.Prepare(Definition("""{"type":"echo","target":"x","password":"${secret:pw}","quote":true}""")));
        Assert.DoesNotContain("hunter2", ex.Message, StringComparison.Ordinal);
        Assert.Contains("***", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Targets_NameSomeTopics_AndMustBeInTheSource()
    {
        var definition = Definition("""{"type":"echo","targets":{"t/ns/a":"first"}}""", ReplicatorSource.ForNamespace("t", "ns"));
        var prepared = Catalog.Prepare(definition);
        Assert.Equal("first", prepared.TargetFor(new TopicName("t", "ns", "a")));
        Assert.Null(prepared.TargetFor(new TopicName("t", "ns", "b")));

        var ex = Assert.Throws<SinkSettingsException>(() => Catalog.Prepare(Definition("""{"type":"echo","targets":{"t/other/a":"x"}}""", ReplicatorSource.ForNamespace("t", "ns"))));
        Assert.Equal("sink.targets.t/other/a", ex.Field);
    }

    private static ReplicatorDefinition Definition(string sink, ReplicatorSource? source = null) => new()
    {
        Name = "r",
        Source = source ?? ReplicatorSource.ForTopic(new TopicName("t", "ns", "orders")),
        SinkType = "echo",
        SinkJson = sink,
        Secrets = new Dictionary<string, string> { ["pw"] = "hunter2!" },
    };

    /// <summary>Reads a password (the value it returns, so the test sees what the sink got), a depth of 1 or 2, and quote (an error quoting the password).</summary>
    private sealed class EchoSinkType : ReplicationSinkType
    {
        public override string Name => "echo";

        public override string TargetField => "target";

        public override object ReadSettings(SinkSettings settings)
        {
            var password = settings.String("password");
            _ = settings.Integer("depth", 1, 2);
            if (settings.Bool("quote") == true)
            {
                // What a careless sink might do: the engine scrubs it.
                SinkSettings.Fail("password", $"'{password}' is refused");
            }

            return password ?? "";
        }

        public override IReplicationSink CreateSink(object settings, SinkContext context) => throw new NotSupportedException();
    }
}
