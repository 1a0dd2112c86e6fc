using Microsoft.Extensions.Logging;
using ProxyScheduler.Proxies;
using ProxyScheduler.Proxies.Internal;
using ProxyScheduler.Proxies.Sessions;
using ProxyScheduler.Proxies.Sessions.Internal;

namespace ProxyScheduler.Dispatch;

/// <summary>
/// Finds the proxy of an attempt when its host's turn has come: the session's bound proxy (or, in a fleet, the one every
/// worker would bind), a gateway identity of its own for a session or tag set, or the pool's selection; says why none
/// can serve (fail now, or wait), bounds a wait for a proxy that is unavailable (not merely busy), and parks the hosts
/// that wait for one until a proxy event wakes them. A plain collaborator of the <see cref="Dispatcher"/>, called under
/// its lock with <c>now</c> passed in; it starts a granted attempt and reschedules a woken host through the delegates
/// the dispatcher gives it.
/// </summary>
internal sealed class ProxyLeaser
{
    private static readonly TimeSpan WaitWarningInterval = TimeSpan.FromSeconds(30);
    private readonly ProxyPool? _pool;
    private readonly SessionBinder? _sessions;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Action<HostState, long> _start;
    private readonly Action<HostState, long> _schedule;
    private readonly Func<int> _waitingForProxy;
    private List<HostState> _parked = [];
    private List<HostState> _parkedSpare = [];
    private long _maxWaitTicks;
    private long _lastWaitWarning;
    private bool _waitUnavailable;

    /// <param name="pool">The pool; <see langword="null"/> when no proxies are configured (every attempt goes direct).</param>
    /// <param name="sessions">The session binder; <see langword="null"/> without a pool.</param>
    /// <param name="time">The clock.</param>
    /// <param name="logger">Where waits for a proxy are warned about.</param>
    /// <param name="start">Takes the host's and the global permit of a granted attempt (the dispatcher's).</param>
    /// <param name="schedule">Puts a woken host back in the ready ring (the dispatcher's).</param>
    /// <param name="waitingForProxy">Counts the requests waiting for a proxy (for the warning).</param>
    public ProxyLeaser(ProxyPool? pool, SessionBinder? sessions, TimeProvider time, ILogger logger, Action<HostState, long> start, Action<HostState, long> schedule, Func<int> waitingForProxy)
    {
        _pool = pool;
        _sessions = sessions;
        _time = time;
        _logger = logger;
        _start = start;
        _schedule = schedule;
        _waitingForProxy = waitingForProxy;
    }

    /// <summary>Gets the pool, if proxies are configured.</summary>
    public ProxyPool? Pool => _pool;

    /// <summary>Gets or sets a value indicating whether the scheduler is part of a fleet (a new session then binds by rendezvous).</summary>
    public bool InFleet { get; set; }

    /// <summary>Gets or sets the bound on waiting while no proxy is available, in timestamp ticks (0: unbounded).</summary>
    public long MaxWaitTicks
    {
        get => _maxWaitTicks;
        set => _maxWaitTicks = value;
    }

    /// <summary>Forgets the parked hosts (the dispatcher is disposed).</summary>
    public void ClearParked() => _parked.Clear();

    /// <summary>Takes the host's permit, a proxy's and the global one for one attempt, or says why not.</summary>
    public LeaseResult TryLease(HostState host, ProxyRequirement? requirement, List<ProxyNode>? excluded, SessionState? session, long now, out AttemptPermit lease, out long wakeAt, out Exception? failure)
    {
        _waitUnavailable = false;
        lease = default;
        wakeAt = long.MaxValue;
        failure = null;
        if (requirement?.IsDirect == true || (requirement is null && _pool is null))
        {
            _start(host, now);
            lease = new AttemptPermit(host);
            return LeaseResult.Granted;
        }

        if (_pool is null)
        {
            failure = new DispatchFailedException(RequestFailureReason.NoMatchingProxy,
                $"The request asks for a proxy ('{requirement}'), but no proxies are configured; use ProxyRequirement.Direct to send without one.");
            return LeaseResult.Failed;
        }

        var need = requirement ?? ProxyRequirement.Any;
        ProxyNode? node;
        var probe = false;
        if (session is not null && _sessions is not null)
        {
            if (session.NextStart > now)
            {
                // The session's own pacing.
                wakeAt = session.NextStart;
                return LeaseResult.Wait;
            }

            node = _sessions.Check(session, _pool, host, excluded, need, now, out var lost);
            if (lost)
            {
                failure = new DispatchFailedException(RequestFailureReason.SessionLost,
                    "The request's session lost its proxy (it failed, was blocked by the host, or left the pool), and Sessions:WhenBindingLost is Fail.");
                return LeaseResult.Failed;
            }

            // Bound, the session waits for its own proxy (a slot, or the end of its delay). In a fleet, a new session
            // binds where every worker would bind it (see ProxyPool.Rendezvous).
            node ??= InFleet ? _pool.Rendezvous(session.Key, need, host, excluded, now) : null;
            if (node is not null)
            {
                if (!_pool.IsAvailable(node, host, excluded, now, spread: false))
                {
                    wakeAt = node.NextStart > now ? node.NextStart : long.MaxValue;
                    return LeaseResult.Wait;
                }

                _start(host, now);
                _pool.OnGranted(node, host, probe: false, now);
                _sessions.OnGranted(session, node, now);
                lease = new AttemptPermit(host, node);
                return LeaseResult.Granted;
            }
        }

        switch (_pool.TrySelect(need, host, excluded, now, out node, out probe, out wakeAt))
        {
            case ProxyVerdict.Selected:
                if (node!.Endpoint.Gateway is { } gateway && !probe && (session is not null || need.Tags.Count > 0))
                {
                    // Through a gateway, a session (or a tag set) gets an identity of its own, rendered into the credentials.
                    var sessionId = session is null ? null : gateway.UseSessionKeyAsSessionId ? session.Key : gateway.Preset.NewSessionId();
                    node = _pool.Materialize(node, sessionId, need, now);
                    if (!_pool.IsAvailable(node, host, excluded, now, spread: false))
                    {
                        wakeAt = node.NextStart > now ? node.NextStart : long.MaxValue;
                        return LeaseResult.Wait;
                    }
                }

                _start(host, now);
                _pool.OnGranted(node!, host, probe, now);
                if (session is not null && !(probe && node!.Endpoint.Gateway is not null))
                {
                    // (A gateway's probe goes through its rotating identity, which no session binds to.)
                    _sessions?.OnGranted(session, node!, now);
                }

                lease = new AttemptPermit(host, node, probe);
                return LeaseResult.Granted;
            case ProxyVerdict.NoMatch:
                failure = new DispatchFailedException(RequestFailureReason.NoMatchingProxy, _pool.Count == 0
                    ? "The proxy pool is empty: its sources list no proxy. The request was not sent (proxied traffic never goes out directly)."
                    : $"No proxy of the pool meets the requirement '{need}' ({_pool.Count} proxies listed).");
                return LeaseResult.Failed;
            case ProxyVerdict.Exhausted:
                failure = new DispatchFailedException(RequestFailureReason.ProxiesUnavailable,
                    $"Every proxy meeting '{need}' is retired, draining, or has already failed this request.");
                return LeaseResult.Failed;
            case ProxyVerdict.Quarantined when _pool.FailFast:
                failure = new DispatchFailedException(RequestFailureReason.ProxiesUnavailable, _pool.InOutage
                    ? "The proxy pool is paused by an outage (most proxies are quarantined), and ProxyPool:WhenUnavailable is FailFast."
                    : $"Every proxy able to serve '{need}' is quarantined, and ProxyPool:WhenUnavailable is FailFast.");
                return LeaseResult.Failed;
            case ProxyVerdict.Quarantined or ProxyVerdict.Blocked:
                _waitUnavailable = true;
                return LeaseResult.Wait;
            default:
                return LeaseResult.Wait;
        }
    }

