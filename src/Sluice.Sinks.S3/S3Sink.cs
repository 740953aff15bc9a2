using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Logging;
using Sluice.Core.Replication;

namespace Sluice.Sinks.S3;

/// <summary>
/// Writes each batch as one NDJSON object (the records as the http sink's <c>ndjson</c> format has them) with one PUT:
/// the batch counts as written once S3 answered 200, so the object is stored durably.
/// <code>
///   key = {prefix}{tenant}/{namespace}/{topic}/{partition:0000}/{firstOffset:0000000000000000000}.ndjson
///   200 ──► written     EntityTooLarge, KeyTooLongError, MetadataTooLarge, 413 ──► refused (the engine splits the batch)
///   anything else (5xx, throttling, timeouts, connection errors, credentials, permissions, no such bucket) ──► retry
/// </code>
/// A batch written again after a failure or a crash has the same first offset, so it replaces its object. After a crash
/// the batches may be cut differently, though, so on the first write of each partition the sink deletes the objects an
/// earlier run left at or past that write's first offset (every record there is written again: the position had not
/// passed them): objects never overlap, and reading them back gives each record once.
/// </summary>
internal sealed partial class S3Sink : IReplicationSink
{
    private const string ContentType = "application/x-ndjson";

    private readonly S3SinkSettings _settings;
    private readonly ILogger _logger;
    private readonly AmazonS3Client _client;
    private readonly ConcurrentDictionary<string, PartitionState> _partitions = new(StringComparer.Ordinal);

    public S3Sink(S3SinkSettings settings, IOutboundAddressPolicy policy, ILogger logger)
    {
        _settings = settings;
        _logger = logger;
        var config = new AmazonS3Config
        {
            ForcePathStyle = settings.PathStyle,
            Timeout = settings.Timeout,

            // The engine retries with its own backoff and shows it in the status; the SDK's retries would hide an outage.
            MaxErrorRetry = 0,

            // The SDK's default adds CRC checksums with aws-chunked bodies, which S3-compatible stores do not all understand;
            // with SigV4 the payload's SHA-256 is signed anyway.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            HttpClientFactory = new GuardedHttpClientFactory(policy),
        };
        if (settings.ServiceUrl is { } url)
        {
            config.ServiceURL = url.ToString();
            config.AuthenticationRegion = settings.Region;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(settings.Region);
        }

        var c = settings.Credentials;
        AWSCredentials credentials = c.SessionToken is null ? new BasicAWSCredentials(c.AccessKey, c.SecretKey) : new SessionAWSCredentials(c.AccessKey, c.SecretKey, c.SessionToken);
        _client = new AmazonS3Client(credentials, config);
    }

