namespace Sluice.Server.Configuration;

/// <summary>When appended bytes are forced to disk (see the README's guarantees).</summary>
internal enum FlushPolicyOption
{
    /// <summary>Every produce is fsynced (group commit coalesces concurrent ones) before it is answered.</summary>
    Always,

    /// <summary>Written at once, fsynced every <see cref="ServerOptions.FlushIntervalMs"/>; answered before the fsync.</summary>
    Interval,

    /// <summary>Never fsynced by Sluice; the OS writes back when it likes.</summary>
    Never,
}
