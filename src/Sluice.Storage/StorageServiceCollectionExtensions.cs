using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Sluice.Core.Log;

namespace Sluice.Storage;

/// <summary>Registers the embedded log as the <see cref="IMessageLog"/>.</summary>
public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="EmbeddedLog"/> as the singleton <see cref="IMessageLog"/> (unless one is registered),
    /// opened on first use with the options the factory returns; bad options throw naming each bad value.
    /// Uses <see cref="ILoggerFactory"/> and <see cref="TimeProvider"/> from the container when present.
    /// </summary>
    public static IServiceCollection AddSluiceStorage(this IServiceCollection services, Func<IServiceProvider, StorageOptions> options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IMessageLog>(sp => EmbeddedLog.Open(
            options(sp), sp.GetService<ILoggerFactory>(), sp.GetService<TimeProvider>()));
        return services;
    }

    /// <summary>Registers the embedded log with fixed options.</summary>
    public static IServiceCollection AddSluiceStorage(this IServiceCollection services, StorageOptions? options = null)
        => services.AddSluiceStorage(_ => options ?? new StorageOptions());
}
