namespace Sluice.Server.Security;

/// <summary>Who made a request: the roles its token names, and whether one of them is a superuser role.</summary>
internal sealed record Caller(IReadOnlyList<string> Roles, bool IsSuperuser)
{
    /// <summary>Auth mode none: everyone may do everything.</summary>
    public static Caller Unauthenticated { get; } = new([], true);

    /// <summary>The caller of this request, set by <see cref="AccessMiddleware"/>; null before it ran.</summary>
    /// <remarks>
    /// A feature of the request, not an entry of <c>HttpContext.Items</c>: the items make a dictionary for every request,
    /// held for as long as the request (~250 B per idle stream, note 0033), where Kestrel keeps extra features in one
    /// list per connection. <see cref="AccessMiddleware"/> sets or clears it at the start of every request it sees, so
    /// no request can find the caller of an earlier request on its connection, whatever the server does between them.
    /// </remarks>
    public static Caller? Of(HttpContext context) => context.Features.Get<Caller>();

    public void AttachTo(HttpContext context) => context.Features.Set(this);

    /// <summary>No caller for this request (yet): what <see cref="Of"/> says until one is attached.</summary>
    public static void DetachFrom(HttpContext context) => context.Features.Set<Caller>(null);
}
