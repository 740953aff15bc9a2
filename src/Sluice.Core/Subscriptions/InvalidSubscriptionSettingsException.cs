namespace Sluice.Core.Subscriptions;

/// <summary>Subscription settings are out of range or cannot be applied now (HTTP 400). Nothing was changed.</summary>
public sealed class InvalidSubscriptionSettingsException(string message) : ArgumentException(message);
