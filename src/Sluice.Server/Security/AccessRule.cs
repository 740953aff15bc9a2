namespace Sluice.Server.Security;

/// <summary>How a route is authorised. Endpoint metadata; routes without it are looked up in <see cref="AccessRules"/>.</summary>
internal sealed record AccessRule(AccessScope Scope, Permission Permission = Permission.None, bool AcceptsQueryToken = false)
{
    /// <summary>No token needed: health, readiness, the OpenAPI document.</summary>
    public static AccessRule Public { get; } = new(AccessScope.Public);

    /// <summary>
    /// A compatibility API's route: its adapter authenticates and authorises the request itself, in its ancestor's way
    /// (Beam's bearer token without <c>Bearer</c>, kateway's app keys) and error shape, mapped onto <see cref="AccessPolicy"/>.
    /// </summary>
    public static AccessRule Adapter { get; } = new(AccessScope.Adapter);

    /// <summary>Any authenticated caller; the handler checks or filters per resource with <see cref="Access"/>.</summary>
    public static AccessRule PerResource { get; } = new(AccessScope.PerResource);

    /// <summary>The route's <c>{tenant}</c> and <c>{namespace}</c> are checked for <paramref name="permission"/> before the handler runs.</summary>
    public static AccessRule Namespace(Permission permission, bool acceptsQueryToken = false) => new(AccessScope.Namespace, permission, acceptsQueryToken);
}

/// <summary>What an <see cref="AccessRule"/> checks.</summary>
internal enum AccessScope
{
    Public,
    Namespace,
    Adapter,
    PerResource,
}
