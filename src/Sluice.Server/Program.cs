using Sluice.Server.Configuration;
using Sluice.Server.Hosting;

// Configuration first, so every bad value is reported on stderr before anything starts.
var loaded = ServerOptionsLoader.Load(args);
if (loaded.HelpRequested)
{
    Console.Out.Write(ServerOptionsLoader.Usage());
    return 0;
}

var errors = loaded.Errors.Count > 0 ? [.. loaded.Errors] : ServerOptionsValidator.Check(loaded.Options);
if (errors.Count > 0)
{
    Console.Error.WriteLine("sluice: invalid configuration:");
    foreach (var error in errors)
    {
        Console.Error.WriteLine("  - " + error);
    }

    return 2;
}

return await SluiceServer.RunAsync(loaded.Options, loaded.ConfigFile);
