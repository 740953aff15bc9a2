namespace Sluice.Core.Tests.Fakes;

/// <summary>A service provider with nothing in it, for engine parts that take one but whose tests need no service.</summary>
internal sealed class EmptyServices : IServiceProvider
{
    public object? GetService(Type serviceType) => null;
}
