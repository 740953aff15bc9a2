namespace Sluice.Core.Subscriptions;

/// <summary>What a subscription does when the log cannot serve a range of its records (<see cref="Log.CorruptRecordsException"/>).</summary>
public enum CorruptRecordsPolicy
{
    /// <summary>Records the lost offsets (status, log, metric) and delivers the intact records after them. The default.</summary>
    Skip,

    /// <summary>Stops delivering that partition at the damage, saying so in its status, until a seek moves the cursor past it.</summary>
    Stop,
}
