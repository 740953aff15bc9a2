using static Sluice.Replication.Tests.Infrastructure.TargetProcesses;

namespace Sluice.Replication.Tests.PostgreSql;

/// <summary>
/// A real PostgreSQL server for one test class: <c>initdb</c> into a temporary directory, <c>pg_ctl start</c> on a free
/// loopback port (its socket in the same directory), stopped and deleted at the end. PostgreSQL refuses to run as root,
/// so as root it runs as the <c>postgres</c> user (Debian's package makes it) through <c>runuser</c>. Password
/// authentication (scram) for user <c>sluice</c>, so a wrong password fails like in production.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private static readonly string BinDirectory = FindBin();

    private readonly string _directory;

    private PostgresServer(string directory, int port, string password)
    {
        _directory = directory;
        Port = port;
        Password = password;
    }

    public int Port { get; }

    public string Password { get; }

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=sluice;Password={Password};Database=postgres;Pooling=false";

    public static async Task<PostgresServer> StartNewAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "sluice-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        var password = "pw-" + Guid.NewGuid().ToString("N");
        await File.WriteAllTextAsync(Path.Combine(directory, "pwfile"), password);
        if (IsRoot)
        {
            await RunAsync("chown", "-R", "postgres", directory);
        }

        await PgAsync("initdb", "-D", Path.Combine(directory, "data"), "-U", "sluice", "--auth=scram-sha-256", "--pwfile", Path.Combine(directory, "pwfile"), "-E", "UTF8", "--no-sync");
        var server = new PostgresServer(directory, FreePort(), password);
        await server.StartAsync();
        return server;
    }

    /// <summary>Starts (or starts again, on the same port and data) and waits until it accepts connections.</summary>
    public Task StartAsync() => PgAsync("pg_ctl", "-D", Path.Combine(_directory, "data"), "-l", Path.Combine(_directory, "log"), "-w", "-t", "60",
        "-o", $"-p {Port} -k {_directory} -c listen_addresses=127.0.0.1 -c max_connections=100", "start");

    /// <summary>Fast shutdown: connections are cut and new ones refused until <see cref="StartAsync"/>.</summary>
    public Task StopAsync() => PgAsync("pg_ctl", "-D", Path.Combine(_directory, "data"), "-w", "-t", "60", "-m", "fast", "stop");

    public async ValueTask DisposeAsync()
    {
        try
        {
            await PgAsync("pg_ctl", "-D", Path.Combine(_directory, "data"), "-w", "-t", "60", "-m", "immediate", "stop");
        }
        catch (InvalidOperationException)
        {
            // Already stopped.
        }

        DeleteDirectory(_directory);
    }

    private static bool IsRoot => Environment.UserName == "root";

    private static Task PgAsync(string tool, params string[] args)
        => IsRoot ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(BinDirectory, tool), .. args]) : RunAsync(Path.Combine(BinDirectory, tool), args);

    // Debian's postgresql package: /usr/lib/postgresql/<version>/bin (scripts/test installs it when missing).
    private static string FindBin()
    {
        var root = "/usr/lib/postgresql";
        var bin = Directory.Exists(root)
            ? Directory.EnumerateDirectories(root).Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderByDescending(d => d, StringComparer.Ordinal).FirstOrDefault()
            : null;
        return bin ?? throw new InvalidOperationException("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run scripts/test, which installs Debian's postgresql package");
    }
}
