using Sluice.Server.Configuration;
using Sluice.Server.Security;

namespace Sluice.Server.Tests.Security;

/// <summary>Grants from the options file (every form the loader accepts) and what they allow.</summary>
public sealed class AccessPolicyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-auth-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Roles_FromYamlStringsListsAndEnvironment_AreMerged()
    {
        File.WriteAllText(Path.Combine(_dir, "sluice.yaml"), """
            auth:
              roles:
                billing: "acme/orders=produce,consume; acme/audit=consume"
                auditor:
                  - "acme/*=consume"
                  - "globex=consume"
            """);
        var result = ServerOptionsLoader.Load([], new Dictionary<string, string?> { ["SLUICE_AUTH__ROLES__ops-team"] = "*=admin" }, _dir);
        Assert.Empty(result.Errors);
        var roles = result.Options.AuthRoles;
        Assert.Equal(["auditor", "billing", "ops-team"], roles.Keys.Order(StringComparer.Ordinal));

        var policy = new AccessPolicy(result.Options);
        Assert.True(policy.Allows(Caller("billing"), "acme", "orders", Permission.Produce));
        Assert.True(policy.Allows(Caller("billing"), "acme", "audit", Permission.Consume));
        Assert.False(policy.Allows(Caller("billing"), "acme", "audit", Permission.Produce));
        Assert.False(policy.Allows(Caller("billing"), "acme", "orders", Permission.Admin));
        Assert.True(policy.Allows(Caller("auditor"), "acme", "anything", Permission.Consume));
        Assert.True(policy.Allows(Caller("auditor"), "globex", "ns", Permission.Consume));
        Assert.False(policy.Allows(Caller("auditor"), "initech", "ns", Permission.Consume));
        Assert.True(policy.Allows(Caller("ops-team"), "initech", "ns", Permission.Produce)); // admin includes produce
        Assert.False(policy.Allows(Caller("nobody"), "acme", "orders", Permission.Consume));
    }

    [Theory]
    [InlineData("acme/orders=produce,remove", "unknown permission 'remove'")]
    [InlineData("acme/orders", "tenant[/namespace]=permissions")]
    [InlineData("acme/orders/x=produce", "tenant or tenant/namespace")]
    [InlineData("acme/=produce", "tenant or tenant/namespace")]
    [InlineData("acme=", "names no permission")]
    public void BadGrant_IsAnErrorNamingIt(string grant, string expected)
    {
        var result = ServerOptionsLoader.Load([], new Dictionary<string, string?> { ["SLUICE_AUTH__ROLES__app"] = grant }, _dir);
        var error = Assert.Single(result.Errors);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.Contains("'app'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Superusers_AndTenantFromSubject()
    {
        var options = new ServerOptions { SuperuserRoles = "ops, root", TenantFromSubject = true };
        var policy = new AccessPolicy(options);
        Assert.True(policy.IsSuperuser(["x", "root"]));
        Assert.False(policy.IsSuperuser(["acme"]));
        Assert.True(policy.Allows(Caller("acme"), "acme", "any", Permission.Admin));
        Assert.False(policy.Allows(Caller("acme"), "acme2", "any", Permission.Consume));
        Assert.False(policy.Allows(Caller("ACME"), "acme", "any", Permission.Consume)); // names are case-sensitive

        var strict = new AccessPolicy(new ServerOptions());
        Assert.False(strict.Allows(Caller("acme"), "acme", "any", Permission.Consume));
    }

    private static Caller Caller(string role) => new([role], false);
}
