namespace Sluice.Server.Compat.Kateway;

/// <summary>kateway's three servers: each of its routes belongs to one, and each may have its own port.</summary>
internal enum KatewayServer
{
    /// <summary>Publish and jobs (kateway's port 9191).</summary>
    Pub,

    /// <summary>Consume, ack, bury (9192).</summary>
    Sub,

    /// <summary>Admin: topics, status, webhooks (9193).</summary>
    Man,
}
