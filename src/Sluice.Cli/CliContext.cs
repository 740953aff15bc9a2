using System.CommandLine;
using System.Text;
using Sluice.Cli.Connection;

namespace Sluice.Cli;

/// <summary>What a command runs with: the parsed command line, the server connection (made on first use, so commands
/// that need none never read a config file), standard streams and the clock.</summary>
internal sealed class CliContext(ParseResult parse, TimeProvider time) : IDisposable
{
    private static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);
    private SluiceClient? _client;
    private Stream? _stdout;
    private StreamWriter? _out;

    public ParseResult Parse { get; } = parse;

    public TimeProvider Time { get; } = time;

    public SluiceClient Client => _client ??= new SluiceClient(ClientSettings.Resolve(
        Parse.GetValue(GlobalOptions.Server), Parse.GetValue(GlobalOptions.Token), Parse.GetValue(GlobalOptions.Config), Environment.GetEnvironmentVariable));

    /// <summary>Standard output as bytes (raw message values); flush <see cref="Out"/> before writing here.</summary>
    public Stream Stdout => _stdout ??= Console.OpenStandardOutput();

    /// <summary>Standard output as text, buffered: commands flush after each batch of output.</summary>
    public TextWriter Out => _out ??= new StreamWriter(Stdout, Utf8NoBom, 64 * 1024) { AutoFlush = false, NewLine = "\n" };

    public TextWriter Error { get; } = Console.Error;

    public void Dispose()
    {
        try
        {
            _out?.Flush();
        }
        catch (IOException)
        {
            // stdout closed (a pipe into `head`): nothing more to say there.
        }

        _client?.Dispose();
    }
}
