using System.Diagnostics;
using System.Text;

namespace Sluice.Replication.Tests.Infrastructure;

/// <summary>
/// A target server the tests start as a child process (RabbitMQ, NATS) in its own temporary directory: started and
/// probed until it takes logins, stopped gracefully (SIGTERM) for an outage and started again on the same ports and
/// data, killed and deleted at the end.
/// </summary>
public abstract class TargetServer(string directory, TimeSpan startTimeout) : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private Process? _process;

    /// <summary>The temporary directory holding the server's data, config and logs.</summary>
    protected string Directory { get; } = directory;

    /// <summary>Starts (or starts again, on the same ports and data) and waits until a client can log in.</summary>
    public async Task StartAsync()
    {
        lock (_output)
        {
            _output.Clear();
        }

        var process = _process = Launch(_output);
        var deadline = DateTime.UtcNow + startTimeout;
        while (true)
        {
            try
            {
                await ProbeAsync();
                return;
            }
            catch (Exception ex) when (NotReadyYet(ex))
            {
                if (process.HasExited || DateTime.UtcNow > deadline)
                {
                    string output;
                    lock (_output)
                    {
                        output = _output.ToString();
                    }

                    var message = $"{GetType().Name} did not start within {startTimeout.TotalSeconds} s (exited: {process.HasExited}): {output[^Math.Min(output.Length, 4000)..]}";
                    throw process.HasExited && PortTaken(output) ? new PortTakenException(message) : new InvalidOperationException(message);
                }

                await Task.Delay(300);
            }
        }
    }

    /// <summary>A graceful stop: connections are closed and new ones refused until <see cref="StartAsync"/>.</summary>
    public async Task StopAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            await TargetProcesses.TerminateAsync(process);
            process.Dispose();
        }
    }

    public virtual ValueTask DisposeAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            TargetProcesses.Kill(process);
            process.Dispose();
        }

        TargetProcesses.DeleteDirectory(Directory);
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Creates and starts a new server, deleting it again when it does not start. Its ports were free when chosen, but
    /// another process may bind one before the server does (a broker takes seconds to open its listener): then a new
    /// server, with new ports, is tried, three times at most.
    /// </summary>
    protected static async Task<T> StartedAsync<T>(Func<Task<T>> create)
        where T : TargetServer
    {
        for (var attempt = 1; ; attempt++)
        {
            var server = await create();
            try
            {
                await server.StartAsync();
                return server;
            }
            catch (Exception ex)
            {
                await server.DisposeAsync();
                if (ex is not PortTakenException || attempt == 3)
                {
                    throw;
                }
            }
        }
    }

    // What the servers here print when a port they were given is taken (RabbitMQ's Erlang says eaddrinuse).
    private static bool PortTaken(string output)
        => output.Contains("eaddrinuse", StringComparison.OrdinalIgnoreCase) || output.Contains("address already in use", StringComparison.OrdinalIgnoreCase);

    private sealed class PortTakenException(string message) : InvalidOperationException(message);

    /// <summary>Starts the server process, its output into <paramref name="output"/>.</summary>
    protected abstract Process Launch(StringBuilder output);

    /// <summary>Logs in once; throws while the server is not ready.</summary>
    protected abstract Task ProbeAsync();

    /// <summary>True for the exceptions <see cref="ProbeAsync"/> throws while the server is still starting.</summary>
    protected abstract bool NotReadyYet(Exception error);
}
