using System.Net;
using System.Net.Sockets;
using Sluice.Cli.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary>The exit codes scripts rely on, and the readable error on stderr, for each kind of failure.</summary>
public sealed class ExitCodeTests(CliServer fixture) : IClassFixture<CliServer>
{
    [Fact]
    public async Task UnknownTopic_ExitsNotFound_WithTheProblemOnStderr()
    {
        using var cli = fixture.NewCli();
        var result = await cli.RunAsync("topics", "describe", "nobody/here/at-all");
        Assert.Equal(ExitCodesForTests.NotFound, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Equal("sluice: 404 topic-not-found: topic 'nobody/here/at-all' does not exist\n", result.Stderr);
    }

    [Theory]
    [InlineData("produce")]                                        // missing topic
    [InlineData("consume", "a/b/c", "--format", "xml")]            // a value outside the choices
    [InlineData("consume", "a/b/c", "--from", "yesterday")]        // a position that is none
    [InlineData("topics", "create", "not-a-topic")]                 // a topic name without tenant/namespace
    [InlineData("topics", "frobnicate")]                           // unknown subcommand
    [InlineData("produce", "a/b/c", "v", "--nope")]                // unknown flag
    [InlineData("produce", "a/b/c", "v", "-H", "no-equals-sign")]  // a malformed header
    [InlineData("consume", "a/b/c", "--no-ack")]                   // a subscription flag without -g
    [InlineData("topics")]                                         // a group without its subcommand
    public async Task BadCommandLine_ExitsUsage_BeforeContactingTheServer(params string[] args)
    {
        using var cli = new CliRunner("127.0.0.1:1"); // nothing listens there: reaching it would be exit 6, not 2
        var result = await cli.RunAsync(args);
        Assert.True(result.ExitCode == ExitCodesForTests.Usage, result.ToString());
        Assert.StartsWith("sluice: ", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnreachableServer_ExitsUnavailable_NamingTheAddressAndWhereItCameFrom()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        using var cli = new CliRunner();
        var result = await cli.RunAsync("topics", "list", "--server", $"127.0.0.1:{port}");
        Assert.Equal(ExitCodesForTests.Unavailable, result.ExitCode);
        Assert.Contains($"cannot reach the server at http://127.0.0.1:{port}/ (from flag --server)", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadServerAddress_ExitsUsage()
    {
        using var cli = new CliRunner("ftp://somewhere");
        var result = await cli.RunAsync("topics", "list");
        Assert.Equal(ExitCodesForTests.Usage, result.ExitCode);
        Assert.Contains("environment variable SLUICE_SERVER", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownPartition_ExitsNotFound()
    {
        using var cli = fixture.NewCli();
        var topic = CliServer.NewTopic();
        await cli.RunAsync("topics", "create", topic, "--partitions", "2");
        var result = await cli.RunAsync("produce", topic, "v", "-p", "7");
        Assert.Equal(ExitCodesForTests.NotFound, result.ExitCode);
        Assert.Contains("partition-not-found", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadJsonLine_ExitsUsage_AfterProducingTheLinesBeforeIt()
    {
        using var cli = fixture.NewCli();
        var topic = CliServer.NewTopic();
        var result = await cli.RunAsync(["produce", topic, "--line-format", "json", "--linger-ms", "0"], "{\"value\":\"ok\"}\nnot json\n");
        Assert.Equal(ExitCodesForTests.Usage, result.ExitCode);
        Assert.Contains("stdin line 2 is not a JSON record", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownFieldInARecord_ExitsRefused()
    {
        using var cli = fixture.NewCli();
        var result = await cli.RunAsync(["produce", CliServer.NewTopic(), "--line-format", "json"], "{\"valeu\":\"typo\"}\n");
        Assert.Equal(ExitCodesForTests.Refused, result.ExitCode);
        Assert.Contains("400 malformed-json", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingFile_ExitsUsage()
    {
        using var cli = fixture.NewCli();
        var result = await cli.RunAsync("produce", CliServer.NewTopic(), "-f", "/nonexistent/file.bin");
        Assert.Equal(ExitCodesForTests.Usage, result.ExitCode);
        Assert.Contains("cannot read /nonexistent/file.bin", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServeInTheFullBinary_WithBadServerFlags_ExitsWithTheServersUsageCode()
    {
        using var cli = new CliRunner();
        var result = await cli.RunAsync("serve", "--port", "not-a-port");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("invalid value 'not-a-port' for port", result.Stderr, StringComparison.Ordinal);
    }
}
