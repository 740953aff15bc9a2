namespace Sluice.Server.Security;

/// <summary>Who made a request: the roles its token names, and whether one of them is a superuser role.</summary>
internal sealed record Caller(IReadOnlyList<string> Roles, bool IsSuperuser)
{
    /// <summary>Auth mode none: everyone may do everything.</summary>
    public static Caller Unauthenticated { get; } = new([], true);

    /// <summary>The caller of this request, set by <see cref="AccessMiddleware"/>; null before it ran.</summary>
    public static Caller? Of(HttpContext context) => context.Items.TryGetValue(typeof(Caller), out var c) ? c as Caller : null;

    public void AttachTo(HttpContext context) => context.Items[typeof(Caller)] = this;
}
