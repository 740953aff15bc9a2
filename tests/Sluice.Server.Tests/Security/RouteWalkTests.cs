using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Security;

/// <summary>
/// Walks every route of the server's own OpenAPI document with six callers: no token, an expired token, a token
/// signed by another key, <c>alg: none</c>, a token of another tenant, and a valid one. Each answer has the expected
/// status, and no refused request changes state (compared before and after through a superuser). Every <c>/v1</c> route
/// is walked again below <c>/v1/clusters/default</c> (left out of the document): a cluster's routes need the same.
/// </summary>
public sealed class RouteWalkTests(AuthServer auth, ITestOutputHelper output) : IClassFixture<AuthServer>, IDisposable
{
    private static readonly string[] PublicPaths = ["/healthz", "/readyz", "/openapi/{documentName}.json"];

    // Listings answer every authenticated caller, filtered to what it may see.
    private static readonly string[] ListingPaths = ["/v1/topics", "/v1/webhooks", "/v1/replicators", "/v1/clusters"];

    public void Dispose() => auth.Server.WriteOutputTo(output, lastLines: 80);

    [Fact]
    public async Task EveryRoute_WithEachKindOfCaller_AnswersTheExpectedStatus_AndRefusalsChangeNothing()
    {
        var routes = await RoutesAsync();
        output.WriteLine($"{routes.Count} routes: {string.Join(", ", routes.Select(r => r.Method + " " + r.Path))}");
        Assert.Contains(routes, r => r.Path.EndsWith("/events", StringComparison.Ordinal));
        Assert.Contains(routes, r => r.Path.EndsWith("/ws/produce", StringComparison.Ordinal));
        Assert.Contains(routes, r => r.Path.StartsWith("/v1/webhooks", StringComparison.Ordinal));
        Assert.True(routes.Count >= 25, $"expected the whole API in the OpenAPI document, found {routes.Count} routes");
        Assert.Contains(routes, r => r.Cluster.Length > 0 && r.Path.StartsWith("/v1/webhooks", StringComparison.Ordinal));

        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var denied = new (string Name, string? Token, HttpStatusCode Status)[]
        {
            ("no token", null, HttpStatusCode.Unauthorized),
            ("expired", Jwt.Hs256(auth.Secret, new { sub = AuthServer.Tenant, exp = Jwt.Now(-3600) }), HttpStatusCode.Unauthorized),
            ("signed by another key", Jwt.Hs256(RandomNumberGenerator.GetBytes(32), new { sub = AuthServer.Tenant }), HttpStatusCode.Unauthorized),
            ("another key with the right kid", Jwt.Es256(otherKey, new { sub = AuthServer.Tenant }, kid: "ec-1"), HttpStatusCode.Unauthorized),
            ("alg none", Jwt.None(new { sub = AuthServer.Tenant }), HttpStatusCode.Unauthorized),
            ("another tenant", auth.Token("rival"), HttpStatusCode.Forbidden),
        };

        var before = await SnapshotAsync();
        foreach (var route in routes)
        {
            foreach (var (name, token, status) in denied)
            {
                var isPublic = PublicPaths.Contains(route.Path);
                var isListing = ListingPaths.Contains(route.Path) && route.Method == "GET";
                var expected = isPublic ? HttpStatusCode.OK : isListing && status == HttpStatusCode.Forbidden ? HttpStatusCode.OK : status;
                var (actual, body, headers) = await SendAsync(route, token);
                output.WriteLine($"{route} [{name}] -> {(int)actual}");
                Assert.True(expected == actual, $"{route} with {name}: expected {(int)expected}, got {(int)actual}: {body}");
                if (actual == HttpStatusCode.Unauthorized)
                {
                    Assert.StartsWith("Bearer", headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
                    if (token is not null)
                    {
                        Assert.Contains("error=\"invalid_token\"", headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
                        Assert.DoesNotContain(token.Split('.')[1], body, StringComparison.Ordinal);
                    }
                }

                if (actual is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                {
                    Assert.Contains(actual == HttpStatusCode.Unauthorized ? "urn:sluice:problem:unauthorized" : "urn:sluice:problem:forbidden", body, StringComparison.Ordinal);
                }

                if (isListing && token is not null && status == HttpStatusCode.Forbidden)
                {
                    Assert.DoesNotContain(AuthServer.Tenant + "/", body, StringComparison.Ordinal);
                }
            }

            Assert.Equal(before, await SnapshotAsync());
        }

        // The valid caller: every route answers something other than 401, 403 or a server error.
        foreach (var route in routes)
        {
            await auth.EnsureFixturesAsync();
            var (actual, body, _) = await SendAsync(route, auth.Token(AuthServer.Tenant));
            output.WriteLine($"{route} [valid] -> {(int)actual}");
            Assert.True(actual is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden) && (int)actual < 500,
                $"{route} with a valid token: got {(int)actual}: {body}");
        }

        // The listings show the tenant's own resources to the tenant.
        using var acme = auth.ClientWith(auth.Token(AuthServer.Tenant));
        Assert.Contains(AuthServer.Topic, await acme.GetStringAsync("/v1/topics"), StringComparison.Ordinal);
        Assert.Contains(AuthServer.WebhookId, await acme.GetStringAsync("/v1/webhooks"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnotherTenant_GetsForbidden_NotNotFound_ForATopicThatDoesNotExist()
    {
        using var rival = auth.ClientWith(auth.Token("rival"));
        using var missing = await rival.GetAsync("/v1/topics/acme/ns/never-created");
        using var existing = await rival.GetAsync($"/v1/topics/{AuthServer.Topic}");
        Assert.Equal(HttpStatusCode.Forbidden, missing.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, existing.StatusCode);

        // Same for webhook ids: a missing one and another tenant's answer alike.
        using var missingHook = await rival.GetAsync("/v1/webhooks/no-such-hook");
        using var otherHook = await rival.GetAsync($"/v1/webhooks/{AuthServer.WebhookId}");
        Assert.Equal(HttpStatusCode.Forbidden, missingHook.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, otherHook.StatusCode);
        Assert.Equal(
            (await missingHook.Content.ReadAsStringAsync()).Replace("no-such-hook", "ID", StringComparison.Ordinal),
            (await otherHook.Content.ReadAsStringAsync()).Replace(AuthServer.WebhookId, "ID", StringComparison.Ordinal));
    }

    // Cluster: sent below /v1/clusters/{Cluster} instead of /v1 when not empty.
    private sealed record Route(string Method, string Path, string Cluster = "")
    {
        public override string ToString() => Cluster.Length == 0 ? $"{Method} {Path}" : $"{Method} {Path} (cluster {Cluster})";
    }

    private async Task<List<Route>> RoutesAsync()
    {
        using var client = auth.ClientWith(null);
        using var document = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json"));
        var routes = new List<Route>();
        foreach (var path in document.RootElement.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                if (operation.Name is "get" or "put" or "post" or "delete" or "patch" && !IsCompatibilityApi(operation.Value))
                {
                    routes.Add(new Route(operation.Name.ToUpperInvariant(), path.Name));
                }
            }
        }

        // Sluice's API again below /v1/clusters/default (the cluster listing is not part of it).
        routes.AddRange([.. routes.Where(r => r.Path.StartsWith("/v1/", StringComparison.Ordinal) && r.Path != "/v1/clusters").Select(r => r with { Cluster = "default" })]);

        // The document itself is a route too.
        routes.Add(new Route("GET", "/openapi/{documentName}.json"));
        return routes;
    }

    // Pulsar Beam's and kateway's routes authenticate as their ancestors did (Beam's tokens without "Bearer", kateway's app
    // keys) and answer in their shapes; tests/Sluice.Compat.Tests walks their credentials.
    private static bool IsCompatibilityApi(JsonElement operation)
        => operation.TryGetProperty("tags", out var tags) && tags.EnumerateArray().Any(t => t.GetString() is "pulsar-beam" or "kateway");

    private async Task<(HttpStatusCode Status, string Body, System.Net.Http.Headers.HttpResponseHeaders Headers)> SendAsync(Route route, string? token)
    {
        var path = route.Path
            .Replace("{tenant}", "acme", StringComparison.Ordinal)
            .Replace("{namespace}", "ns", StringComparison.Ordinal)
            .Replace("{topic}", "t", StringComparison.Ordinal)
            .Replace("{subscription}", AuthServer.Subscription, StringComparison.Ordinal)
            .Replace("{name}", AuthServer.Subscription, StringComparison.Ordinal)
            .Replace("{id}", AuthServer.WebhookId, StringComparison.Ordinal)
            .Replace("{documentName}", "v1", StringComparison.Ordinal);
        Assert.DoesNotContain("{", path, StringComparison.Ordinal);
        if (route.Cluster.Length > 0)
        {
            path = "/v1/clusters/" + route.Cluster + path[3..];
        }

        path += QueryFor(route);

        using var client = auth.ClientWith(token);
        using var request = new HttpRequestMessage(new HttpMethod(route.Method), path) { Content = BodyFor(route) };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        var body = response.Content.Headers.ContentType?.MediaType == "text/event-stream" ? "(event stream)" : await response.Content.ReadAsStringAsync(cts.Token);
        return (response.StatusCode, body, response.Headers);
    }

    private static string QueryFor(Route route) => route.Path switch
    {
        var p when p.EndsWith("/subscriptions/{subscription}/messages", StringComparison.Ordinal) => "?waitMs=0",
        var p when p.EndsWith("/{topic}/messages", StringComparison.Ordinal) && route.Method == "GET" => "?partition=0&offset=0",
        _ => "",
    };

    private static HttpContent? BodyFor(Route route)
    {
        if (route.Method is "GET" or "DELETE")
        {
            return null;
        }

        var p = route.Path;
        string json;
        if (p.EndsWith("/{topic}/messages", StringComparison.Ordinal))
        {
            return new StringContent("hello", Encoding.UTF8, "text/plain");
        }
        else if (p.EndsWith("/batch", StringComparison.Ordinal))
        {
            json = """{"messages":[{"value":"a"}]}""";
        }
        else if (p.EndsWith("/acks", StringComparison.Ordinal) || p.EndsWith("/nacks", StringComparison.Ordinal))
        {
            json = """{"ackIds":["0:0:1"]}""";
        }
        else if (p.EndsWith("/seek", StringComparison.Ordinal))
        {
            json = """{"position":"earliest"}""";
        }
        else if (p.StartsWith("/v1/webhooks", StringComparison.Ordinal) && (p == "/v1/webhooks" || p == "/v1/webhooks/{id}"))
        {
            json = $$"""{"topic":"{{AuthServer.Topic}}","url":"http://127.0.0.1:9/other"}""";
        }
        else if (p is "/v1/replicators" or "/v1/replicators/{name}")
        {
            json = $$$"""{"name":"{{{AuthServer.Subscription}}}","source":{"topic":"{{{AuthServer.Topic}}}"},"sink":{"type":"http","url":"http://127.0.0.1:9/other"}}""";
        }
        else
        {
            json = "{}";
        }

        return new StringContent(json, Encoding.UTF8, "application/json");
    }

    /// <summary>Everything a request could change, as the superuser sees it.</summary>
    private async Task<string> SnapshotAsync()
    {
        var sb = new StringBuilder();
        sb.AppendLine(await auth.Admin.GetStringAsync("/v1/topics"));
        sb.AppendLine(await auth.Admin.GetStringAsync($"/v1/topics/{AuthServer.Topic}"));
        sb.AppendLine(await auth.Admin.GetStringAsync($"/v1/topics/{AuthServer.Topic}/subscriptions"));
        sb.AppendLine(await auth.Admin.GetStringAsync($"/v1/topics/{AuthServer.Topic}/subscriptions/{AuthServer.Subscription}"));
        sb.AppendLine(await auth.Admin.GetStringAsync("/v1/webhooks"));
        sb.AppendLine(await auth.Admin.GetStringAsync("/v1/replicators"));
        return sb.ToString();
    }
}
