using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Sluice.Replication.Tests.Infrastructure;

namespace Sluice.Replication.Tests.S3;

/// <summary>
/// The s3 sink's target: s3rver, read back with a plain S3 client. Objects of a topic live under
/// <c>sluice/{namespace}/</c> + the topic; reading lists them in key order (per partition, offset order) and parses each
/// object's NDJSON, so a record in two objects is read twice. The store refuses objects over
/// <see cref="S3rverServer.MaxObjectBytes"/>, so the poison record is a value larger than that.
/// </summary>
public sealed class S3Target(S3rverServer server) : ISinkTarget
{
    public const string Prefix = "sluice/{namespace}/";

    private readonly AmazonS3Client _client = Client(server);

    public IReadOnlyDictionary<string, string> Secrets { get; } = new Dictionary<string, string> { ["ak"] = server.AccessKey, ["sk"] = server.SecretKey };

    public bool Deduplicates => true;

    public string Poison { get; } = "poison-" + new string('p', S3rverServer.MaxObjectBytes + 1024);

    public S3rverServer Server => server;

    /// <summary>The folder of a topic's objects: the prefix applied to it, then the topic.</summary>
    public static string TopicFolder(string topic) => $"sluice/{topic.Split('/')[1]}/{topic}/";

    public static AmazonS3Client Client(S3rverServer server) => new(
        new BasicAWSCredentials(server.AccessKey, server.SecretKey),
        new AmazonS3Config
        {
            ServiceURL = server.ServiceUrl,
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });

    public JsonObject Sink() => new()
    {
        ["type"] = "s3",
        ["serviceUrl"] = server.ServiceUrl,
        ["bucket"] = S3rverServer.Bucket,
        ["prefix"] = Prefix,
        ["accessKey"] = "${secret:ak}",
        ["secretKey"] = "${secret:sk}",
    };

    // The bucket exists from the start; the store refuses any object larger than its limit, the poison's included.
    public Task PrepareAsync(string topic, string? poison = null) => Task.CompletedTask;

    public async Task<IReadOnlyList<TargetRecord>> ReadAsync(string topic)
    {
        var result = new List<TargetRecord>();
        foreach (var key in await KeysAsync(TopicFolder(topic)))
        {
            if (await ReadObjectAsync(key) is { } lines)
            {
                result.AddRange(lines.Select(Parse));
            }
        }

        return result;
    }

    /// <summary>
    /// The non-empty lines of one object, or null when it was removed after listing (the sink drops a stale object when a
    /// seek back rewrites its records: the polling caller reads again). s3rver writes an object's file in place and its
    /// checksum after it, so a read that meets a write of the same key gets a body that does not match its ETag, and the
    /// client refuses it: that read is retried for up to ~3 s (a write of the same key can take that long while CI loads
    /// the machine, and s3rver's event loop with it), and a body that never matches still fails the test.
    /// </summary>
    private async Task<List<string>?> ReadObjectAsync(string key)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                using var response = await _client.GetObjectAsync(S3rverServer.Bucket, key);
                using var reader = new StreamReader(response.ResponseStream);
                var lines = new List<string>();
                while (await reader.ReadLineAsync() is { } line)
                {
                    if (line.Length > 0)
                    {
                        lines.Add(line);
                    }
                }

                return lines;
            }
            catch (NoSuchKeyException)
            {
                return null;
            }
            catch (AmazonClientException e) when (attempt < 30 && e.Message.Contains("hash", StringComparison.OrdinalIgnoreCase))
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>Every object key under <paramref name="prefix"/>, in key order.</summary>
    public async Task<List<string>> KeysAsync(string prefix)
    {
        var keys = new List<string>();
        var request = new ListObjectsV2Request { BucketName = S3rverServer.Bucket, Prefix = prefix };
        do
        {
            var page = await _client.ListObjectsV2Async(request);
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            request.ContinuationToken = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (request.ContinuationToken is not null);

        return [.. keys.Order(StringComparer.Ordinal)];
    }

    public Task StopAsync() => server.StopAsync();

    public Task StartAsync() => server.StartAsync();

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await server.DisposeAsync();
    }

    private static TargetRecord Parse(string line)
    {
        var r = JsonDocument.Parse(line).RootElement;
        return new TargetRecord(
            r.GetProperty("topic").GetString()!,
            r.GetProperty("partition").GetInt32(),
            r.GetProperty("offset").GetInt64(),
            r.TryGetProperty("key", out var key) ? key.GetString() : null,
            r.GetProperty("value").GetString(),
            r.GetProperty("headers").EnumerateObject().ToDictionary(h => h.Name, h => h.Value.GetString()!));
    }
}
