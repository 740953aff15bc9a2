using System.Diagnostics;
using System.Globalization;
using System.Text;
using NATS.Client.Core;
using Sluice.Replication.Tests.Infrastructure;

namespace Sluice.Replication.Tests.Nats;

/// <summary>
/// A real NATS server with JetStream for one test class (Debian's nats-server): a free loopback port, its store in a
/// temporary directory, no monitoring port, user <c>sluice</c> with a password per server.
/// </summary>
public sealed class NatsServer : TargetServer
{
    private const string Binary = "/usr/sbin/nats-server";

    private NatsServer(string directory, int port, string password)
        : base(directory, TimeSpan.FromSeconds(60))
    {
        Port = port;
        Password = password;
    }

    public int Port { get; }

    public string Password { get; }

    public string Url => $"nats://sluice:{Password}@127.0.0.1:{Port}";

    public static async Task<NatsServer> StartNewAsync()
    {
        if (!File.Exists(Binary))
        {
            throw new InvalidOperationException($"NATS is not installed (no {Binary}): run scripts/test, which installs Debian's nats-server package");
        }

        return await StartedAsync(() =>
        {
            // A new directory and port for every try: a failed start deletes its directory.
            var directory = Path.Combine(Path.GetTempPath(), "sluice-nats-" + Guid.NewGuid().ToString("N")[..12]);
            System.IO.Directory.CreateDirectory(directory);
            return Task.FromResult(new NatsServer(directory, TargetProcesses.FreePort(), "pw-" + Guid.NewGuid().ToString("N")));
        });
    }

    protected override Process Launch(StringBuilder output) => TargetProcesses.Start(
        Binary,
        ["-js", "-sd", Path.Combine(Directory, "store"), "-a", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "--user", "sluice", "--pass", Password],
        new Dictionary<string, string>(),
        output);

    protected override async Task ProbeAsync()
    {
        await using var connection = new NatsConnection(new NatsOpts { Url = Url, ConnectTimeout = TimeSpan.FromSeconds(2) });
        await connection.ConnectAsync();
    }

    protected override bool NotReadyYet(Exception error) => error is NatsException;
}
