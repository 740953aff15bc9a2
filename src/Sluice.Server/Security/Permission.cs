namespace Sluice.Server.Security;

/// <summary>What a role may do in a tenant or namespace. Admin includes produce and consume.</summary>
[Flags]
internal enum Permission
{
    None = 0,
    Produce = 1,
    Consume = 2,
    Admin = 4,
}
