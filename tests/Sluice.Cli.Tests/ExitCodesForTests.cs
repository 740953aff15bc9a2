namespace Sluice.Cli.Tests;

/// <summary>The documented exit codes, written out again: a test must fail if the CLI's table changes.</summary>
internal static class ExitCodesForTests
{
    public const int ServerError = 1;
    public const int Usage = 2;
    public const int NotFound = 3;
    public const int Auth = 4;
    public const int Refused = 5;
    public const int Unavailable = 6;
}
