using System.Diagnostics.Metrics;
using ProxyScheduler.Classification.Internal;
using ProxyScheduler.Diagnostics.Internal;
using ProxyScheduler.Proxies;
using ProxyScheduler.Proxies.Internal;

namespace ProxyScheduler.Dispatch;

/// <summary>
/// What a host's state looks like from outside: the public <see cref="HostSnapshot"/> and the per-host gauges. Pure
/// functions of the state, called under the dispatcher's lock with <c>now</c> passed in; nothing here changes the state.
/// </summary>
internal static class DispatcherSnapshots
{
    /// <summary>The snapshot of <paramref name="host"/> at <paramref name="now"/> (timestamps) and <paramref name="utcNow"/> (wall clock).</summary>
    public static HostSnapshot Of(HostState host, long now, DateTimeOffset utcNow, TimeProvider time)
    {
        DateTimeOffset? next = host.NextStart > now ? utcNow + time.GetElapsedTime(now, host.NextStart) : null;
        return new HostSnapshot(host.Key.ToString(), host.Count + host.Held, host.InFlight, host.Settings.MaxConcurrency, next)
        {
            PausedUntil = host.PausedUntil > now ? utcNow + time.GetElapsedTime(now, host.PausedUntil) : null,
            RateLimit = host.Settings.StartsPerSecond,
            ConcurrencyLimit = host.Limit,
            FleetShares = host.Fleet ? host.Shares : null,
            AdaptiveDelay = host.Adaptive?.Rate is { } rate ? TimeSpan.FromSeconds(1 / rate) : null,
            DownUntil = host.Circuit is { IsDown: true } circuit ? utcNow + time.GetElapsedTime(now, Math.Max(now, circuit.DownUntil)) : null,
            DownReason = host.Circuit is { IsDown: true } down ? $"{down.Streak} attempts failed ({AttemptVerdict.Describe(down.LastKind)}) through {(down.ManyProxies ? "several proxies" : "one route")}; probed after each break" : null,
            WaitingForProxySince = host.NoProxySince != 0 && host.Count > 0 ? utcNow - time.GetElapsedTime(host.NoProxySince, now) : null,
        };
    }

    /// <summary>The snapshots of every host known now.</summary>
    public static List<HostSnapshot> Of(HostTable hosts, TimeProvider time)
    {
        var now = time.GetTimestamp();
        var utcNow = time.GetUtcNow();
        var list = new List<HostSnapshot>(hosts.Count);
        foreach (var host in hosts.All)
        {
            list.Add(Of(host, now, utcNow, time));
        }

        return list;
    }

    /// <summary>The value of the per-host <paramref name="gauge"/> for <paramref name="host"/>.</summary>
    public static int Measure(HostState host, HostGauge gauge) => gauge switch
    {
        HostGauge.QueueDepth => host.Count + host.Held,
        HostGauge.InFlight => host.InFlight,
        HostGauge.IsDown => host.Circuit is { IsDown: true } ? 1 : 0,
        _ => host.Limit,
    };

    /// <summary>The per-host <paramref name="gauge"/> of every host with metric tags (the allow-listed ones).</summary>
    public static List<Measurement<int>> Measure(HostTable hosts, HostGauge gauge)
    {
        var list = new List<Measurement<int>>();
        foreach (var host in hosts.All)
        {
            if (host.MetricTags is { } tags)
            {
                list.Add(new(Measure(host, gauge), tags));
            }
        }

        return list;
    }

    /// <summary>The requests queued for hosts whose waiters find no proxy available.</summary>
    public static int WaitingForProxy(HostTable hosts)
    {
        var count = 0;
        foreach (var host in hosts.All)
        {
            if (host.NoProxySince != 0)
            {
                count += host.Count;
            }
        }

        return count;
    }

    /// <summary>What requests wait for now: hosts down, and requests with no proxy available (with the pool's explanation).</summary>
    public static (int HostsDown, int WaitingForProxy, string? ProxyExplanation) Waits(HostTable hosts, ProxyPool? pool, long now)
    {
        var down = 0;
        HostState? waiting = null;
        foreach (var host in hosts.All)
        {
            if (host.Circuit is { IsDown: true })
            {
                down++;
            }

            if (host.NoProxySince != 0 && host.Count > 0)
            {
                waiting ??= host;
            }
        }

        return (down, WaitingForProxy(hosts), waiting is null || pool is null ? null : pool.ExplainUnavailable(ProxyRequirement.Any, waiting, now));
    }
}