    /// <summary>
    /// Bounds the wait of a host's request for which no proxy able to serve is available (not merely busy), by
    /// <see cref="ProxyPoolOptions.MaxWaitForProxy"/>, counted from when the host's requests began to find none (an
    /// episode nobody waited through for a whole bound is over: a new one starts). Retried requests and requests that
    /// came later share the episode's clock, so a dead proxy list fails them all once the bound is past. Returns the
    /// failure once it is past; else brings <paramref name="wake"/> forward to when it will be, and warns (rarely).
    /// </summary>
    public DispatchFailedException? BoundWait(HostState host, ProxyRequirement? requirement, long now, ref long wake)
    {
        if (!_waitUnavailable || _maxWaitTicks <= 0)
        {
            return null;
        }

        if (host.NoProxySince == 0 || now - host.NoProxySeenAt > _maxWaitTicks)
        {
            host.NoProxySince = now;
        }

        host.NoProxySeenAt = now;
        var waitEnds = host.NoProxySince + _maxWaitTicks;
        if (now >= waitEnds)
        {
            return new DispatchFailedException(RequestFailureReason.ProxiesUnavailable,
                $"No proxy was available for {_time.GetElapsedTime(0, _maxWaitTicks).TotalSeconds:0.###} s (ProxyPool:MaxWaitForProxy): {_pool!.ExplainUnavailable(requirement ?? ProxyRequirement.Any, host, now)}.");
        }

        wake = Math.Min(wake, waitEnds);
        WarnWaitingForProxies(host, requirement, now);
        return null;
    }

    /// <summary>Logs, at most once per <see cref="WaitWarningInterval"/>, that requests wait for a proxy and why.</summary>
    private void WarnWaitingForProxies(HostState host, ProxyRequirement? requirement, long now)
    {
        if (_lastWaitWarning != 0 && _time.GetElapsedTime(_lastWaitWarning, now) < WaitWarningInterval)
        {
            return;
        }

        _lastWaitWarning = now;
        if (_logger.IsEnabled(LogLevel.Warning))
        {
            Log.WaitingForProxies(_logger, _waitingForProxy(), _pool!.ExplainUnavailable(requirement ?? ProxyRequirement.Any, host, now));
        }
    }

    /// <summary>Keeps a host whose waiters found no proxy out of the ready ring until a proxy event wakes it (see <see cref="WakeParked"/>).</summary>
    public void Park(HostState host, bool waitsForProxy)
    {
        // Without a pool no proxy event can wake a host: only its timer or a gate's freed slot (which remembers it).
        if (!host.Parked && _pool is not null && waitsForProxy)
        {
            host.Parked = true;
            _parked.Add(host);
        }
    }

    /// <summary>A proxy freed a slot, or the pool changed: every parked host gets another look.</summary>
    public void WakeParked(long now)
    {
        if (_parked.Count == 0)
        {
            return;
        }

        (_parked, _parkedSpare) = (_parkedSpare, _parked);
        foreach (var host in _parkedSpare)
        {
            host.Parked = false;
            _schedule(host, now);
        }

        _parkedSpare.Clear();
    }
}

/// <summary>What <see cref="ProxyLeaser.TryLease"/> found.</summary>
internal enum LeaseResult
{
    /// <summary>The attempt may start: its permits are taken.</summary>
    Granted,

    /// <summary>Not now: a proxy may serve later (or the session's pacing has not passed).</summary>
    Wait,

    /// <summary>Never, or not under the configured behaviour: the request fails.</summary>
    Failed,
}

