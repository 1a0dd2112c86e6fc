using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ProxyScheduler;
using ProxyScheduler.Classification;
using ProxyScheduler.DependencyInjection.Internal;
using ProxyScheduler.Fleet;
using ProxyScheduler.Proxies;
using ProxyScheduler.Proxies.Internal;
using ProxyScheduler.Proxies.Sessions;
using ProxyScheduler.Scheduling.Internal;
using ProxyScheduler.Transport.Internal;

#pragma warning disable IDE0130 // Namespace does not match folder structure: DI entry points live in the DI namespace.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Registers <see cref="IRequestScheduler"/> in an <see cref="IServiceCollection"/>.</summary>
public static class ProxySchedulerServiceCollectionExtensions
{
    /// <summary>Registers the scheduler with default options; configure it further through the returned builder.</summary>
    /// <param name="services">The service collection.</param>
    /// <returns>The builder.</returns>
    public static IProxySchedulerBuilder AddProxyScheduler(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return AddCore(services, sectionPath: null);
    }

    /// <summary>Registers the scheduler and configures its options in code.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures the options.</param>
    /// <returns>The builder.</returns>
    public static IProxySchedulerBuilder AddProxyScheduler(this IServiceCollection services, Action<ProxySchedulerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        var builder = AddCore(services, sectionPath: null);
        services.Configure(configure);
        return builder;
    }

    /// <summary>
    /// Registers the scheduler and binds its options from a configuration section (usually
    /// <c>configuration.GetSection("ProxyScheduler")</c>). Validation errors name the keys under that section; a key that
    /// no option reads (a misspelt <c>MaxConcurency</c>) fails start-up too, naming the key.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The configuration section holding the options.</param>
    /// <returns>The builder.</returns>
    public static IProxySchedulerBuilder AddProxyScheduler(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var path = (configuration as IConfigurationSection)?.Path;
        var builder = AddCore(services, path);
        services.AddOptions<ProxySchedulerOptions>().Bind(configuration);
        services.AddSingleton<IValidateOptions<ProxySchedulerOptions>>(sp =>
            new UnknownConfigurationKeysValidator(configuration, path, sp.GetServices<ConfigurationSectionOwner>()));
        return builder;
    }

    private static ProxySchedulerBuilder AddCore(IServiceCollection services, string? sectionPath)
    {
        services.AddOptions<ProxySchedulerOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ProxySchedulerOptions>>(new ProxySchedulerOptionsValidator(sectionPath)));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ProxyIdentityRegistry>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<HttpClientFactoryOptions>, ProxyClientOptionsSetup>());

        services.AddHttpClient(TransportClientNames.Direct)
            .ConfigurePrimaryHttpMessageHandler(static () => new SocketsHttpHandler
            {
                // The scheduler follows redirects itself (each hop through the target host's limits), keeps cookies out
                // of a shared handler, and never falls back to a system proxy: "direct" means direct.
                AllowAutoRedirect = false,
                UseCookies = false,
                UseProxy = false,
                AutomaticDecompression = System.Net.DecompressionMethods.All,
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            .RemoveAllLoggers();

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IProxyProvider, ConfigurationProxyProvider>());
        services.TryAddSingleton<ISessionStore>(static sp => new InMemorySessionStore(sp.GetRequiredService<IOptions<ProxySchedulerOptions>>().Value.Sessions.MaxSessions));
        services.TryAddSingleton<IRequestScheduler>(static sp => new RequestScheduler(
            sp.GetRequiredService<IOptions<ProxySchedulerOptions>>().Value,
            sp.GetRequiredService<IHttpMessageHandlerFactory>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance,
            new SchedulerComponents(
                sp.GetRequiredService<ProxyIdentityRegistry>(),
                sp.GetServices<IProxyProvider>(),
                sp.GetServices<IProxySelector>(),
                sp.GetServices<IResponseClassifier>(),
                sp.GetService<IMeterFactory>(),
                sp.GetRequiredService<ISessionStore>(),
                sp.GetService<IFleetCoordinator>())));

        return new ProxySchedulerBuilder(services);
    }

    private sealed record ProxySchedulerBuilder(IServiceCollection Services) : IProxySchedulerBuilder;
}
