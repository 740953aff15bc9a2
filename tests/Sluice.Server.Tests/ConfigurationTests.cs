using System.Net;
using Sluice.Server.Tests.Infrastructure;
using Sluice.Server.Tests.Streaming;

namespace Sluice.Server.Tests;

public sealed class ConfigurationTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("--port", "seventy", "port")]
    [InlineData("--flush-policy", "sometimes", "flush:policy")]
    [InlineData("--default-partitions", "0", "topics:defaultPartitions")]
    [InlineData("--max-message-bytes", "-1", "maxMessageBytes")]
    [InlineData("--bind", "not-an-address", "bind")]
    [InlineData("--inline-io", "sometimes", "inlineIo")]
    public async Task BadFlag_ExitsNonZero_NamingTheValue(string flag, string value, string option)
    {
        await using var server = new ServerProcess();
        var (exitCode, stderr) = await server.RunToExitAsync(flag, value);
        output.WriteLine(stderr);
        Assert.NotEqual(0, exitCode);
        Assert.Contains(option, stderr);
        Assert.Contains(value, stderr);
        Assert.Contains(flag, stderr);
    }

    [Theory]
    [InlineData(new[] { "--port", "18901", "--grpc-port", "18901" }, "grpc:port (18901) must differ from port")]
    [InlineData(new[] { "--port", "18902", "--grpc-port", "18903", "--pixy-port", "18902" }, "pixy:port (18902) must differ")]
    [InlineData(new[] { "--port", "18904", "--grpc-port", "18905", "--pixy-port", "18905" }, "pixy:port (18905) must differ")]
    public async Task PortsThatCollide_ExitNonZero_NamingThem(string[] args, string message)
    {
        await using var server = new ServerProcess();
        var (exitCode, stderr) = await server.RunToExitAsync(args);
        output.WriteLine(stderr);
        Assert.NotEqual(0, exitCode);
        Assert.Contains(message, stderr);
    }

    [Fact]
    public async Task UnknownFlag_ExitsNonZero()
    {
        await using var server = new ServerProcess();
        var (exitCode, stderr) = await server.RunToExitAsync("--prot", "80");
        Assert.NotEqual(0, exitCode);
        Assert.Contains("--prot", stderr);
    }

    [Fact]
    public async Task BadEnvironmentVariable_ExitsNonZero_NamingIt()
    {
        await using var server = new ServerProcess(environment: new() { ["SLUICE_SUBSCRIPTIONS__ACKDEADLINEMS"] = "soon" });
        var (exitCode, stderr) = await server.RunToExitAsync();
        output.WriteLine(stderr);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("SLUICE_SUBSCRIPTIONS__ACKDEADLINEMS", stderr);
        Assert.Contains("soon", stderr);
    }

    [Fact]
    public async Task BadValuesInYamlFile_ExitNonZero_NamingEach()
    {
        await using var server = new ServerProcess();
        await File.WriteAllTextAsync(Path.Combine(server.WorkingDirectory, "sluice.yaml"), "flush:\n  policy: whenever\ntopics:\n  autoCreate: maybe\n");
        var (exitCode, stderr) = await server.RunToExitAsync();
        output.WriteLine(stderr);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("whenever", stderr);
        Assert.Contains("flush:policy", stderr);
        Assert.Contains("maybe", stderr);
        Assert.Contains("topics:autoCreate", stderr);
    }

    [Fact]
    public async Task BadValueInJsonConfigFlag_ExitsNonZero()
    {
        await using var server = new ServerProcess();
        var file = Path.Combine(server.WorkingDirectory, "custom.json");
        await File.WriteAllTextAsync(file, "{ \"maxMessageBytes\": \"huge\" }");
        var (exitCode, stderr) = await server.RunToExitAsync("--config", file);
        output.WriteLine(stderr);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("maxMessageBytes", stderr);
        Assert.Contains("huge", stderr);
    }

    [Fact]
    public async Task FlagsOverrideEnvironment_WhichOverridesTheFile()
    {
        await using var server = new ServerProcess(
            extraArgs: ["--default-partitions", "5"],
            environment: new() { ["SLUICE_TOPICS__DEFAULTPARTITIONS"] = "3", ["SLUICE_SUBSCRIPTIONS__ACKDEADLINEMS"] = "2222" });
        await File.WriteAllTextAsync(Path.Combine(server.WorkingDirectory, "sluice.yaml"),
            "topics:\n  defaultPartitions: 2\nsubscriptions:\n  ackDeadlineMs: 1111\nmaxMessageBytes: 1000\n");
        try
        {
            await server.StartAsync();
            var client = server.Client;
            var topic = SluiceApi.NewTopic();

            // Flag (5) beats environment (3) beats file (2).
            await client.ProduceAsync(topic, "x");
            Assert.Equal(5, (await client.EndOffsetsAsync(topic)).Length);

            // Environment (2222) beats file (1111).
            var subscription = await client.PutSubscriptionAsync(topic, "s", new { });
            Assert.Equal(2222, subscription.GetProperty("ackDeadlineMs").GetInt64());

            // The file alone sets maxMessageBytes.
            using var big = await client.PostAsync($"/v1/topics/{topic}/messages", new StringContent(new string('x', 1001)));
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, big.StatusCode);
            using var fits = await client.PostAsync($"/v1/topics/{topic}/messages", new StringContent(new string('x', 1000)));
            Assert.Equal(HttpStatusCode.OK, fits.StatusCode);
        }
        finally
        {
            server.WriteOutputTo(output, 40);
        }
    }

    [Fact]
    public async Task AutoCreateOff_ProduceToUnknownTopic_Is404_AndCreatesNothing()
    {
        await using var server = await ServerProcess.StartNewAsync(["--auto-create-topics", "false"]);
        var topic = SluiceApi.NewTopic();
        using var response = await server.Client.PostAsync($"/v1/topics/{topic}/messages", new StringContent("x"));
        var problem = await SluiceApi.ReadJsonAsync(response);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("urn:sluice:problem:topic-not-found", problem.GetProperty("type").GetString());
        Assert.Empty(await server.Client.EndOffsetsAsync(topic));

        using var put = await server.Client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = 1 }));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        await server.Client.ProduceAsync(topic, "now it exists");
    }

    [Fact]
    public async Task Start_LogsTheUnauthenticatedWarning()
    {
        await using var server = await ServerProcess.StartNewAsync();
        Assert.Contains("NO AUTHENTICATION", server.Output);
    }

    [Fact]
    public async Task Runtime_IsServerGcWithoutHeapAdaptation_AndTheEnvironmentCanTurnAdaptationBackOn()
    {
        await using (var server = await ServerProcess.StartNewAsync())
        {
            server.WriteOutputTo(output, 20);
            Assert.Contains("server garbage collector", server.Output, StringComparison.Ordinal);
            Assert.Contains("heap size adaptation (DATAS) off", server.Output, StringComparison.Ordinal);
        }

        // The line reads the runtime's own state, so the override documented in docs/configuration.md shows in it.
        await using (var adaptive = await ServerProcess.StartNewAsync(environment: new() { ["DOTNET_GCDynamicAdaptationMode"] = "1" }))
        {
            Assert.Contains("heap size adaptation (DATAS) on", adaptive.Output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task InlineIo_IsOnByDefault_ForTheHttpPorts_TheGrpcPortQueues_AndOffServesStreamsAndProduce()
    {
        await using (var server = new ServerProcess([]) { WithGrpc = true, PortOptions = ["--pixy-port"] })
        {
            await server.StartAsync();

            // Written as Kestrel binds each port through Sluice's transport: only a bind through it writes these lines.
            // Pixy's own port serves its REST routes (HTTP/1.1) and follows the setting; gRPC is on the gRPC port.
            Assert.Contains($"Listener 127.0.0.1:{server.Port}: Kestrel's sends inline", server.Output, StringComparison.Ordinal);
            Assert.Contains($"Listener 127.0.0.1:{server.PortOf("--pixy-port")}: Kestrel's sends inline", server.Output, StringComparison.Ordinal);
            Assert.Contains($"Listener 127.0.0.1:{server.GrpcPort}: Kestrel's sends queued to the thread pool", server.Output, StringComparison.Ordinal);
        }

        await using var queued = await ServerProcess.StartNewAsync(["--inline-io", "false"]);
        Assert.Contains($"Listener 127.0.0.1:{queued.Port}: Kestrel's sends queued to the thread pool", queued.Output, StringComparison.Ordinal);

        // Kestrel's default scheduling still carries a produce and a subscription stream end to end.
        var topic = SluiceApi.NewTopic();
        await queued.Client.ProduceAsync(topic, "through queued sends");
        await using var sse = await SseClient.OpenAsync(queued.Client.BaseAddress!, $"/v1/topics/{topic}/subscriptions/s/events?ack=auto&position=earliest");
        var events = await sse.MessagesAsync(1, TimeSpan.FromSeconds(30));
        Assert.Equal("through queued sends", Assert.Single(events).Json.GetProperty("value").GetString());
    }
}
