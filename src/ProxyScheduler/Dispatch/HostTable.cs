using ProxyScheduler.Politeness.Internal;

namespace ProxyScheduler.Dispatch;

/// <summary>
/// The hosts the dispatcher knows: created on first use with their resolved settings, forgotten once idle long enough
/// (or when too many idle ones pile up), so host state stays bounded whatever the number of hosts seen. A plain
/// collaborator of the <see cref="Dispatcher"/>, called under its lock with <c>now</c> passed in.
/// </summary>
internal sealed class HostTable
{
    private readonly Dictionary<HostKey, HostState> _hosts = [];
    private readonly Queue<HostState> _idle = new();
    private readonly HashSet<HostKey> _metricHosts = [];
    private readonly HostSettingsResolver _resolver;
    private readonly long _idleTimeoutTicks;

    /// <param name="resolver">Resolves a new host's settings.</param>
    /// <param name="idleTimeoutTicks">How long an idle host is kept, in timestamp ticks.</param>
    public HostTable(HostSettingsResolver resolver, long idleTimeoutTicks)
    {
        _resolver = resolver;
        _idleTimeoutTicks = idleTimeoutTicks;
    }

    /// <summary>Gets the number of hosts known now.</summary>
    public int Count => _hosts.Count;

    /// <summary>Gets the hosts known now.</summary>
    public Dictionary<HostKey, HostState>.ValueCollection All => _hosts.Values;

    /// <summary>Gets a value indicating whether some hosts have per-host gauges (<see cref="ProxySchedulerOptions.PerHostMetrics"/>).</summary>
    public bool HasPerHostMetrics => _resolver.HasPerHostMetrics;

    /// <summary>The known host of <paramref name="key"/>, if any.</summary>
    public bool TryGet(in HostKey key, out HostState host) => _hosts.TryGetValue(key, out host!);

    public HostState GetOrCreate(in HostKey key, Dispatcher owner, bool fleet)
    {
        if (!_hosts.TryGetValue(key, out var host))
        {
            var settings = _resolver.Resolve(key);
            host = new HostState(key, settings) { Owner = owner, Adaptive = settings.Adaptive ? new AdaptiveLimit(settings.MaxConcurrency) : null, Fleet = fleet };
            if (_resolver.HasPerHostMetrics && _resolver.WantsMetrics(key)
                && (_metricHosts.Contains(key) || _metricHosts.Count < SchedulerDefaults.MaxMetricHosts))
            {
                _metricHosts.Add(key);
                host.MetricTags =
                [
                    new("server.address", key.Host),
                    new("server.port", key.Port),
                ];
            }

            _hosts.Add(key, host);
        }

        return host;
    }

    public void TrackIdle(HostState host, long now)
    {
        if (!host.IsIdle)
        {
            return;
        }

        host.IdleSince = now;
        if (!host.InIdleQueue)
        {
            host.InIdleQueue = true;
            _idle.Enqueue(host);
        }
    }

    /// <summary>Forgets hosts that have been idle long enough and whose delay has passed, so host state stays bounded.</summary>
    public void SweepIdle(long now)
    {
        while (_idle.TryPeek(out var host))
        {
            if (!host.IsIdle)
            {
                _idle.Dequeue();
                host.InIdleQueue = false;
                continue;
            }

            var old = now - host.IdleSince >= _idleTimeoutTicks;
            var overCap = _idle.Count > SchedulerDefaults.MaxIdleHosts;
            if (!(old || overCap) || host.NextStart > now)
            {
                return;
            }

            _idle.Dequeue();
            host.InIdleQueue = false;
            host.Removed = true;
            host.Timer?.Dispose();
            host.Timer = null;
            _hosts.Remove(host.Key);
        }
    }
}
