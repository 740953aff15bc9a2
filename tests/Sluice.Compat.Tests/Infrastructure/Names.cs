namespace Sluice.Compat.Tests.Infrastructure;

/// <summary>Fresh names per test, so tests sharing a server never see each other's messages.</summary>
public static class Names
{
    public static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..12];
}
