using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Cli.Tests.Infrastructure;

/// <summary>One real server for a test class (each test uses its own topics), with a CLI pointed at it.</summary>
public class CliServer : IAsyncLifetime
{
    public CliServer()
        : this([])
    {
    }

    protected CliServer(string[] serverArgs, Dictionary<string, string>? environment = null)
    {
        Server = new ServerProcess(serverArgs, environment);
    }

    public ServerProcess Server { get; }

    public string Address => $"http://127.0.0.1:{Server.Port}";

    public CliRunner NewCli() => new(Address);

    public static string NewTopic(string prefix = "t") => $"cli/ns/{prefix}-{Guid.NewGuid():N}";

    public virtual Task InitializeAsync() => Server.StartAsync();

    public virtual async Task DisposeAsync() => await Server.DisposeAsync();
}
