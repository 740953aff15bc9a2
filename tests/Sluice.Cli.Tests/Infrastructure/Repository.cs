namespace Sluice.Cli.Tests.Infrastructure;

/// <summary>Paths in the repository this test assembly was built from.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    /// <summary>bin/&lt;Configuration&gt;/&lt;tfm&gt; of this test assembly: the same is used for the binaries it runs.</summary>
    public static (string Configuration, string Tfm) Build
    {
        get
        {
            var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            return (here.Parent!.Name, here.Name);
        }
    }

    public static string CliDll
    {
        get
        {
            var (configuration, tfm) = Build;
            var dll = Path.Combine(Root, "src", "Sluice.Cli.Binary", "bin", configuration, tfm, "sluice.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException($"build the CLI first: {dll} is missing", dll);
        }
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Sluice.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException($"cannot find Sluice.slnx above {AppContext.BaseDirectory}");
    }
}
