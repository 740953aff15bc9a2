using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Sluice.Server.Tests.Infrastructure;
using Sluice.Server.Tests.Security;

namespace Sluice.Server.Tests.Diagnostics;

/// <summary>Who may scrape <c>/metrics</c> with authentication on: superusers and <c>metrics:roles</c>, or anyone with <c>metrics:public</c>.</summary>
public sealed class MetricsAccessTests(ITestOutputHelper output)
{
    [Fact]
    public async Task WithAuthOn_MetricsNeedASuperuserOrAMetricsRole()
    {
        var secret = RandomNumberGenerator.GetBytes(32);
        await using var server = new ServerProcess(["--auth", "jwt", "--jwt-secret-file", "secret.key", "--superuser-role", "ops", "--tenant-from-subject", "--metrics-roles", "prom,graf"]);
        await File.WriteAllBytesAsync(Path.Combine(server.WorkingDirectory, "secret.key"), secret);
        await server.StartAsync();
        try
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(server, null));
            Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(server, Jwt.Hs256(RandomNumberGenerator.GetBytes(32), new { sub = "prom" })));
            Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(server, Jwt.Hs256(secret, new { sub = "acme" })));
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(server, Jwt.Hs256(secret, new { sub = "prom" })));
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(server, Jwt.Hs256(secret, new { sub = "graf" })));
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(server, Jwt.Hs256(secret, new { sub = "ops" })));
        }
        finally
        {
            server.WriteOutputTo(output, lastLines: 20);
        }
    }

    [Fact]
    public async Task WithMetricsPublic_AnyoneMayScrape_AndTheApiStillNeedsAToken()
    {
        var secret = RandomNumberGenerator.GetBytes(32);
        await using var server = new ServerProcess(["--auth", "jwt", "--jwt-secret-file", "secret.key", "--superuser-role", "ops", "--metrics-public"]);
        await File.WriteAllBytesAsync(Path.Combine(server.WorkingDirectory, "secret.key"), secret);
        await server.StartAsync();
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(server, null));
        using var topics = await server.Client.GetAsync("/v1/topics");
        Assert.Equal(HttpStatusCode.Unauthorized, topics.StatusCode);
    }

    private static async Task<HttpStatusCode> StatusAsync(ServerProcess server, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        using var response = await server.Client.SendAsync(request);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        return response.StatusCode;
    }
}
