using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using ProxyScheduler.Proxies;

namespace ProxyScheduler.Diagnostics.Internal;

/// <summary>
/// The health of the scheduler's proxy pool: <c>Healthy</c> while at least <see cref="ProxyPoolHealthCheckOptions.DegradedBelow"/>
/// of its proxies are healthy, <c>Degraded</c> below that, the failure status when none can serve. Reports counts
/// only: never an address, a credential or a session key.
/// </summary>
internal sealed class ProxyPoolHealthCheck : IHealthCheck
{
    private readonly IRequestScheduler _scheduler;
    private readonly ProxyPoolHealthCheckOptions _options;
    private readonly bool _usesProxies;

    /// <summary>Creates the check of <paramref name="scheduler"/>'s snapshot; <paramref name="usesProxies"/> says whether it was configured with proxies at all.</summary>
    public ProxyPoolHealthCheck(IRequestScheduler scheduler, ProxyPoolHealthCheckOptions options, bool usesProxies)
    {
        _scheduler = scheduler;
        _options = options;
        _usesProxies = usesProxies;
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        SchedulerSnapshot snapshot;
        try
        {
            snapshot = _scheduler.GetSnapshot();
        }
        catch (ObjectDisposedException)
        {
            return Task.FromResult(new HealthCheckResult(context.Registration.FailureStatus, "The scheduler was disposed."));
        }

        int healthy = 0, quarantined = 0, retired = 0, draining = 0;
        foreach (var proxy in snapshot.Proxies)
        {
            switch (proxy.State)
            {
                case ProxyHealthState.Healthy: healthy++; break;
                case ProxyHealthState.Quarantined: quarantined++; break;
                case ProxyHealthState.Retired: retired++; break;
                default: draining++; break;
            }
        }

        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["proxies.healthy"] = healthy,
            ["proxies.quarantined"] = quarantined,
            ["proxies.retired"] = retired,
            ["proxies.draining"] = draining,
            ["requests.pending"] = snapshot.Pending,
            ["requests.queued"] = snapshot.Queued,
            ["requests.in_flight"] = snapshot.InFlight,
            ["sessions"] = snapshot.Sessions,
            ["requests.waiting_for_proxy"] = snapshot.WaitingForProxy,
            ["hosts.down"] = snapshot.HostsDown,
        };

        var total = healthy + quarantined + retired;
        if (!_usesProxies && snapshot.Proxies.Count == 0)
        {
            return Task.FromResult(HealthCheckResult.Healthy("No proxy pool is configured; requests go direct.", data));
        }

        if (healthy == 0)
        {
            var why = total == 0
                ? "The proxy pool is empty: no proxy can serve a request."
                : string.Create(CultureInfo.InvariantCulture, $"No proxy can serve: 0 of {total} healthy ({quarantined} quarantined, {retired} retired).");
            if (snapshot.WaitingForProxyReason is { } reason)
            {
                why += string.Create(CultureInfo.InvariantCulture, $" {snapshot.WaitingForProxy} requests wait for a proxy: {reason}.");
            }

            return Task.FromResult(new HealthCheckResult(context.Registration.FailureStatus, why, data: data));
        }

        var share = (double)healthy / total;
        var description = string.Create(CultureInfo.InvariantCulture, $"{healthy} of {total} proxies healthy ({share:P0}); {quarantined} quarantined, {retired} retired.");
        if (snapshot.WaitingForProxy > 0)
        {
            // Some proxies are healthy, but not for every waiting request (blocked by its host, or a requirement only
            // quarantined ones meet): degraded, and it says why.
            description += string.Create(CultureInfo.InvariantCulture, $" {snapshot.WaitingForProxy} requests wait for a proxy: {snapshot.WaitingForProxyReason}.");
            return Task.FromResult(HealthCheckResult.Degraded(description, data: data));
        }

        return Task.FromResult(share < _options.DegradedBelow
            ? HealthCheckResult.Degraded(description, data: data)
            : HealthCheckResult.Healthy(description, data));
    }
}
