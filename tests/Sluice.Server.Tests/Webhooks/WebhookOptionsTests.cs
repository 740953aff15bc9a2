using Sluice.Server.Configuration;

namespace Sluice.Server.Tests.Webhooks;

/// <summary>The webhook settings: the bare <c>--allow-private-webhooks</c> switch, networks, breaker values.</summary>
public sealed class WebhookOptionsTests
{
    private static readonly Dictionary<string, string?> NoEnvironment = [];

    // A working directory with no sluice.yaml/json in it.
    private static readonly string Empty = Directory.CreateTempSubdirectory("sluice-wh-options-").FullName;

    [Fact]
    public void AllowPrivateWebhooks_AloneOrBeforeAnotherFlag_MeansTrue()
    {
        var alone = ServerOptionsLoader.Load(["--allow-private-webhooks"], NoEnvironment, Empty);
        Assert.Empty(alone.Errors);
        Assert.True(alone.Options.AllowPrivateWebhooks);

        var before = ServerOptionsLoader.Load(["--allow-private-webhooks", "--port", "9000"], NoEnvironment, Empty);
        Assert.Empty(before.Errors);
        Assert.True(before.Options.AllowPrivateWebhooks);
        Assert.Equal(9000, before.Options.Port);

        var off = ServerOptionsLoader.Load(["--allow-private-webhooks", "false"], NoEnvironment, Empty);
        Assert.Empty(off.Errors);
        Assert.False(off.Options.AllowPrivateWebhooks);
        Assert.False(ServerOptionsLoader.Load([], NoEnvironment, Empty).Options.AllowPrivateWebhooks);
    }

    [Fact]
    public void WebhookSettings_FromEnvironment_AndBadValuesAreNamed()
    {
        var env = new Dictionary<string, string?> { ["SLUICE_WEBHOOKS__ALLOWEDNETWORKS"] = "10.1.0.0/16,fd00::/8", ["SLUICE_WEBHOOKS__BREAKERFAILURES"] = "7" };
        var loaded = ServerOptionsLoader.Load([], env, Empty);
        Assert.Empty(loaded.Errors);
        Assert.Equal("10.1.0.0/16,fd00::/8", loaded.Options.WebhookAllowedNetworks);
        Assert.Equal(7, loaded.Options.WebhookBreakerFailures);

        var bad = ServerOptionsLoader.Load(["--webhook-allowed-networks", "not-a-network", "--webhook-breaker-failures", "0"], NoEnvironment, Empty);
        Assert.Contains(bad.Errors, e => e.Contains("webhooks:allowedNetworks", StringComparison.Ordinal));
        Assert.Contains(bad.Errors, e => e.Contains("webhooks:breakerFailures", StringComparison.Ordinal));
    }
}
