using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Sluice.Core.Replication;

namespace Sluice.Sinks.PostgreSql;

/// <summary>
/// Writes each batch with one statement (one transaction): the batch's columns as arrays, unnested, inserted with
/// <c>ON CONFLICT DO NOTHING</c>. The table:
/// <code>
/// CREATE TABLE IF NOT EXISTS "{schema}"."{table}" (
///   topic text NOT NULL, "partition" integer NOT NULL, "offset" bigint NOT NULL,
///   key bytea, value bytea, headers jsonb NOT NULL, publish_time timestamptz NOT NULL,
///   PRIMARY KEY (topic, "partition", "offset"))
/// </code>
/// Errors: a refused row (constraint violation, bad data, a row too large) refuses the batch without naming the row (the
/// engine splits it); everything else (connection, server shutting down, permissions, a missing table) is retried.
/// Connections are kept open between batches whatever the connection string says about pooling: a sink writes for as long
/// as it runs, and a new connection per batch (a backend started, SCRAM's key derivation on both sides) halved the rate.
/// </summary>
internal sealed class PostgreSqlSink(PostgreSqlSinkSettings settings) : IReplicationSink
{
    private readonly NpgsqlDataSource _source = KeptOpen(settings.ConnectionString);
    private readonly ConcurrentDictionary<string, Lazy<Task>> _created = new(StringComparer.Ordinal);

    public async ValueTask<SinkWriteResult> WriteAsync(SinkBatch batch, CancellationToken cancellationToken)
    {
        var table = $"\"{settings.Schema}\".\"{batch.Target}\"";
        try
        {
            if (settings.CreateTable)
            {
                await _created.GetOrAdd(table, t => new Lazy<Task>(() => CreateTableAsync(t, cancellationToken))).Value.ConfigureAwait(false);
            }

            await InsertAsync(table, batch, cancellationToken).ConfigureAwait(false);
            return SinkWriteResult.Written;
        }
        catch (PostgresException ex)
        {
            _created.TryRemove(table, out _);
            var error = $"PostgreSQL {ex.SqlState}: {ex.MessageText}";
            return Refuses(ex.SqlState) ? SinkWriteResult.Refused(error) : SinkWriteResult.Retry(error);
        }
        catch (NpgsqlException ex)
        {
            _created.TryRemove(table, out _);

            // Connection-level: its message names host and port, never the password.
            return SinkWriteResult.Retry("PostgreSQL connection: " + (ex.InnerException?.Message ?? ex.Message));
        }
    }

    public ValueTask DisposeAsync() => _source.DisposeAsync();

    // Pooled, and not reset on return: the sink changes no session state (no SET, no prepared statement of its own), so
    // DISCARD ALL before each batch would be a wasted statement.
    private static NpgsqlDataSource KeptOpen(string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        builder.ConnectionStringBuilder.Pooling = true;
        builder.ConnectionStringBuilder.NoResetOnClose = true;
        return builder.Build();
    }

    // Class 22 (data exception: bad encoding, a NUL in JSON text), 23 (integrity constraint), 54 (a row over a limit):
    // this row will never go in. Anything else may heal (connection, shutdown, lock timeout, a missing grant or table).
    private static bool Refuses(string sqlState) => sqlState.StartsWith("22", StringComparison.Ordinal) || sqlState.StartsWith("23", StringComparison.Ordinal) || sqlState.StartsWith("54", StringComparison.Ordinal);

    private async Task CreateTableAsync(string table, CancellationToken cancellationToken)
    {
        await using var command = _source.CreateCommand(
            $"CREATE TABLE IF NOT EXISTS {table} (topic text NOT NULL, \"partition\" integer NOT NULL, \"offset\" bigint NOT NULL, " +
            "key bytea, value bytea, headers jsonb NOT NULL, publish_time timestamptz NOT NULL, PRIMARY KEY (topic, \"partition\", \"offset\"))");
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.DuplicateTable)
        {
            // Two writers created it at once: it exists.
        }
    }

    private async Task InsertAsync(string table, SinkBatch batch, CancellationToken cancellationToken)
    {
        var n = batch.Records.Count;
        var topics = new string[n];
        var partitions = new int[n];
        var offsets = new long[n];
        var keys = new byte[]?[n];
        var values = new byte[]?[n];
        var headers = new string[n];
        var times = new DateTime[n];

        // Per batch, not per record: the topic's name, and one JSON writer for every record's headers.
        var topic = batch.Topic.ToString();
        var json = new ArrayBufferWriter<byte>(256);
        using var writer = new Utf8JsonWriter(json);
        for (var i = 0; i < n; i++)
        {
            var r = batch.Records[i];
            topics[i] = topic;
            partitions[i] = r.Partition;
            offsets[i] = r.Offset;

            // The records' own arrays (Npgsql only reads them), not a copy of each.
            keys[i] = r.KeyArray();
            values[i] = r.ValueArray();
            headers[i] = HeadersJson(r.Headers, json, writer);
            times[i] = r.PublishTime.UtcDateTime;
        }

        await using var command = _source.CreateCommand(
            $"INSERT INTO {table} (topic, \"partition\", \"offset\", key, value, headers, publish_time) " +
            "SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::bytea[], $5::bytea[], $6::jsonb[], $7::timestamptz[]) " +
            "ON CONFLICT DO NOTHING");
        command.Parameters.Add(new NpgsqlParameter { Value = topics, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = partitions, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        command.Parameters.Add(new NpgsqlParameter { Value = offsets, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter { Value = keys, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        command.Parameters.Add(new NpgsqlParameter { Value = values, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        command.Parameters.Add(new NpgsqlParameter { Value = headers, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter { Value = times, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string HeadersJson(IReadOnlyList<KeyValuePair<string, string>> headers, ArrayBufferWriter<byte> buffer, Utf8JsonWriter writer)
    {
        if (headers.Count == 0)
        {
            return "{}";
        }

        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        writer.WriteStartObject();
        foreach (var (name, value) in headers)
        {
            writer.WriteString(name, value);
        }

        writer.WriteEndObject();
        writer.Flush();
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
