using System.CommandLine;
using Sluice.Cli.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary><c>--help</c> of every command of the real binary: exit 0, its usage line, its own options.</summary>
public sealed class HelpTests
{
    public static TheoryData<string> CommandPaths()
    {
        var data = new TheoryData<string>();
        foreach (var path in Paths())
        {
            data.Add(path);
        }

        return data;
    }

    private static IEnumerable<string> Paths()
    {
        return Walk(CliApp.Build(withServe: true), "");

        static IEnumerable<string> Walk(Command command, string path)
        {
            yield return path;
            foreach (var sub in command.Subcommands.Where(c => c.Name != "serve"))
            {
                foreach (var p in Walk(sub, (path + " " + sub.Name).Trim()))
                {
                    yield return p;
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(CommandPaths))]
    public async Task Help_OfEveryCommand_ExitsZeroWithItsUsage(string path)
    {
        using var cli = new CliRunner("127.0.0.1:1");
        var args = path.Split(' ', StringSplitOptions.RemoveEmptyEntries).Append("--help").ToArray();
        var result = await cli.RunAsync(args);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Usage:", result.Stdout, StringComparison.Ordinal);
        Assert.Contains(("sluice " + path).Trim(), result.Stdout, StringComparison.Ordinal);
        Assert.Contains("--server", result.Stdout, StringComparison.Ordinal); // the global options are on every command
        Assert.Equal("", result.Stderr);
    }

    [Fact]
    public void CommandTree_HasEveryCommandTheIssueAsksFor()
    {
        var paths = Paths().ToHashSet();
        string[] expected =
        [
            "produce", "consume", "tail", "bench", "completion",
            "topics list", "topics describe", "topics create", "topics update", "topics delete",
            "subscriptions list", "subscriptions describe", "subscriptions create", "subscriptions delete", "subscriptions seek",
            "webhooks list", "webhooks get", "webhooks create", "webhooks delete", "webhooks pause", "webhooks resume", "webhooks stats",
            "replicators list", "replicators get", "replicators create", "replicators update", "replicators delete",
            "replicators start", "replicators stop", "replicators restart", "replicators status", "replicators seek",
            "delayed list", "delayed cancel",
        ];
        Assert.Empty(expected.Except(paths));
    }

    [Fact]
    public async Task ServeHelp_IsTheServersUsage()
    {
        using var cli = new CliRunner();
        var result = await cli.RunAsync("serve", "--help");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("usage: sluice serve [--config <file>]", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("--data-dir", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_PrintsTheReleaseVersion()
    {
        using var cli = new CliRunner();
        var result = await cli.RunAsync("--version");
        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("0.1.0", result.Stdout, StringComparison.Ordinal);
    }
}
