using System.Text;
using Npgsql;
using Sluice.Core.Replication;

[assembly: ReplicationSink(typeof(Sluice.Sinks.PostgreSql.PostgreSqlSinkType))]

namespace Sluice.Sinks.PostgreSql;

/// <summary>
/// <c>"type": "postgresql"</c>: one transaction per batch into a table (created if absent), primary key topic, partition,
/// offset, conflicts ignored: after a crash each record is still there exactly once.
/// </summary>
public sealed class PostgreSqlSinkType : ReplicationSinkType
{
    public override string Name => "postgresql";

    public override string TargetField => "table";

    public override object ReadSettings(SinkSettings settings)
    {
        var connectionString = settings.RequiredString("connectionString");
        try
        {
            _ = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException)
        {
            // Not the library's message: it may quote the connection string, password included.
            SinkSettings.Fail("connectionString", "is not a valid PostgreSQL connection string (key=value pairs separated by ';', such as Host=...;Username=...;Password=${secret:pg})");
        }

        var schema = settings.String("schema") ?? "public";
        if (IdentifierProblem(schema) is { } problem)
        {
            SinkSettings.Fail("schema", problem);
        }

        return new PostgreSqlSinkSettings(connectionString, schema, settings.Bool("createTable") ?? true);
    }

    public override ValueTask<string?> CheckTargetAsync(object settings, string target, SinkContext context, CancellationToken cancellationToken)
        => ValueTask.FromResult(IdentifierProblem(target) is { } problem ? $"table name '{target}' {problem}" : null);

    public override IReplicationSink CreateSink(object settings, SinkContext context) => new PostgreSqlSink((PostgreSqlSinkSettings)settings);

    // Names are always quoted, so any text works except a quote, a NUL, or more than PostgreSQL's 63 bytes.
    private static string? IdentifierProblem(string name)
        => Encoding.UTF8.GetByteCount(name) is 0 or > 63 || name.Contains('"', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal)
            ? "must be 1 to 63 bytes without '\"'"
            : null;
}

internal sealed record PostgreSqlSinkSettings(string ConnectionString, string Schema, bool CreateTable);
