using Microsoft.Extensions.Options;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;

namespace Sluice.Server.Security;

/// <summary>With auth mode none, repeats the warning every minute, so it is in every page of the log someone reads.</summary>
internal sealed partial class UnauthenticatedWarning(IOptions<ServerOptions> options, TimeProvider time, ILogger<UnauthenticatedWarning> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    public static void Write(ILogger logger, ServerOptions options) => Log.Unauthenticated(logger, options.Bind, options.Port);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.AuthMode != AuthMode.None)
        {
            return;
        }

        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                Write(logger, options.Value);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.Unauthenticated, Level = LogLevel.Warning,
            Message = "SLUICE HAS NO AUTHENTICATION (auth:mode none): anyone who can reach {Bind}:{Port} can produce, consume and delete topics. Keep it on loopback or behind an authenticating proxy, or start with --auth jwt.")]
        public static partial void Unauthenticated(ILogger logger, string bind, int port);
    }
}
