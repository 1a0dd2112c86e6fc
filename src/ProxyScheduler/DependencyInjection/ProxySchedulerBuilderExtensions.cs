using ProxyScheduler;
using ProxyScheduler.Scheduling.Internal;

#pragma warning disable IDE0130 // Namespace does not match folder structure: DI entry points live in the DI namespace.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Configuration methods of <see cref="IProxySchedulerBuilder"/>.</summary>
public static class ProxySchedulerBuilderExtensions
{
    /// <summary>Configures the scheduler's options.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Configures the options.</param>
    /// <returns>The builder.</returns>
    public static IProxySchedulerBuilder Configure(this IProxySchedulerBuilder builder, Action<ProxySchedulerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.Configure(configure);
        return builder;
    }

    /// <summary>
    /// Overrides the limits of the hosts matching <paramref name="pattern"/>: <c>example.com</c>,
    /// <c>*.example.com</c>, an IP address, each optionally with <c>:port</c>. Settings not set here are inherited
    /// from <see cref="ProxySchedulerOptions.DefaultHost"/>. Calling it again for the same pattern adds to the
    /// earlier settings.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="pattern">The host pattern.</param>
    /// <param name="configure">Configures the host's limits.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException"><paramref name="pattern"/> is not a valid host pattern.</exception>
    public static IProxySchedulerBuilder ConfigureHost(this IProxySchedulerBuilder builder, string pattern, Action<HostOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        _ = HostPattern.Parse(pattern, nameof(pattern));
        builder.Services.Configure<ProxySchedulerOptions>(options =>
        {
            if (!options.Hosts.TryGetValue(pattern, out var host) || host is null)
            {
                host = new HostOptions();
                options.Hosts[pattern] = host;
            }

            configure(host);
        });
        return builder;
    }
}
