using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

public sealed class RegistrationTests
{
    [Fact]
    public void AddSluiceCore_RegistersEngineAsSingletonAndSystemClock()
    {
        var services = new ServiceCollection();

        services.AddSluiceCore(o => o.ReadAheadMessages = 64);

        var engine = Assert.Single(services, d => d.ServiceType == typeof(ISubscriptionService));
        Assert.Equal(ServiceLifetime.Singleton, engine.Lifetime);
        Assert.Contains(services, d => d.ServiceType == typeof(TimeProvider) && d.ImplementationInstance == TimeProvider.System);
        Assert.Contains(services, d => d.ServiceType == typeof(IValidateOptions<DeliveryOptions>));
    }

    [Fact]
    public void AddSluiceCore_TimeProviderAlreadyRegistered_KeepsIt()
    {
        var services = new ServiceCollection();
        var clock = new Fakes.ManualTimeProvider();
        services.AddSingleton<TimeProvider>(clock);

        services.AddSluiceCore();

        Assert.Same(clock, Assert.Single(services, d => d.ServiceType == typeof(TimeProvider)).ImplementationInstance);
    }

    [Theory]
    [InlineData(0, 256, "session timeout")]
    [InlineData(30, 0, "read-ahead messages")]
    public void DeliveryOptions_OutOfRange_ValidateNamesTheValue(int sessionSeconds, int readAhead, string expected)
    {
        var options = new DeliveryOptions { ConsumerSessionTimeout = TimeSpan.FromSeconds(sessionSeconds), ReadAheadMessages = readAhead };

        Assert.Contains(expected, options.Validate());
        Assert.Null(new DeliveryOptions().Validate());
    }
}
