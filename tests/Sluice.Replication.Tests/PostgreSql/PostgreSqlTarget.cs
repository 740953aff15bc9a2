using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using Sluice.Replication.Tests.Infrastructure;

namespace Sluice.Replication.Tests.PostgreSql;

/// <summary>
/// The postgresql sink's target: tables named after the topic (<c>{namespace}_{topic}</c>). A prepared table has the
/// sink's columns plus <c>arrival bigserial</c> (insertion order, for the order check) and, for a poison value, a CHECK
/// constraint that refuses it.
/// </summary>
public sealed class PostgreSqlTarget(PostgresServer server) : ISinkTarget
{
    public IReadOnlyDictionary<string, string> Secrets { get; } = new Dictionary<string, string> { ["pg"] = server.Password };

    public bool Deduplicates => true;

    public PostgresServer Server => server;

    public static string Table(string topic)
    {
        var parts = topic.Split('/');
        return $"{parts[1]}_{parts[2]}";
    }

    public JsonObject Sink() => new()
    {
        ["type"] = "postgresql",
        ["connectionString"] = $"Host=127.0.0.1;Port={server.Port};Username=sluice;Password=${{secret:pg}};Database=postgres",
        ["table"] = "{namespace}_{topic}",
    };

    public async Task PrepareAsync(string topic, string? poison = null)
    {
        var check = poison is null ? "" : $", CHECK (value IS NULL OR value <> convert_to('{poison}', 'UTF8'))";
        await ExecuteAsync(
            $"CREATE TABLE \"{Table(topic)}\" (topic text NOT NULL, \"partition\" integer NOT NULL, \"offset\" bigint NOT NULL, key bytea, value bytea, " +
            $"headers jsonb NOT NULL, publish_time timestamptz NOT NULL, arrival bigserial, PRIMARY KEY (topic, \"partition\", \"offset\"){check})");
    }

    public async Task<IReadOnlyList<TargetRecord>> ReadAsync(string topic)
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT topic, \"partition\", \"offset\", key, value, headers::text FROM \"{Table(topic)}\" ORDER BY arrival", connection);
        var result = new List<TargetRecord>();
        try
        {
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var headers = JsonDocument.Parse(reader.GetString(5)).RootElement.EnumerateObject().ToDictionary(h => h.Name, h => h.Value.GetString()!);
                result.Add(new TargetRecord(
                    reader.GetString(0),
                    reader.GetInt32(1),
                    reader.GetInt64(2),
                    reader.IsDBNull(3) ? null : System.Text.Encoding.UTF8.GetString((byte[])reader[3]),
                    reader.IsDBNull(4) ? null : System.Text.Encoding.UTF8.GetString((byte[])reader[4]),
                    headers));
            }
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            // Not created yet.
        }

        return result;
    }

    public Task StopAsync() => server.StopAsync();

    public Task StartAsync() => server.StartAsync();

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await server.DisposeAsync();
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
