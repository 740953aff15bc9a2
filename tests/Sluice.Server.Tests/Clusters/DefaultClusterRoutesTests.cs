using System.Net;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Clusters;

/// <summary>
/// A server with the default cluster only (the embedded log, or Kafka with one cluster): <c>/v1/clusters/default</c> is
/// the default routes' data, and any other name is 404 <c>cluster-not-found</c> (both backends).
/// </summary>
public sealed class DefaultClusterRoutesTests(SharedServer shared) : IClassFixture<SharedServer>
{
    [Fact]
    public async Task ClusterList_HasDefaultOnly()
    {
        var list = await SluiceApi.SendOkAsync(shared.Client, new HttpRequestMessage(HttpMethod.Get, "/v1/clusters"));
        var only = Assert.Single(list.GetProperty("clusters").EnumerateArray());
        Assert.Equal("default", only.GetProperty("name").GetString());
        Assert.Equal(ServerProcess.OnKafka, only.TryGetProperty("kafkaBootstrap", out _));
    }

    [Fact]
    public async Task DefaultClusterRoutes_AndDefaultRoutes_AreTheSameTopicsAndSubscriptions()
    {
        var topic = SluiceApi.NewTopic("default-cluster");
        using var viaCluster = ClusterClient.For(shared.Server, "default");
        await shared.Client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        await viaCluster.ProduceAsync(topic, "one");
        await shared.Client.ProduceAsync(topic, "two");

        var got = await viaCluster.DrainAsync(topic, "s", 2);
        Assert.Equal(["one", "two"], got.Select(m => m.Value()).Order(StringComparer.Ordinal));
        var subscription = await SluiceApi.SendOkAsync(shared.Client, new HttpRequestMessage(HttpMethod.Get, $"/v1/topics/{topic}/subscriptions/s"));
        Assert.Equal("s", subscription.GetProperty("name").GetString());
    }

    [Fact]
    public async Task AnyOtherCluster_Is404ClusterNotFound_AndChangesNothing()
    {
        var topic = SluiceApi.NewTopic("no-cluster");
        using var east = ClusterClient.For(shared.Server, "east");
        using var response = await east.PostAsync($"/v1/topics/{topic}/messages", new StringContent("x"));
        var problem = await SluiceApi.ReadJsonAsync(response);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("urn:sluice:problem:cluster-not-found", problem.GetProperty("type").GetString());
        Assert.Equal("cluster 'east' is not configured; the clusters are default", problem.GetProperty("detail").GetString());
        Assert.Empty(await shared.Client.EndOffsetsAsync(topic));
    }
}
