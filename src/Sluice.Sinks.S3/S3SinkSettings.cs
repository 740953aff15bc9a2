namespace Sluice.Sinks.S3;

/// <summary>The s3 sink's settings as read and checked at registration (secrets resolved).</summary>
internal sealed record S3SinkSettings(
    string Bucket, Uri? ServiceUrl, string Region, S3Credentials Credentials, bool PathStyle, TimeSpan Timeout, bool RemoveStaleObjects);

/// <summary>The access key pair (and session token, for temporary credentials). Its text form names no value.</summary>
internal sealed record S3Credentials(string AccessKey, string SecretKey, string? SessionToken)
{
    public override string ToString() => "S3Credentials { *** }";
}
