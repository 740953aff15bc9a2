namespace Sluice.Cli.Bench;

internal sealed record BenchSettings(string Topic, long Messages, int Size, int Batch, int Producers, int Consumers, string? Subscription)
{
    public void Check()
    {
        if (Messages < 1 || Size < 0 || Size > 16 * 1024 * 1024 || Batch is < 1 or > 10_000 || Producers is < 0 or > 1024 || Consumers is < 0 or > 1024)
        {
            throw CliException.Usage("--messages must be 1 or more, --size 0 to 16777216, --batch 1 to 10000, --producers and --consumers 0 to 1024");
        }

        if (Producers == 0 && Consumers == 0)
        {
            throw CliException.Usage("nothing to do: --producers and --consumers are both 0");
        }

        if (Producers == 0 && Subscription is null)
        {
            throw CliException.Usage("consume only (--producers 0) needs --subscription: the messages to consume must already be there");
        }
    }
}
