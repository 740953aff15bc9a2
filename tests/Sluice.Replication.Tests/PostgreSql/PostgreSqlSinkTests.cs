using Npgsql;
using Sluice.Replication.Tests.Infrastructure;

namespace Sluice.Replication.Tests.PostgreSql;

/// <summary>The postgresql sink against a real PostgreSQL started by the test; each class has its own server and gateway.</summary>
public class PostgreSqlFixture : SinkFixture
{
    protected override async Task<ISinkTarget> StartTargetAsync() => new PostgreSqlTarget(await PostgresServer.StartNewAsync());
}

public sealed class PostgreSqlKillableFixture : PostgreSqlFixture
{
    protected override bool Killable => true;
}

public sealed class PostgreSqlSinkTests(PostgreSqlFixture f, ITestOutputHelper output) : SinkContractTests<PostgreSqlFixture>(f, output)
{
    [Fact]
    public async Task TableAbsent_IsCreatedWithTheDocumentedSchema()
    {
        var topic = Gateway.NewTopic("schema");
        await Fixture.Gateway.CreateTopicAsync(topic, 1);
        await Fixture.Gateway.Client.CreateReplicatorAsync(SinkScenarios.Body(SinkScenarios.NewName(), topic, Fixture.Target));
        await Fixture.Gateway.ProduceAsync(topic, TestRecord.Make(3));
        var server = ((PostgreSqlTarget)Fixture.Target).Server;
        var table = PostgreSqlTarget.Table(topic);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        await using var connection = new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync();
        while (true)
        {
            await using var count = new NpgsqlCommand($"SELECT count(*) FROM pg_tables WHERE tablename = '{table}'", connection);
            if ((long)(await count.ExecuteScalarAsync())! == 1)
            {
                await using var rows = new NpgsqlCommand($"SELECT count(*) FROM \"{table}\"", connection);
                if ((long)(await rows.ExecuteScalarAsync())! == 3)
                {
                    break;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, "the sink did not create and fill the table within 60 s");
            await Task.Delay(200);
        }

        await using var columns = new NpgsqlCommand(
            $"SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = '{table}'", connection);
        Assert.Equal("topic text, partition integer, offset bigint, key bytea, value bytea, headers jsonb, publish_time timestamp with time zone", (string)(await columns.ExecuteScalarAsync())!);
        await using var key = new NpgsqlCommand(
            $"SELECT string_agg(a.attname, ',' ORDER BY array_position(i.indkey, a.attnum)) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = '\"{table}\"'::regclass AND i.indisprimary", connection);
        Assert.Equal("topic,partition,offset", (string)(await key.ExecuteScalarAsync())!);
    }
}

public sealed class PostgreSqlOutageTests(PostgreSqlFixture f, ITestOutputHelper output) : IClassFixture<PostgreSqlFixture>
{
    [Fact]
    public Task TargetDownFor20s_ShowsRetryingWithTheError_ThenCatchesUp() => SinkScenarios.TargetDownThenCatchesUpAsync(f, output);
}

public sealed class PostgreSqlCrashTests(PostgreSqlKillableFixture f, ITestOutputHelper output) : IClassFixture<PostgreSqlKillableFixture>
{
    [Fact]
    public Task GatewayKilledMidStream_RestartLosesNothingAndDuplicatesNothing() => SinkScenarios.KilledMidStreamLosesNothingAsync(f, output);
}
