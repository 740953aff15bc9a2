using System.Security.Cryptography;
using System.Text;
using Sluice.Cli.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary>A server with authentication on: tokens from flag, environment or config file, and exit code 4 without one.</summary>
public sealed class AuthTests(AuthTests.Server fixture) : IClassFixture<AuthTests.Server>
{
    public sealed class Server : CliServer
    {
        private static readonly byte[] Key = RandomNumberGenerator.GetBytes(32);
        private static readonly string KeyFile = WriteKey();

        public Server()
            : base(["--auth", "jwt", "--jwt-secret-file", KeyFile, "--superuser-role", "ops"])
        {
        }

        public static string Token(string subject)
        {
            static string B64(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            var signed = B64(Encoding.UTF8.GetBytes("{\"alg\":\"HS256\",\"typ\":\"JWT\"}")) + "." + B64(Encoding.UTF8.GetBytes($"{{\"sub\":\"{subject}\"}}"));
            return signed + "." + B64(HMACSHA256.HashData(Key, Encoding.ASCII.GetBytes(signed)));
        }

        public override async Task DisposeAsync()
        {
            await base.DisposeAsync();
            File.Delete(KeyFile);
        }

        private static string WriteKey()
        {
            var path = Path.Combine(Path.GetTempPath(), "sluice-cli-jwt-" + Guid.NewGuid().ToString("N"));
            File.WriteAllBytes(path, Key);
            return path;
        }
    }

    [Fact]
    public async Task NoToken_ExitsAuth_SayingNoTokenWasSent()
    {
        using var cli = fixture.NewCli();
        var result = await cli.RunAsync("topics", "list");
        Assert.Equal(ExitCodesForTests.Auth, result.ExitCode);
        Assert.Contains("401 unauthorized", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("no token was sent", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RefusedToken_ExitsAuth_NamingItsSourceButNeverTheToken()
    {
        using var cli = fixture.NewCli();
        var forged = Server.Token("ops")[..^4] + "AAAA";
        var result = await cli.RunAsync("topics", "list", "--token", forged);
        Assert.Equal(ExitCodesForTests.Auth, result.ExitCode);
        Assert.Contains("the token from flag --token was refused", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(forged, result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TokenWithoutPermission_ExitsAuth()
    {
        using var cli = fixture.NewCli();
        cli.Environment["SLUICE_TOKEN"] = Server.Token("someone");
        var result = await cli.RunAsync("produce", "acme/shop/orders", "v");
        Assert.Equal(ExitCodesForTests.Auth, result.ExitCode);
        Assert.Contains("403 forbidden", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TokenFromEnvironment_Works()
    {
        using var cli = fixture.NewCli();
        cli.Environment["SLUICE_TOKEN"] = Server.Token("ops");
        var topic = CliServer.NewTopic();
        Assert.Equal(0, (await cli.RunAsync("produce", topic, "v")).ExitCode);
        Assert.Equal(["v"], (await cli.RunAsync("consume", topic, "-o", "raw")).Lines);
    }

    [Fact]
    public async Task ConfigFile_GivesServerAndTokenFile_AndFlagsAndEnvironmentWinOverIt()
    {
        using var cli = new CliRunner();
        var tokenFile = Path.Combine(cli.Home, "token");
        await File.WriteAllTextAsync(tokenFile, Server.Token("ops") + "\n");
        var configDir = Path.Combine(cli.Home, ".config", "sluice");
        Directory.CreateDirectory(configDir);
        await File.WriteAllTextAsync(Path.Combine(configDir, "config.yaml"),
            $"# the client's settings\nserver: \"{fixture.Address}\"   # a comment\ntokenFile: {tokenFile}\n");

        // ~/.config/sluice/config.yaml alone: server and token from the file.
        Assert.Equal(0, (await cli.RunAsync("topics", "list")).ExitCode);

        // The environment wins over the file, and a flag over both.
        cli.Environment["SLUICE_TOKEN"] = "not-a-token";
        Assert.Equal(ExitCodesForTests.Auth, (await cli.RunAsync("topics", "list")).ExitCode);
        Assert.Equal(0, (await cli.RunAsync("topics", "list", "--token", Server.Token("ops"))).ExitCode);
        cli.Environment.Remove("SLUICE_TOKEN");
        var elsewhere = await cli.RunAsync("topics", "list", "--server", "127.0.0.1:1");
        Assert.Equal(ExitCodesForTests.Unavailable, elsewhere.ExitCode);
    }

    [Fact]
    public async Task ConfigFile_UnknownKey_ExitsUsageNamingTheLine()
    {
        using var cli = new CliRunner();
        var config = Path.Combine(cli.Home, "other.yaml");
        await File.WriteAllTextAsync(config, $"server: {fixture.Address}\npassword: x\n");
        var result = await cli.RunAsync("topics", "list", "--config", config);
        Assert.Equal(ExitCodesForTests.Usage, result.ExitCode);
        Assert.Contains("line 2: unknown key 'password'", result.Stderr, StringComparison.Ordinal);
    }
}
