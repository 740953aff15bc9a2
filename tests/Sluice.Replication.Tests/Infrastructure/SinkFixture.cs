namespace Sluice.Replication.Tests.Infrastructure;

/// <summary>A real target and a gateway for one test class; a sink suite derives one per target.</summary>
public abstract class SinkFixture : IAsyncLifetime
{
    public Gateway Gateway { get; private set; } = null!;

    public ISinkTarget Target { get; private set; } = null!;

    /// <summary>True when a test kills the gateway (on Kafka it then runs beside a process that keeps the mock cluster).</summary>
    protected virtual bool Killable => false;

    public async Task InitializeAsync()
    {
        Target = await StartTargetAsync();
        try
        {
            Gateway = await Gateway.StartAsync(Killable);
        }
        catch
        {
            await Target.DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }

        if (Target is not null)
        {
            await Target.DisposeAsync();
        }
    }

    protected abstract Task<ISinkTarget> StartTargetAsync();
}
