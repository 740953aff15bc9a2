using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Compat.Tests;

/// <summary>The compatibility APIs' settings are checked at start like every other, and kateway's secrets never echoed.</summary>
[Trait("Backend", "EmbeddedOnly")] // settings are read before any backend opens
public sealed class CompatConfigurationTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("--kateway-prefix", "no-slash", "kateway:prefix")]
    [InlineData("--kateway-prefix", "/v1", "kateway:prefix")]
    [InlineData("--kateway-sub-port", "70000", "kateway:subPort")]
    [InlineData("--beam-clusters", "http://not-pulsar", "beam:clusters")]
    [InlineData("--kateway-sub-timeout-ms", "0", "kateway:subTimeoutMs")]
    public async Task BadValue_ExitsNonZero_NamingTheSetting(string flag, string value, string key)
    {
        await using var server = new ServerProcess();
        var (exitCode, stderr) = await server.RunToExitAsync(flag, value);
        output.WriteLine(stderr);
        Assert.Equal(2, exitCode);
        Assert.Contains(key, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KatewayPort_ThatIsTheMainPort_ExitsNonZero()
    {
        await using var server = new ServerProcess();
        var (exitCode, stderr) = await server.RunToExitAsync("--port", "18099", "--kateway-pub-port", "18099");
        output.WriteLine(stderr);
        Assert.Equal(2, exitCode);
        Assert.Contains("kateway:pubPort", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KatewayApp_WithABadIdOrSecret_ExitsNonZero_WithoutEchoingTheSecret()
    {
        await using var server = new ServerProcess(environment: new()
        {
            ["SLUICE_KATEWAY__APPS__bad$app"] = "a-secret-value",
            ["SLUICE_KATEWAY__APPS__app1"] = "tab\tin-the-secret",
        });
        var (exitCode, stderr) = await server.RunToExitAsync();
        output.WriteLine(stderr);
        Assert.Equal(2, exitCode);
        Assert.Contains("invalid kateway app id", stderr, StringComparison.Ordinal);
        Assert.Contains("invalid secret for kateway app 'app1'", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("a-secret-value", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("in-the-secret", stderr, StringComparison.Ordinal);
    }
}
