namespace Sluice.Cli;

/// <summary>A failure to report on stderr (one message, no stack trace) and end the command with <see cref="ExitCode"/>.</summary>
internal sealed class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;

    public static CliException Usage(string message) => new(ExitCodes.Usage, message);
}
