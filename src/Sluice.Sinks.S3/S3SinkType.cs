using System.Text;
using Sluice.Core.Replication;

[assembly: ReplicationSink(typeof(Sluice.Sinks.S3.S3SinkType))]

namespace Sluice.Sinks.S3;

/// <summary>
/// <c>"type": "s3"</c>: one NDJSON object per batch in a bucket of Amazon S3 or an S3-compatible store, under a key
/// made of the <c>prefix</c> template, the source topic, partition and first offset (zero-padded, so keys sort), so a
/// batch written again replaces its object. The service URL is checked by the gateway's SSRF guard.
/// </summary>
public sealed class S3SinkType : ReplicationSinkType
{
    public override string Name => "s3";

    public override string TargetField => "prefix";

    public override object ReadSettings(SinkSettings settings)
    {
        var bucket = settings.RequiredString("bucket");
        if (BucketProblem(bucket) is { } problem)
        {
            SinkSettings.Fail("bucket", problem);
        }

        Uri? serviceUrl = null;
        if (settings.String("serviceUrl") is { } url)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out serviceUrl) || serviceUrl.Scheme is not ("http" or "https") || serviceUrl.UserInfo.Length > 0
                || !string.IsNullOrEmpty(serviceUrl.Query) || !string.IsNullOrEmpty(serviceUrl.Fragment))
            {
                SinkSettings.Fail("serviceUrl", "must be an absolute http or https URL without credentials, query or fragment (such as http://127.0.0.1:9000)");
            }
        }

        var region = settings.String("region") ?? "us-east-1";
        if (region.Length > 64 || !region.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
        {
            SinkSettings.Fail("region", "must be a region name such as us-east-1");
        }

        var accessKey = settings.RequiredString("accessKey");
        var secretKey = settings.RequiredString("secretKey");
        var sessionToken = settings.String("sessionToken");
        var pathStyle = settings.Bool("pathStyle") ?? serviceUrl is not null;
        var timeout = TimeSpan.FromMilliseconds(settings.Integer("timeoutMs", 1000, 600_000) ?? 30_000);
        var removeStale = settings.Bool("removeStaleObjects") ?? true;
        return new S3SinkSettings(bucket, serviceUrl, region, new S3Credentials(accessKey, secretKey, sessionToken), pathStyle, timeout, removeStale);
    }

    public override async ValueTask<string?> CheckTargetAsync(object settings, string target, SinkContext context, CancellationToken cancellationToken)
    {
        // The key is prefix + tenant/namespace/topic/partition/offset: with the longest names it must stay within S3's 1024 bytes.
        if (Encoding.UTF8.GetByteCount(target) > S3ObjectKeys.MaxPrefixBytes)
        {
            return $"the prefix must be at most {S3ObjectKeys.MaxPrefixBytes} bytes (object keys are at most 1024)";
        }

        if (target.Any(char.IsControl))
        {
            return "the prefix must not contain control characters";
        }

        var s = (S3SinkSettings)settings;
        return s.ServiceUrl is { } url ? await Policy(context).CheckUrlAsync(url, cancellationToken).ConfigureAwait(false) : null;
    }

    public override IReplicationSink CreateSink(object settings, SinkContext context)
        => new S3Sink((S3SinkSettings)settings, Policy(context), context.Logger);

    private static IOutboundAddressPolicy Policy(SinkContext context)
        => context.Services.GetService(typeof(IOutboundAddressPolicy)) as IOutboundAddressPolicy
            ?? throw new InvalidOperationException("the gateway registers no IOutboundAddressPolicy: the s3 sink will not call unchecked addresses");

    // S3's rules for bucket names (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html), which
    // S3-compatible stores follow: 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit.
    private static string? BucketProblem(string bucket)
        => bucket.Length is < 3 or > 63
            || !bucket.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '-')
            || !char.IsAsciiLetterOrDigit(bucket[0]) || !char.IsAsciiLetterOrDigit(bucket[^1])
            || bucket.Contains("..", StringComparison.Ordinal)
            ? "must be 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit"
            : null;
}
