using System.Diagnostics;
using Sluice.Cli.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary>
/// The generated completion scripts, run in the real shells (bash, zsh, fish; scripts/test installs them): what each
/// offers after the words typed so far.
/// </summary>
public sealed class CompletionTests
{
    [Theory]
    [InlineData("sluice ", "topics")]
    [InlineData("sluice to", "topics")]
    [InlineData("sluice topics ", "describe")]
    [InlineData("sluice subs ", "seek")]                                   // an alias leads to the same commands
    [InlineData("sluice --server 127.0.0.1:9 topics l", "list")]          // an option and its value are skipped
    [InlineData("sluice consume a/b/c --format ", "raw")]                  // an option's fixed choices
    [InlineData("sluice consume a/b/c --f", "--from")]                     // options of the command being typed
    [InlineData("sluice webhooks create --", "--url")]
    [InlineData("sluice topics list --", "--token")]                       // global options everywhere
    public async Task Bash_Completes(string line, string expected)
    {
        var offered = await CompleteAsync("bash", line);
        Assert.Contains(expected, offered);
    }

    [Fact]
    public async Task Bash_AfterAnOptionWithChoices_OffersOnlyThem()
    {
        var offered = await CompleteAsync("bash", "sluice consume a/b/c --via ");
        Assert.Equal(["pull", "sse"], offered.Order());
    }

    [Theory]
    [InlineData("sluice to", "topics")]
    [InlineData("sluice subs ", "describe")]
    [InlineData("sluice consume a/b/c --format ", "json")]
    public async Task Zsh_Completes(string line, string expected)
    {
        Assert.Contains(expected, await CompleteAsync("zsh", line));
    }

    [Theory]
    [InlineData("sluice to", "topics")]
    [InlineData("sluice topics ", "update")]
    [InlineData("sluice subs ", "seek")]
    [InlineData("sluice --server x topics ", "list")]
    [InlineData("sluice consume a/b/c --format ", "raw")]
    [InlineData("sluice consume a/b/c --fr", "--from")]
    public async Task Fish_Completes(string line, string expected)
    {
        Assert.Contains(expected, await CompleteAsync("fish", line));
    }

    [Fact]
    public async Task UnknownShell_ExitsUsage()
    {
        using var cli = new CliRunner();
        Assert.Equal(ExitCodesForTests.Usage, (await cli.RunAsync("completion", "powershell")).ExitCode);
    }

    // Generates the script with the real binary, then asks the real shell what it offers for the line.
    private static async Task<string[]> CompleteAsync(string shell, string line)
    {
        using var cli = new CliRunner();
        var generated = await cli.RunAsync("completion", shell);
        Assert.True(generated.ExitCode == 0, generated.ToString());
        var script = Path.Combine(cli.Home, "completion." + shell);
        await File.WriteAllTextAsync(script, generated.Stdout);

        var words = line.Split(' ');
        var array = string.Join(' ', words.Select(w => "'" + w + "'"));
        var program = shell switch
        {
            "bash" => $"source '{script}'; COMP_WORDS=({array}); COMP_CWORD={words.Length - 1}; _sluice; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            // The zsh script hands the words to the bash function through bashcompinit, in sh emulation (0-based arrays).
            "zsh" => $"source '{script}'; run() {{ emulate -L sh; setopt kshglob noshglob braceexpand; COMP_WORDS=({array}); COMP_CWORD={words.Length - 1}; _sluice; printf '%s\\n' \"${{COMPREPLY[@]}}\"; }}; run",
            _ => $"source '{script}'; complete -C '{line}'",
        };
        var info = new ProcessStartInfo(shell) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = cli.Home };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(program);
        info.Environment["HOME"] = cli.Home;
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        Assert.True(process.ExitCode == 0, $"{shell} exited {process.ExitCode}: {await error}");

        // fish prints "candidate<TAB>description".
        return (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')[0]).ToArray();
    }
}
