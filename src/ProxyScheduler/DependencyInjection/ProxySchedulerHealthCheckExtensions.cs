using Microsoft.Extensions.Diagnostics.HealthChecks;
using ProxyScheduler;
using ProxyScheduler.Diagnostics;
using ProxyScheduler.Diagnostics.Internal;

#pragma warning disable IDE0130 // Namespace does not match folder structure: DI entry points live in the DI namespace.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Registers the health check of the scheduler's proxy pool.</summary>
public static class ProxySchedulerHealthCheckExtensions
{
    /// <summary>The default name of the proxy pool's health check.</summary>
    public const string DefaultName = "proxyscheduler";

    /// <summary>
    /// Adds the proxy pool's health check to the application's health checks (<c>services.AddHealthChecks()</c>):
    /// <c>Healthy</c> while at least <see cref="ProxyPoolHealthCheckOptions.DegradedBelow"/> of the proxies are healthy
    /// (or when no proxies are configured), <c>Degraded</c> below that, <paramref name="failureStatus"/> when no proxy can
    /// serve. Its data are counts (proxies by state, requests pending, queued and in flight, sessions); never an
    /// address, a credential or a session key.
    /// </summary>
    /// <param name="builder">The scheduler's builder.</param>
    /// <param name="name">The name of the check.</param>
    /// <param name="configure">Sets the thresholds.</param>
    /// <param name="failureStatus">The status when no proxy can serve; <see cref="HealthStatus.Unhealthy"/> when <see langword="null"/>.</param>
    /// <param name="tags">Tags to filter checks by (for example in <c>MapHealthChecks</c>).</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="ProxyPoolHealthCheckOptions.DegradedBelow"/> is not between 0 and 1.</exception>
    public static IProxySchedulerBuilder AddHealthCheck(
        this IProxySchedulerBuilder builder,
        string name = DefaultName,
        Action<ProxyPoolHealthCheckOptions>? configure = null,
        HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddHealthChecks().AddProxyScheduler(name, configure, failureStatus, tags);
        return builder;
    }

    /// <summary>Adds the proxy pool's health check; see <see cref="AddHealthCheck"/>.</summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The name of the check.</param>
    /// <param name="configure">Sets the thresholds.</param>
    /// <param name="failureStatus">The status when no proxy can serve; <see cref="HealthStatus.Unhealthy"/> when <see langword="null"/>.</param>
    /// <param name="tags">Tags to filter checks by.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="ProxyPoolHealthCheckOptions.DegradedBelow"/> is not between 0 and 1.</exception>
    public static IHealthChecksBuilder AddProxyScheduler(
        this IHealthChecksBuilder builder,
        string name = DefaultName,
        Action<ProxyPoolHealthCheckOptions>? configure = null,
        HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var options = new ProxyPoolHealthCheckOptions();
        configure?.Invoke(options);
        if (!(options.DegradedBelow is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(configure), options.DegradedBelow,
                $"ProxyPoolHealthCheckOptions.DegradedBelow of the health check '{name}' must be between 0 and 1.");
        }

        return builder.Add(new HealthCheckRegistration(
            name,
            services =>
            {
                // The composition root knows the concrete scheduler: the check itself reads only its snapshot.
                var scheduler = services.GetRequiredService<IRequestScheduler>();
                return new ProxyPoolHealthCheck(scheduler, options, usesProxies: scheduler is ProxyScheduler.Scheduling.Internal.RequestScheduler { UsesProxies: true });
            },
            failureStatus,
            tags));
    }
}
