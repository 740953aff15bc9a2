using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Sluice.Replication.Tests.S3;

namespace Sluice.Bench.Replication;

/// <summary>
/// The s3 pair of the replication suite: the replicator's sink settings, and the baseline: a plain AWSSDK.S3 client
/// PUTting the same NDJSON objects (the records as the sink writes them) of the same batch size, one writer per
/// partition, each PUT answered before the next, as the replicator's one batch in flight per partition.
/// </summary>
internal static class S3Pair
{
    public static JsonObject Sink(S3rverServer s3, string prefix) => new()
    {
        ["type"] = "s3",
        ["serviceUrl"] = s3.ServiceUrl,
        ["bucket"] = S3rverServer.Bucket,
        ["prefix"] = prefix,
        ["accessKey"] = "${secret:ak}",
        ["secretKey"] = "${secret:sk}",
    };

    public static JsonObject Secrets(S3rverServer s3) => new() { ["ak"] = s3.AccessKey, ["sk"] = s3.SecretKey };

    public static async Task<RunRate> PlainAsync(S3rverServer s3, string prefix, string topic, int records, int partitions, int batch, Func<int, byte[]> value, CancellationToken cancellationToken)
    {
        using var client = new AmazonS3Client(new BasicAWSCredentials(s3.AccessKey, s3.SecretKey), new AmazonS3Config
        {
            ServiceURL = s3.ServiceUrl,
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            MaxErrorRetry = 0,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });
        var clock = new RunClock();
        await Task.WhenAll(Enumerable.Range(0, partitions).Select(async p =>
        {
            for (var start = 0; start < records / partitions; start += batch)
            {
                var n = Math.Min(batch, (records / partitions) - start);
                using var body = new MemoryStream(Ndjson(topic, p, start, n, partitions, value), writable: false);
                await client.PutObjectAsync(new PutObjectRequest
                {
                    BucketName = S3rverServer.Bucket,
                    Key = $"{prefix}{topic}/{p:D4}/{start:D19}.ndjson",
                    InputStream = body,
                    ContentType = "application/x-ndjson",
                    UseChunkEncoding = false,
                }, cancellationToken);
                clock.Done(n);
            }
        }));
        return clock.Finish(records);
    }

    private static byte[] Ndjson(string topic, int partition, int start, int n, int partitions, Func<int, byte[]> value)
    {
        var buffer = new ArrayBufferWriter<byte>(n * 1300);
        using var writer = new Utf8JsonWriter(buffer);
        for (var i = start; i < start + n; i++)
        {
            writer.WriteStartObject();
            writer.WriteString("topic", topic);
            writer.WriteNumber("partition", partition);
            writer.WriteNumber("offset", i);
            writer.WriteString("key", $"k{(i * partitions) + partition}");
            writer.WriteString("value", value(i));
            writer.WriteStartObject("headers");
            writer.WriteString("n", i.ToString(CultureInfo.InvariantCulture));
            writer.WriteEndObject();
            writer.WriteString("publishTime", DateTimeOffset.UtcNow);
            writer.WriteEndObject();
            writer.Flush();
            buffer.Write("\n"u8);
            writer.Reset();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
