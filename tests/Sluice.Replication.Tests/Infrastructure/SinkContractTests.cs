namespace Sluice.Replication.Tests.Infrastructure;

/// <summary>
/// The scenarios every sink passes (<see cref="SinkScenarios"/>), as facts of each sink's own test class, which adds the
/// facts particular to its target.
/// </summary>
public abstract class SinkContractTests<TFixture>(TFixture fixture, ITestOutputHelper output) : IClassFixture<TFixture>
    where TFixture : SinkFixture
{
    protected TFixture Fixture { get; } = fixture;

    protected ITestOutputHelper Output { get; } = output;

    [Fact]
    public Task KeyedRecordsWithHeaders_ArriveCompleteAndInOrderPerPartition() => SinkScenarios.CompleteAndInOrderAsync(Fixture, Output);

    [Fact]
    public Task RefusedRecord_IsDeadLetteredWhileTheRestFlows() => SinkScenarios.RefusedRecordIsDeadLetteredAsync(Fixture, Output);

    [Fact]
    public Task Secrets_NeverAppearInAnswersOrLogs() => SinkScenarios.SecretsNeverShownAsync(Fixture, Output);

    [Fact]
    public Task NamespaceSource_PicksUpATopicCreatedLater() => SinkScenarios.NamespaceSourcePicksUpNewTopicAsync(Fixture, Output);

    [Fact]
    public Task StopSeekStart_KeepAndMoveThePosition() => SinkScenarios.StopSeekStartAsync(Fixture, Output);
}
