using System.Globalization;
using Sluice.Core.Delay;
using Sluice.Server.Security;

namespace Sluice.Server.Compat.Kateway;

/// <summary>
/// kateway's delayed jobs over Sluice's delayed messages: <c>POST /v1/jobs/:topic/:ver?delay=|due=</c> holds the body
/// (with <c>?key=</c> and <c>X-Tag</c>, as a pub) for delivery to <c>{appid}/{topic}/{ver}</c> at that time, durably,
/// and answers 201 <c>{"ok":1}</c> with <c>X-Job-Id</c>; <c>DELETE /v1/jobs/:topic/:ver?id=</c> cancels a job still
/// pending (200 <c>{"ok":1}</c>), and answers 409 for one already delivered, already cancelled or unknown.
/// </summary>
internal static class KatewayJobs
{
    public static async Task AddAsync(HttpContext context, KatewayServices kateway)
    {
        var caller = kateway.Access.Authenticate(context, "Pubkey");
        var topic = KatewayNames.Topic(KatewayAccess.AppOf(caller), context);
        kateway.Access.Require(caller, topic, Permission.Produce);
        var due = DueTime(context, kateway.Time.GetUtcNow());
        var record = await KatewayPub.ReadRecordAsync(context, kateway);

        var (partition, id) = await kateway.Producer.AppendDelayedAsync(topic, record, due, context.RequestAborted);
        var response = context.Response;
        response.Headers["X-Job-Id"] = id;
        response.Headers["X-Partition"] = partition.ToString(CultureInfo.InvariantCulture);
        KatewayPub.WriteOk(response, StatusCodes.Status201Created);
    }

    public static async Task CancelAsync(HttpContext context, KatewayServices kateway)
    {
        var caller = kateway.Access.Authenticate(context, "Pubkey");
        var topic = KatewayNames.Topic(KatewayAccess.AppOf(caller), context);
        kateway.Access.Require(caller, topic, Permission.Produce);
        var id = context.Request.Query["id"].ToString();
        if (id.Length == 0)
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, "invalid job id");
        }

        CancelOutcome outcome;
        try
        {
            // Once requested the cancel is durable: wait for the owner's decision even if the client leaves.
            outcome = await kateway.Delays.CancelAsync(topic, id, CancellationToken.None);
        }
        catch (InvalidDelayException)
        {
            throw new CompatException(StatusCodes.Status400BadRequest, "invalid job id");
        }

        if (outcome == CancelOutcome.NotCancellable)
        {
            CompatException.Throw(StatusCodes.Status409Conflict, "job not found: already fired, cancelled or unknown");
        }

        KatewayPub.WriteOk(context.Response);
    }

    /// <summary>
    /// <c>due</c> (Unix seconds) wins over <c>delay</c>: a Go duration as kateway parsed it (<c>90s</c>, <c>1m30s</c>,
    /// <c>1.5h</c>, <c>300ms</c>) or whole seconds. Neither, or a malformed or negative one, is kateway's 400.
    /// </summary>
    internal static DateTimeOffset DueTime(HttpContext context, DateTimeOffset now)
    {
        var query = context.Request.Query;
        if (query["due"].ToString() is { Length: > 0 } due)
        {
            if (!long.TryParse(due, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
            {
                CompatException.Throw(StatusCodes.Status400BadRequest, "invalid due format");
            }

            return DateTimeOffset.FromUnixTimeSeconds(seconds);
        }

        var delay = query["delay"].ToString();
        if (GoDuration.TryParse(delay, out var span) && span >= TimeSpan.Zero)
        {
            return now + span;
        }

        throw new CompatException(StatusCodes.Status400BadRequest, "invalid delay format");
    }
}
