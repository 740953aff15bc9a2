using System.Net;
using System.Text;
using Sluice.Compat.Tests.Infrastructure;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Compat.Tests.Kateway;

/// <summary>kateway's pub and sub routes (open mode: no app keys configured), from the facts its clients depend on.</summary>
public sealed class KatewayPubSubTests(CompatServer fixture, ITestOutputHelper output) : IClassFixture<CompatServer>, IDisposable
{
    private readonly HttpClient _client = fixture.Client;

    public void Dispose() => fixture.Server.WriteOutputTo(output, lastLines: 40);

    [Fact]
    public async Task Pub_Answers201WithPartitionAndOffset_AndSubGetsTheBodyWithKeyAndPosition()
    {
        var topic = Names.Unique("orders");
        var (partition, offset) = await _client.PubAsync("app1", topic, "v1", "hello kateway", key: "order-7");
        Assert.Equal(0, offset);

        var answer = await _client.SubAsync("app1", "app1", topic, "v1", "g1");
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal(("hello kateway"), answer.Messages.Single().Value);
        Assert.Equal((partition, offset), answer.Last);
        Assert.Equal("order-7", answer.Key);

        // A message of one key lands where Sluice's own produce puts that key (the same record, the same partitioner).
        var sluice = await _client.ProduceAsync($"app1/{topic}/v1", "same key", key: "order-7");
        Assert.Equal(partition, sluice.GetProperty("partition").GetInt32());
    }

    [Fact]
    public async Task PubAsync_Answers202()
    {
        var topic = Names.Unique("async");
        using var request = KatewayApi.Request(HttpMethod.Post, $"/v1/msgs/{topic}/v1?async=1", "app1");
        request.Content = new StringContent("later");
        using var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("{\"ok\":1}", await response.Content.ReadAsStringAsync());
        Assert.Equal("-1", response.Headers.GetValues("X-Offset").Single());

        // Sized, not chunked, as Go's server answers a body this small.
        Assert.Equal(8, response.Content.Headers.ContentLength);
        Assert.NotEqual(true, response.Headers.TransferEncodingChunked);

        var answer = await _client.SubAsync("app1", "app1", topic, "v1", "g1");
        Assert.Equal("later", answer.Messages.Single().Value);
    }

    [Fact]
    public async Task Sub_WithNothingToRead_Answers204_AfterTheLongPoll()
    {
        var answer = await _client.SubAsync("app1", "app1", Names.Unique("empty"), "v1", "g1");
        Assert.Equal(HttpStatusCode.NoContent, answer.Status);
    }

    [Fact]
    public async Task Sub_Batch_AnswersKatewaysBinaryMessageSet()
    {
        var topic = Names.Unique("batch");
        var sent = new List<(int, long, string)>();
        for (var i = 0; i < 6; i++)
        {
            var (p, o) = await _client.PubAsync("app1", topic, "v1", "m" + i, key: "k" + (i % 3));
            sent.Add((p, o, "m" + i));
        }

        var received = new List<(int, long, string)>();
        while (received.Count < 6)
        {
            var answer = await _client.SubAsync("app1", "app1", topic, "v1", "g1", batch: 10);
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            received.AddRange(answer.Messages);
        }

        Assert.Equal(sent.Order(), received.Order());
    }

    [Fact]
    public async Task Sub_ResetNewest_SkipsWhatWasThere_OnceForTheConnection()
    {
        var topic = Names.Unique("reset");
        await _client.PubAsync("app1", topic, "v1", "old");
        using var fresh = fixture.NewClient();

        // A new group starts at the oldest message; reset=newest moves it to the end when the connection first asks.
        Assert.Equal(HttpStatusCode.NoContent, (await fresh.SubAsync("app1", "app1", topic, "v1", "g-reset", reset: "newest")).Status);
        await _client.PubAsync("app1", topic, "v1", "new");
        Assert.Equal("new", (await fresh.SubAsync("app1", "app1", topic, "v1", "g-reset", reset: "newest")).Messages.Single().Value);
    }

    [Theory]
    [InlineData("", HttpStatusCode.BadRequest, "too small message")]
    [InlineData(null, HttpStatusCode.RequestEntityTooLarge, null)]
    public async Task Pub_BadBody_GetsKatewaysStatusAndErrmsg(string? body, HttpStatusCode status, string? errmsg)
    {
        using var request = KatewayApi.Request(HttpMethod.Post, $"/v1/msgs/{Names.Unique("bad")}/v1", "app1");
        request.Content = new ByteArrayContent(body is null ? new byte[CompatServer.MaxMessageBytes + 1] : Encoding.UTF8.GetBytes(body));
        using var response = await _client.SendAsync(request);
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var json = await SluiceApi.ReadJsonAsync(response);
        if (errmsg is not null)
        {
            Assert.Equal(errmsg, json.GetProperty("errmsg").GetString());
        }
    }

    [Theory]
    [InlineData("/v1/msgs/app1/t/v1?group=bad.group", "illegal group")]
    [InlineData("/v1/msgs/app1/t/v1", "illegal group")]
    [InlineData("/v1/msgs/app1/t/v1?group=g&batch=many", "illegal batch")]
    [InlineData("/v1/msgs/app1/t/v1?group=g&q=limbo", "invalid shadow name")]
    [InlineData("/v1/msgs/app1/t!/v1?group=g", "illegal topic")]
    public async Task Sub_BadParameters_Get400WithKatewaysMessage(string path, string errmsg)
    {
        using var request = KatewayApi.Request(HttpMethod.Get, path, "app1", keyHeader: "Subkey");
        using var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(errmsg, (await SluiceApi.ReadJsonAsync(response)).GetProperty("errmsg").GetString());
    }

    [Fact]
    public async Task Sub_PartialAck_Gets400()
    {
        using var request = KatewayApi.Request(HttpMethod.Get, $"/v1/msgs/app1/{Names.Unique("p")}/v1?group=g&ack=1", "app1", keyHeader: "Subkey");
        request.Headers.Add("X-Partition", "0");
        using var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("partial ack not allowed", (await SluiceApi.ReadJsonAsync(response)).GetProperty("errmsg").GetString());
    }

    [Fact]
    public async Task Request_WithoutAppid_Gets401()
    {
        using var response = await _client.PostAsync("/kateway/v1/msgs/t/v1", new StringContent("x"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("auth with empty identity or key", (await SluiceApi.ReadJsonAsync(response)).GetProperty("errmsg").GetString());
    }

    [Fact]
    public async Task Alive_AnswersOk()
        => Assert.Equal("{\"ok\":1}", await _client.GetStringAsync("/kateway/alive"));
}
