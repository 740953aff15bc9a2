using System.Globalization;
using NATS.Client.JetStream;
using Sluice.Replication.Tests.Infrastructure;

namespace Sluice.Replication.Tests.Nats;

/// <summary>The nats sink against a real NATS JetStream started by the test; each class has its own server and gateway.</summary>
public class NatsFixture : SinkFixture
{
    protected override async Task<ISinkTarget> StartTargetAsync() => new NatsTarget(await NatsServer.StartNewAsync());
}

public sealed class NatsKillableFixture : NatsFixture
{
    protected override bool Killable => true;
}

public sealed class NatsSinkTests(NatsFixture f, ITestOutputHelper output) : SinkContractTests<NatsFixture>(f, output)
{
    private NatsTarget Target => (NatsTarget)Fixture.Target;

    [Fact]
    public async Task Messages_CarryTheIdempotencyKeyAsNatsMsgId_AndKeepKeyAndPublishTime()
    {
        var topic = Gateway.NewTopic("props");
        await Fixture.Gateway.CreateTopicAsync(topic, 1);
        await Target.PrepareAsync(topic);
        var before = DateTimeOffset.UtcNow.AddMinutes(-1);
        await Fixture.Gateway.ProduceAsync(topic, TestRecord.Make(3));
        await Fixture.Gateway.Client.CreateReplicatorAsync(SinkScenarios.Body(SinkScenarios.NewName(), topic, Target));
        await Target.WaitForRecordsAsync(topic, 3);
        var messages = await Target.MessagesAsync(NatsTarget.StreamOf(topic));
        foreach (var m in messages)
        {
            var offset = long.Parse(m.Headers!["Sluice-Offset"].ToString(), CultureInfo.InvariantCulture);
            Assert.Equal(NatsTarget.Subject(topic), m.Subject);
            Assert.Equal($"{topic}/0/{offset}", m.Headers["Nats-Msg-Id"].ToString());
            Assert.Equal($"k{offset}", m.Headers["Sluice-Key"].ToString());
            Assert.InRange(DateTimeOffset.Parse(m.Headers["Sluice-Publish-Time"].ToString(), CultureInfo.InvariantCulture), before, DateTimeOffset.UtcNow.AddMinutes(1));
        }
    }

    [Fact]
    public async Task StreamGiven_IsCreated_AndGainsTheSubjectOfATopicCreatedLater()
    {
        var ns = "ns" + Guid.NewGuid().ToString("N")[..10];
        var (first, later) = ($"repl/{ns}/first", $"repl/{ns}/later");
        await Fixture.Gateway.CreateTopicAsync(first, 2);
        await Fixture.Gateway.ProduceAsync(first, TestRecord.Make(20));
        var name = SinkScenarios.NewName();
        var stream = "R_" + name;
        var body = SinkScenarios.Body(name, $"repl/{ns}/*", Target);
        body["sink"]!["stream"] = stream;
        await Fixture.Gateway.Client.CreateReplicatorAsync(body);
        try
        {
            await WaitForStoredAsync(stream, 20);
            await Fixture.Gateway.CreateTopicAsync(later, 2);
            await Fixture.Gateway.ProduceAsync(later, TestRecord.Make(30, "late"));
            var stored = await WaitForStoredAsync(stream, 50);
            Assert.Equal(20, stored.Count(m => m.Subject == NatsTarget.Subject(first)));
            Assert.Equal(30, stored.Count(m => m.Subject == NatsTarget.Subject(later)));

            var js = new NatsJSContext(new NATS.Client.Core.NatsConnection(new NATS.Client.Core.NatsOpts { Url = Target.Server.Url }));
            await using var connection = (NATS.Client.Core.NatsConnection)js.Connection;
            var info = (await js.GetStreamAsync(stream)).Info.Config;
            Assert.Equal([NatsTarget.Subject(first), NatsTarget.Subject(later)], info.Subjects!.Order(StringComparer.Ordinal));
        }
        catch
        {
            Fixture.Gateway.WriteOutputTo(Output);
            throw;
        }
    }

    private async Task<IReadOnlyList<INatsJSMsg<byte[]>>> WaitForStoredAsync(string stream, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var stored = await Target.MessagesAsync(stream);
            if (stored.Count >= count)
            {
                return stored;
            }

            Assert.True(DateTime.UtcNow < deadline, $"stream {stream} held {stored.Count} of {count} messages after 60 s");
            await Task.Delay(200);
        }
    }
}

public sealed class NatsOutageTests(NatsFixture f, ITestOutputHelper output) : IClassFixture<NatsFixture>
{
    [Fact]
    public Task TargetDownFor20s_ShowsRetryingWithTheError_ThenCatchesUp() => SinkScenarios.TargetDownThenCatchesUpAsync(f, output);
}

public sealed class NatsCrashTests(NatsKillableFixture f, ITestOutputHelper output) : IClassFixture<NatsKillableFixture>
{
    [Fact]
    public Task GatewayKilledMidStream_RestartLosesNothingAndDuplicatesNothing() => SinkScenarios.KilledMidStreamLosesNothingAsync(f, output);
}
