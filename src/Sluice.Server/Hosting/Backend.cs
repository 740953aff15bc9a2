using Sluice.Core;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Server.Configuration;

namespace Sluice.Server.Hosting;

/// <summary>
/// Composition of the backend: the message log and the delivery engine over it. The log is opened after the
/// host is built (it needs the host's logger factory) and before it starts; the container then owns it and
/// disposes it after the engine, which was created after it.
/// </summary>
internal sealed class Backend
{
    private IMessageLog? _log;

    public IMessageLog Log => _log ?? throw new InvalidOperationException("the message log is not open yet");

    public static void AddServices(IServiceCollection services, ServerOptions options)
    {
        services.AddSingleton<Backend>();
        services.AddSingleton<IMessageLog>(sp => sp.GetRequiredService<Backend>().Log);
        services.AddSluiceCore(o => o.ConsumerSessionTimeout = TimeSpan.FromMilliseconds(options.ConsumerSessionTimeoutMs));
    }

    public ValueTask OpenAsync(ServerOptions options, ILoggerFactory loggerFactory, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        _ = (options, loggerFactory, timeProvider, cancellationToken);
        _log = new Interim.InMemoryLog();
        return ValueTask.CompletedTask;
    }

    /// <summary>Loads the engine's subscriptions and cursors, so the first request does not pay for it.</summary>
    public static async ValueTask StartEngineAsync(ISubscriptionService engine, CancellationToken cancellationToken)
        => await engine.ListAsync(StartProbe, cancellationToken);

    // Asking the engine anything loads its durable state; this name is never a client's (tenant "__" is reserved).
    private static readonly TopicName StartProbe = new("__sluice", "server", "start");
}
