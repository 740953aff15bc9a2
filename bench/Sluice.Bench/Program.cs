// Sluice benchmark command.
//   dotnet run -c Release --project bench/Sluice.Bench -- [suite ...]    (no suite: all of them)
// Each suite's section of docs/BENCHMARKS.md is rewritten with the figures of this run.
using Sluice.Bench;

if (args.Length > 0 && args[0] == Sluice.Bench.Http.BareEndpoint.ChildFlag)
{
    return await Sluice.Bench.Http.BareEndpoint.RunChildAsync(args);
}

if (args.Length > 0 && args[0] == Sluice.Bench.Streaming.BareFanOut.ChildFlag)
{
    return await Sluice.Bench.Streaming.BareFanOut.RunChildAsync(args);
}

if (args.Length > 0 && args[0] == Sluice.Bench.Webhooks.Pusher.ChildFlag)
{
    return await Sluice.Bench.Webhooks.Pusher.RunChildAsync(args);
}

if (args.Length > 0 && args[0].StartsWith("--child", StringComparison.Ordinal))
{
    // Child-process modes used by suites (e.g. a writer to SIGKILL).
    return await Sluice.Bench.Storage.StorageSuite.RunChildAsync(args);
}

var selected = args.Length == 0
    ? Suites.All
    : args.Select(a => Suites.All.FirstOrDefault(s => s.Name == a) ?? throw new ArgumentException(
        $"unknown suite '{a}'; known: {string.Join(", ", Suites.All.Select(s => s.Name))}")).ToList();

var output = Path.Combine(FindRepositoryRoot(), "docs", "BENCHMARKS.md");
foreach (var suite in selected)
{
    var scratch = Path.Combine(Path.GetTempPath(), $"sluice-bench-{suite.Name}-{Guid.NewGuid():N}");
    Directory.CreateDirectory(scratch);
    try
    {
        Console.WriteLine($"== suite {suite.Name} (scratch {scratch})");
        var section = await suite.RunAsync(new BenchContext(scratch, Console.Out), CancellationToken.None);
        BenchmarksFile.WriteSection(output, suite.Name, section);
        Console.WriteLine(section);
    }
    finally
    {
        Directory.Delete(scratch, recursive: true);
    }
}

Console.WriteLine($"wrote {output}");
return 0;

static string FindRepositoryRoot()
{
    for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Sluice.slnx")))
        {
            return dir.FullName;
        }
    }

    throw new InvalidOperationException("run from inside the repository (Sluice.slnx not found)");
}
