using System.Diagnostics.Metrics;
using ProxyScheduler.Classification;
using ProxyScheduler.Fleet;
using ProxyScheduler.Proxies;
using ProxyScheduler.Proxies.Internal;

namespace ProxyScheduler.Scheduling.Internal;

/// <summary>The services the scheduler is built from, beyond its options (resolved from DI).</summary>
internal sealed record SchedulerComponents(
    ProxyIdentityRegistry? Registry,
    IEnumerable<IProxyProvider> Providers,
    IEnumerable<IProxySelector> Selectors,
    IEnumerable<IResponseClassifier> Classifiers,
    IMeterFactory? MeterFactory,
    Proxies.Sessions.ISessionStore? SessionStore = null,
    IFleetCoordinator? Fleet = null)
{
    public static SchedulerComponents Empty { get; } = new(null, [], [], [], null);
}
