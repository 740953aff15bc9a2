namespace Sluice.Cli.Connection;

/// <summary>The server's routes, with every name part escaped. Topic names are <c>tenant/namespace/name</c>.</summary>
internal static class Routes
{
    public static string Topic(string topic)
    {
        var parts = topic.Split('/');
        if (parts.Length != 3 || parts.Any(p => p.Length == 0))
        {
            throw CliException.Usage($"topic '{SluiceClient.Printable(topic, 100)}' must be tenant/namespace/name, e.g. acme/shop/orders");
        }

        return "v1/topics/" + string.Join('/', parts.Select(Uri.EscapeDataString));
    }

    public static string Subscription(string topic, string name) => $"{Topic(topic)}/subscriptions/{Name(name, "subscription")}";

    public static string Webhook(string id) => "v1/webhooks/" + Name(id, "webhook id");

    public static string Replicator(string name) => "v1/replicators/" + Name(name, "replicator name");

    public static string Delayed(string topic) => Topic(topic) + "/delayed";

    private static string Name(string value, string what) =>
        value.Length == 0 ? throw CliException.Usage($"the {what} is empty") : Uri.EscapeDataString(value);
}
