namespace Sluice.Server.Problems;

/// <summary>An RFC 9457 problem document.</summary>
internal sealed record ProblemResponse(string Type, string Title, int Status, string Detail, string Instance);
