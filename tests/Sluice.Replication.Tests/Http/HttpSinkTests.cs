using Sluice.Replication.Tests.Infrastructure;

namespace Sluice.Replication.Tests.Http;

/// <summary>The http sink against a real receiver; each class below has its own receiver and gateway, so they run in parallel.</summary>
public sealed class HttpSinkFixture : SinkFixture
{
    protected override async Task<ISinkTarget> StartTargetAsync() => await HttpReceiver.StartNewAsync();
}

public sealed class HttpKillableFixture : SinkFixture
{
    protected override bool Killable => true;

    protected override async Task<ISinkTarget> StartTargetAsync() => await HttpReceiver.StartNewAsync("ndjson");
}

public sealed class HttpSingleFixture : SinkFixture
{
    protected override async Task<ISinkTarget> StartTargetAsync() => await HttpReceiver.StartNewAsync("single");
}

public sealed class HttpSinkTests(HttpSinkFixture f, ITestOutputHelper output) : SinkContractTests<HttpSinkFixture>(f, output)
{
    [Fact]
    public async Task SignedBatches_CarryTheStandardWebhooksSignatureOfTheirExactBody()
    {
        // The receiver refuses (and counts) a request whose signature does not match its body; a batch body is encoded
        // into a pooled buffer and signed without a copy, so this checks both reach the wire as the same bytes.
        await SinkScenarios.CompleteAndInOrderAsync(Fixture, Output);
        var receiver = (HttpReceiver)Fixture.Target;
        Assert.NotEmpty(receiver.Requests);
        Assert.Equal(0, receiver.BadSignatures);
    }
}

public sealed class HttpSinkOutageTests(HttpSinkFixture f, ITestOutputHelper output) : IClassFixture<HttpSinkFixture>
{
    [Fact]
    public Task TargetDownFor20s_ShowsRetryingWithTheError_ThenCatchesUp() => SinkScenarios.TargetDownThenCatchesUpAsync(f, output);
}

public sealed class HttpSinkCrashTests(HttpKillableFixture f, ITestOutputHelper output) : IClassFixture<HttpKillableFixture>
{
    [Fact]
    public Task GatewayKilledMidStream_RestartLosesNothing() => SinkScenarios.KilledMidStreamLosesNothingAsync(f, output);
}

public sealed class HttpSingleMessageTests(HttpSingleFixture f, ITestOutputHelper output) : IClassFixture<HttpSingleFixture>
{
    [Fact]
    public Task OneRequestPerMessage_ArrivesCompleteAndInOrder() => SinkScenarios.CompleteAndInOrderAsync(f, output);

    [Fact]
    public Task OneRequestPerMessage_RefusedRecordIsDeadLettered() => SinkScenarios.RefusedRecordIsDeadLetteredAsync(f, output);
}
