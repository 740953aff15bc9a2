using System.Diagnostics;
using System.Globalization;
using System.Text;
using RabbitMQ.Client;
using Sluice.Replication.Tests.Infrastructure;
using static Sluice.Replication.Tests.Infrastructure.TargetProcesses;

namespace Sluice.Replication.Tests.Amqp;

/// <summary>
/// A real RabbitMQ node for one test class (Debian's rabbitmq-server): its own node name, AMQP, distribution and epmd
/// ports, mnesia, log and config under a temporary directory, and its own Erlang cookie (HOME), so it shares nothing with
/// a system broker or another test's node. epmd runs as a child of the test, not as a daemon, so nothing outlives it.
/// The config creates user <c>sluice</c> (password per server), vhost <c>sluice</c>, and sets max_message_size to
/// <see cref="MaxMessageSize"/> so an oversized record is refused for good.
/// </summary>
public sealed class RabbitMqServer : TargetServer
{
    public const int MaxMessageSize = 8192;
    public const string VirtualHost = "sluice";

    private const string ServerScript = "/usr/lib/rabbitmq/bin/rabbitmq-server";

    private readonly Dictionary<string, string> _environment;
    private readonly Process _epmd;

    private RabbitMqServer(string directory, int port, string password, Dictionary<string, string> environment, Process epmd)
        : base(directory, TimeSpan.FromSeconds(300))
    {
        Port = port;
        Password = password;
        _environment = environment;
        _epmd = epmd;
    }

    public int Port { get; }

    public string Password { get; }

    public Uri Uri => new($"amqp://sluice:{Password}@127.0.0.1:{Port}/{VirtualHost}");

    public static Task<RabbitMqServer> StartNewAsync()
    {
        if (!File.Exists(ServerScript))
        {
            throw new InvalidOperationException($"RabbitMQ is not installed (no {ServerScript}): run scripts/test, which installs Debian's rabbitmq-server package");
        }

        return StartedAsync(CreateAsync);
    }

    // A new directory, config, cookie and ports, and its own epmd.
    private static async Task<RabbitMqServer> CreateAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "sluice-rabbit-" + Guid.NewGuid().ToString("N")[..12]);
        var home = Path.Combine(directory, "home");
        System.IO.Directory.CreateDirectory(home);
        var cookie = Path.Combine(home, ".erlang.cookie");
        await File.WriteAllTextAsync(cookie, Guid.NewGuid().ToString("N"));
        if (!OperatingSystem.IsWindows())
        {
            // Erlang refuses a cookie file others can read.
            File.SetUnixFileMode(cookie, UnixFileMode.UserRead);
        }

        var (port, distPort, epmdPort) = (FreePort(), FreePort(), FreePort());
        var password = "pw-" + Guid.NewGuid().ToString("N");
        await File.WriteAllTextAsync(Path.Combine(directory, "rabbitmq.conf"), string.Join('\n',
            $"listeners.tcp.1 = 127.0.0.1:{port}",
            "loopback_users = none",
            "default_user = sluice",
            $"default_pass = {password}",
            $"default_vhost = {VirtualHost}",
            "default_permissions.configure = .*",
            "default_permissions.read = .*",
            "default_permissions.write = .*",
            $"max_message_size = {MaxMessageSize}",
            "disk_free_limit.absolute = 50MB",
            "log.console = true",
            "log.file = false",
            ""));
        await File.WriteAllTextAsync(Path.Combine(directory, "enabled_plugins"), "[].\n");
        await File.WriteAllTextAsync(Path.Combine(directory, "rabbitmq-env.conf"), "");
        var node = "sluice" + Guid.NewGuid().ToString("N")[..8];
        var environment = new Dictionary<string, string>
        {
            ["HOME"] = home,
            ["RABBITMQ_NODENAME"] = $"{node}@localhost",
            ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_NODE_PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["RABBITMQ_DIST_PORT"] = distPort.ToString(CultureInfo.InvariantCulture),
            ["ERL_EPMD_PORT"] = epmdPort.ToString(CultureInfo.InvariantCulture),
            ["ERL_EPMD_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_MNESIA_BASE"] = Path.Combine(directory, "mnesia"),
            ["RABBITMQ_LOG_BASE"] = Path.Combine(directory, "log"),
            ["RABBITMQ_CONFIG_FILE"] = Path.Combine(directory, "rabbitmq.conf"),
            ["RABBITMQ_ADVANCED_CONFIG_FILE"] = Path.Combine(directory, "advanced.config"),
            ["RABBITMQ_CONF_ENV_FILE"] = Path.Combine(directory, "rabbitmq-env.conf"),
            ["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(directory, "enabled_plugins"),
            ["RABBITMQ_PLUGINS_EXPAND_DIR"] = Path.Combine(directory, "plugins-expand"),
            ["RABBITMQ_FEATURE_FLAGS_FILE"] = Path.Combine(directory, "feature_flags"),
            ["RABBITMQ_PID_FILE"] = Path.Combine(directory, "pid"),

            // The script then execs the VM instead of staying as a shell in front of it: the process started here is
            // the broker, and SIGTERM stops it gracefully.
            ["RUNNING_UNDER_SYSTEMD"] = "true",
        };

        var epmd = Start("epmd", ["-port", epmdPort.ToString(CultureInfo.InvariantCulture)], environment, new StringBuilder());
        return new RabbitMqServer(directory, port, password, environment, epmd);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        TargetProcesses.Kill(_epmd);
        _epmd.Dispose();
    }

    protected override Process Launch(StringBuilder output) => TargetProcesses.Start(ServerScript, [], _environment, output);

    protected override async Task ProbeAsync()
    {
        var factory = new ConnectionFactory { Uri = Uri, AutomaticRecoveryEnabled = false, RequestedConnectionTimeout = TimeSpan.FromSeconds(5) };
        await using var connection = await factory.CreateConnectionAsync();
    }

    protected override bool NotReadyYet(Exception error) => error is RabbitMQ.Client.Exceptions.BrokerUnreachableException or IOException;
}
