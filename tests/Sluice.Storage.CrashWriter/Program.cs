// Usage: Sluice.Storage.CrashWriter <data directory> <run id> [writers] [segment bytes]
//
// Opens the embedded log, then appends forever from several concurrent tasks until killed.
// Every record's value is derived from (run id, sequence number) by CrashPayload.For, so the
// crash test can check content. After each acknowledged append it prints one line per record:
//     ack <offset> <run id> <sequence>
// A line is printed only after AppendAsync completed, i.e. after the fsync (FlushPolicy.Always).
using Sluice.Core.Log;
using Sluice.Core.Topics;
using Sluice.Storage;
using Sluice.Storage.CrashWriter;

var directory = args[0];
var run = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
var writers = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 4;
var segmentBytes = args.Length > 3 ? long.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 64 * 1024;

var topic = new TopicName("crash", "test", "events");
await using var log = await EmbeddedLog.OpenAsync(new StorageOptions
{
    DataDirectory = directory,
    FlushPolicy = FlushPolicy.Always,
    SegmentBytes = segmentBytes,
    IndexIntervalBytes = 1024,
});
try
{
    await log.CreateTopicAsync(topic, new TopicSettings());
}
catch (TopicAlreadyExistsException)
{
}

var stdout = Console.Out;
stdout.WriteLine("ready");
stdout.Flush();
long sequence = -1;
await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
{
    var random = new Random(run * 1000 + w);
    while (true)
    {
        var count = random.Next(1, 4);
        var ids = new long[count];
        var records = new RecordToAppend[count];
        for (var i = 0; i < count; i++)
        {
            ids[i] = Interlocked.Increment(ref sequence);
            records[i] = new RecordToAppend(null, CrashPayload.For(run, ids[i]));
        }

        var result = await log.AppendAsync(topic, 0, records);
        lock (stdout)
        {
            for (var i = 0; i < count; i++)
            {
                stdout.WriteLine($"ack {result.BaseOffset + i} {run} {ids[i]}");
            }

            stdout.Flush();
        }
    }
})));
