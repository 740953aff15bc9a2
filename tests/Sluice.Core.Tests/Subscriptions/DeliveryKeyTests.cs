using System.Text;
using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>
/// <see cref="DeliveryKey"/>: a consumer that tracks what it sent (the WebSocket window) matches the acks it gets back by
/// key, so a delivery's key must equal the key of exactly the ids that name it, however the id arrived.
/// </summary>
public sealed class DeliveryKeyTests
{
    [Fact]
    public async Task AnEngineDelivery_MatchesItsOwnId_AsTextOrUtf8_AndNoOtherAttemptOrMessage()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(2);
        await using var c = await h.OpenAsync("c");
        var got = await EngineHarness.ReceiveAtLeastAsync(c, 2);
        var first = got[0];
        var parts = first.AckId.Split('.');
        using var ids = new AckIdList();
        ids.Add(first.AckId);
        ids.AddUtf8(Encoding.UTF8.GetBytes(first.AckId));
        ids.Add(string.Join('.', parts[0], parts[1], parts[2], parts[3], "2"));
        ids.Add(got[1].AckId);
        ids.Add("not-an-id");

        Assert.Equal(first.Key, ids.KeyAt(0));
        Assert.Equal(first.Key, ids.KeyAt(1));
        Assert.Equal(first.Key.GetHashCode(), ids.KeyAt(1).GetHashCode());
        Assert.NotEqual(first.Key, ids.KeyAt(2));
        Assert.NotEqual(first.Key, ids.KeyAt(3));
        Assert.Equal(got[1].Key, ids.KeyAt(3));
        Assert.NotEqual(first.Key, ids.KeyAt(4));
    }

    [Fact]
    public void ADeliveryMadeWithText_MatchesThatText_ParsedOrNot()
    {
        var record = new Sluice.Core.Log.StoredRecord(7, DateTimeOffset.UnixEpoch, null, new byte[] { 1 }, []);
        var topic = new Sluice.Core.Topics.TopicName("t", "ns", "o");
        using var ids = new AckIdList();
        ids.Add("1f.2e.3.7.1");
        ids.Add("custom-id");

        Assert.Equal(new Delivery("1f.2e.3.7.1", topic, 3, record, 1).Key, ids.KeyAt(0));
        Assert.Equal(new Delivery("custom-id", topic, 3, record, 1).Key, ids.KeyAt(1));
        Assert.NotEqual(new Delivery("custom-id", topic, 3, record, 1).Key, ids.KeyAt(0));
    }
}
