using System.Text;
using Sluice.Core.Log;

namespace Sluice.Core.Tests;

public sealed class PartitionerTests
{
    // Values from Kafka's own UtilsTest.testMurmur2, so keys land where a Kafka producer would put them.
    [Theory]
    [InlineData("21", -973932308)]
    [InlineData("foobar", -790332482)]
    [InlineData("a-little-bit-long-string", -985981536)]
    [InlineData("a-little-bit-longer-string", -1486304829)]
    [InlineData("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971)]
    [InlineData("abc", 479470107)]
    public void Murmur2_MatchesKafka(string key, int expected)
    {
        Assert.Equal(expected, Partitioner.Murmur2(Encoding.UTF8.GetBytes(key)));
    }

    [Fact]
    public void Choose_WithoutKey_StaysOnOnePartitionForARunThenMovesOnOverEveryPartition()
    {
        var p = new Partitioner();
        var seen = Enumerable.Range(0, Partitioner.StickyRun * 5).Select(_ => p.Choose(default, hasKey: false, 4)).ToArray();
        var runs = seen.Chunk(Partitioner.StickyRun).ToArray();
        Assert.All(runs, run => Assert.Single(run.Distinct()));
        Assert.Equal(new[] { 0, 1, 2, 3, 0 }, runs.Select(run => run[0]).ToArray());
    }
}