    public async ValueTask<SinkWriteResult> WriteAsync(SinkBatch batch, CancellationToken cancellationToken)
    {
        var folder = S3ObjectKeys.Folder(batch.Target, batch.Topic, batch.Partition);
        var key = S3ObjectKeys.Key(folder, batch.FirstOffset);
        try
        {
            if (_settings.RemoveStaleObjects)
            {
                await RemoveStaleAsync(folder, batch.FirstOffset, cancellationToken).ConfigureAwait(false);
            }

            // Pooled (a fresh array per batch was large-object heap churn); returned once the PUT has been answered.
            using var body = SinkRecordJson.Encode(batch.Records, ndjson: true);
            var written = body.WrittenSegment;
            using var stream = new MemoryStream(written.Array!, written.Offset, written.Count, writable: false);
            var request = new PutObjectRequest
            {
                BucketName = _settings.Bucket,
                Key = key,
                InputStream = stream,
                AutoCloseStream = false,
                ContentType = ContentType,
                UseChunkEncoding = false,
            };
            request.Metadata["sluice-topic"] = batch.Topic.ToString();
            request.Metadata["sluice-partition"] = batch.Partition.ToString(CultureInfo.InvariantCulture);
            request.Metadata["sluice-first-offset"] = batch.FirstOffset.ToString(CultureInfo.InvariantCulture);
            request.Metadata["sluice-last-offset"] = batch.Records[^1].Offset.ToString(CultureInfo.InvariantCulture);
            request.Metadata["sluice-records"] = batch.Records.Count.ToString(CultureInfo.InvariantCulture);
            await _client.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
            return SinkWriteResult.Written;
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode != 0)
        {
            var error = $"S3 {(int)ex.StatusCode} {ex.ErrorCode}: {ex.Message}";
            return Refuses(ex) ? SinkWriteResult.Refused(error, batch.Records.Count == 1 ? 0 : null) : SinkWriteResult.Retry(error);
        }
        catch (Exception ex) when (ex is AmazonServiceException or AmazonClientException or HttpRequestException or IOException
            || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            // Connection-level: the innermost message names host and port at most, never a key.
            return SinkWriteResult.Retry("S3 connection: " + Innermost(ex));
        }
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    // Only when the object itself can never be stored; every other 4xx (a wrong region or key, a missing bucket or
    // permission) is about the configuration, applies to every record, and heals once fixed: retried, not dead-lettered.
    private static bool Refuses(AmazonS3Exception ex)
        => ex.StatusCode == HttpStatusCode.RequestEntityTooLarge || ex.ErrorCode is "EntityTooLarge" or "KeyTooLongError" or "MetadataTooLarge";

    private static string Innermost(Exception ex)
    {
        while (ex.InnerException is { } inner)
        {
            ex = inner;
        }

        return ex is OperationCanceledException ? "timed out" : ex.Message;
    }

    /// <summary>
    /// Deletes this partition's objects whose first offset is in [<paramref name="from"/>, the lowest first offset this
    /// sink has written so far): an earlier run's objects past the position. This run's objects all start at or above
    /// that bound, so none is touched; writes wait while a partition is cleaned, so none is deleted after it was written.
    /// </summary>
    private async Task RemoveStaleAsync(string folder, long from, CancellationToken cancellationToken)
    {
        var state = _partitions.GetOrAdd(folder, static _ => new PartitionState());
        if (Volatile.Read(ref state.CleanedFrom) <= from)
        {
            return;
        }

        await state.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var upTo = state.CleanedFrom;
            if (upTo <= from)
            {
                return;
            }

            var stale = new List<KeyVersion>();
            var list = new ListObjectsV2Request { BucketName = _settings.Bucket, Prefix = folder, StartAfter = S3ObjectKeys.Before(folder, from) };
            do
            {
                var page = await _client.ListObjectsV2Async(list, cancellationToken).ConfigureAwait(false);
                foreach (var o in page.S3Objects ?? [])
                {
                    if (S3ObjectKeys.FirstOffset(folder, o.Key) is { } first && first >= from && first < upTo)
                    {
                        stale.Add(new KeyVersion { Key = o.Key });
                    }
                }

                list.ContinuationToken = page.IsTruncated == true ? page.NextContinuationToken : null;
            }
            while (list.ContinuationToken is not null);

            // At most 1000 keys per request (S3's limit).
            foreach (var chunk in stale.Chunk(1000))
            {
                var deleted = await _client.DeleteObjectsAsync(new DeleteObjectsRequest { BucketName = _settings.Bucket, Objects = [.. chunk], Quiet = true }, cancellationToken).ConfigureAwait(false);
                if (deleted.DeleteErrors is { Count: > 0 } errors)
                {
                    throw new AmazonS3Exception($"could not delete {errors.Count} stale objects under {folder}: {errors[0].Code}") { StatusCode = HttpStatusCode.Conflict, ErrorCode = errors[0].Code };
                }
            }

            if (stale.Count > 0)
            {
                Log.StaleObjectsRemoved(_logger, stale.Count, _settings.Bucket, folder, from);
            }

            Volatile.Write(ref state.CleanedFrom, from);
        }
        finally
        {
            state.Gate.Release();
        }
    }

    private sealed class PartitionState
    {
        public readonly SemaphoreSlim Gate = new(1, 1);

        // Objects of this partition from this offset on were written by this sink (or checked to be none of an earlier run's).
        public long CleanedFrom = long.MaxValue;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = S3EventIds.StaleObjectsRemoved, Level = LogLevel.Information,
            Message = "s3 sink: deleted {Count} objects an earlier run left in bucket {Bucket} under {Folder} from offset {From} on; their records are written again")]
        public static partial void StaleObjectsRemoved(ILogger logger, int count, string bucket, string folder, long from);
    }
}
