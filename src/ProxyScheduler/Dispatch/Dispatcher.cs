using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ProxyScheduler.Classification;
using ProxyScheduler.Classification.Internal;
using ProxyScheduler.Fleet;
using ProxyScheduler.Politeness.Internal;
using ProxyScheduler.Proxies;
using ProxyScheduler.Proxies.Internal;
using ProxyScheduler.Proxies.Sessions;
using ProxyScheduler.Proxies.Sessions.Internal;

namespace ProxyScheduler.Dispatch;

/// <summary>
/// Grants the right to start an attempt: a permit of the target host, a permit of a proxy (unless the attempt goes
/// direct) and a global permit, all taken at the same instant under one lock, never one held while waiting for another.
/// The dispatcher owns that lock and the entry points (acquire, release, cancel, gates, proxies, the fleet's answers,
/// snapshots); under it, its collaborators do the work: the <see cref="DispatchLoop"/> (ready ring, permits, timers),
/// the <see cref="HostTable"/>, the <see cref="ProxyLeaser"/>, the <see cref="PostProcessingGates"/>, the
/// <see cref="HostFleetShares"/>, the <see cref="HostHealthTracker"/> and <see cref="HostPacing"/>. Delays run on the
/// injected <see cref="TimeProvider"/>.
/// </summary>
internal sealed class Dispatcher : IFleetListener, IDisposable
{
    private readonly SyncLock _lock = new();
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ProxyPool? _pool;
    private readonly HostTable _hosts;
    private readonly DispatchLoop _loop;
    private readonly ProxyLeaser _leaser;
    private readonly PostProcessingGates _gates;
    private readonly HostFleetShares _shares = new();
    private readonly HostHealthTracker _health;
    private readonly HostPacing _pacing;
    private bool _disposed;

    public Dispatcher(int globalLimit, HostSettingsResolver resolver, TimeProvider time, ProxyPool? pool = null, SessionBinder? sessions = null, ILogger? logger = null)
    {
        _logger = logger ?? NullLogger.Instance;
        _time = time;
        _pool = pool;
        _hosts = new HostTable(resolver, time.ToTimestampTicks(SchedulerDefaults.HostIdleTimeout));
        _health = new HostHealthTracker(time, _logger, pool);
        _gates = new PostProcessingGates(_lock, time, () => _disposed);
        _pacing = new HostPacing(time, _logger);
        _loop = new DispatchLoop(globalLimit, time, _hosts, _gates, _shares, _pacing, pool is not null);
        _leaser = new ProxyLeaser(pool, sessions, time, _logger, _loop.Start, _loop.Schedule, () => DispatcherSnapshots.WaitingForProxy(_hosts));
        _loop.Leaser = _leaser;
        _gates.Loop = _loop;
    }

    /// <summary>Gets the bound on waiting while no proxy is available (<see cref="ProxyPoolOptions.MaxWaitForProxy"/>); infinite by default in bare tests.</summary>
    public TimeSpan MaxWaitForProxy
    {
        get => _leaser.MaxWaitTicks <= 0 ? Timeout.InfiniteTimeSpan : _time.GetElapsedTime(0, _leaser.MaxWaitTicks);
        init => _leaser.MaxWaitTicks = value == Timeout.InfiniteTimeSpan ? 0 : Math.Max(1, _time.ToTimestampTicks(value));
    }

    public int GlobalLimit => _loop.GlobalLimit;

    /// <summary>Gets the gates of post-processing runs (they take this dispatcher's lock themselves).</summary>
    public PostProcessingGates Gates => _gates;

    /// <summary>Gets the rules that judge a host down; the defaults unless the scheduler sets them.</summary>
    public HostHealthOptions HostHealth
    {
        get => _health.Options;
        init => _health.Options = value;
    }

    /// <summary>Gets or sets the metrics the dispatcher counts host circuits on; none in bare tests.</summary>
    public Diagnostics.Internal.SchedulerMetrics? Metrics
    {
        get => _health.Metrics;
        init => _health.Metrics = value;
    }

    /// <summary>Gets a value indicating whether proxies are configured: then a request without a requirement goes through a proxy.</summary>
    public bool HasPool => _pool is not null;

    /// <summary>Waits for a permit of <paramref name="key"/>'s host and a global permit, for an attempt with the pool's default requirement.</summary>
    public ValueTask<AttemptPermit> AcquireAsync(HostKey key, int priority, CancellationToken cancellationToken) =>
        AcquireAsync(key, priority, null, null, null, cancellationToken);

    /// <inheritdoc cref="AcquireAsync(HostKey, int, ProxyRequirement?, List{ProxyNode}?, SessionState?, CancellationToken)"/>
    public ValueTask<AttemptPermit> AcquireAsync(HostKey key, int priority, ProxyRequirement? requirement, List<ProxyNode>? excluded, CancellationToken cancellationToken) =>
        AcquireAsync(key, priority, requirement, excluded, null, cancellationToken);

    /// <summary>Waits for a permit of <paramref name="key"/>'s host, a proxy meeting <paramref name="requirement"/> (not one of <paramref name="excluded"/>) and a global permit.</summary>
    /// <exception cref="OperationCanceledException">The token was canceled while waiting; the waiter left the queue.</exception>
    /// <exception cref="ObjectDisposedException">The dispatcher was disposed.</exception>
    /// <exception cref="DispatchFailedException">No proxy can ever serve the attempt (or, fail-fast, none can now).</exception>
    public ValueTask<AttemptPermit> AcquireAsync(HostKey key, int priority, ProxyRequirement? requirement, List<ProxyNode>? excluded, SessionState? session, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<AttemptPermit>(cancellationToken);
        }

        AsyncWaiter waiter;
        lock (_lock)
        {
            var host = EnterLocked(key, out var now);

            // Fast path: nothing queued for this host and every limit has room.
            if (_loop.CanStartNow(host, now))
            {
                switch (_leaser.TryLease(host, requirement, excluded, session, now, out var lease, out _, out var failure))
                {
                    case LeaseResult.Granted:
                        return new ValueTask<AttemptPermit>(lease);
                    case LeaseResult.Failed:
                        return ValueTask.FromException<AttemptPermit>(failure!);
                }
            }

            waiter = new AsyncWaiter(this) { Requirement = requirement, Excluded = excluded, Session = session };
            _loop.EnqueueLocked(waiter, host, priority, now);
        }

        return waiter.Task.IsCompleted ? new ValueTask<AttemptPermit>(waiter.Task) : WaitAsync(waiter, cancellationToken);
    }

    /// <summary>
    /// Queues a waiter that starts its own work on the thread pool when granted (at once when every limit has room).
    /// Such waiters leave the queues by <see cref="CancelGroup"/>, not by a token of their own.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The dispatcher was disposed.</exception>
    public void Enqueue(DeferredWaiter waiter, HostKey key, int priority)
    {
        lock (_lock)
        {
            var host = EnterLocked(key, out var now);
            waiter.QueuedAt = now;
            if (_loop.CanStartNow(host, now) && waiter.Gate is not { Free: 0 })
            {
                switch (_leaser.TryLease(host, waiter.Requirement, waiter.Excluded, waiter.Session, now, out var lease, out _, out var failure))
                {
                    case LeaseResult.Granted:
                        waiter.Host = host;
                        waiter.State = Waiter.Granted;
                        PostProcessingGates.TakeSlot(waiter);
                        waiter.OnGranted(lease);
                        return;
                    case LeaseResult.Failed:
                        waiter.Host = host;
                        waiter.State = Waiter.Failed;
                        waiter.OnFailed(failure!);
                        return;
                }
            }

            _loop.EnqueueLocked(waiter, host, priority, now);
        }
    }

    /// <summary>Removes every queued waiter of <paramref name="group"/> at once, and tells each it was canceled.</summary>
    public void CancelGroup(object group, CancellationToken cancellationToken)
    {
        var canceled = new List<Waiter>();
        lock (_lock)
        {
            _loop.CancelGroup(group, canceled, _time.GetTimestamp());
        }

        foreach (var waiter in canceled)
        {
            waiter.OnCanceled(cancellationToken);
        }
    }

    /// <summary>
    /// Ends an attempt: frees its permits, learns from its outcome (<paramref name="outcome"/> is <see langword="null"/>
    /// for a canceled attempt, never charged to the proxy), and dispatches what it makes possible. Returns <see langword="true"/> when its failure at
    /// the target was contradicted by other proxies' answers from the host: the (proxy, host) pair's failure, which the
    /// request's retries count against the proxy budget rather than the target's.
    /// </summary>
    public bool Release(AttemptPermit lease, ResponseClass? outcome = null, long latencyTicks = 0, SessionState? session = null, AttemptVerdict verdict = default)
    {
        var host = lease.Host;
        var contradicted = false;
        lock (_lock)
        {
            host.InFlight--;
            _loop.InFlight--;
            var now = _time.GetTimestamp();
            if (host.Adaptive is { } adaptive && outcome is { } judgedClass)
            {
                _pacing.Learn(host.Key, adaptive, judgedClass, lease.Seq, host.StartSeq, latencyTicks, now);
            }

            if (outcome is { } judged)
            {
                contradicted = _health.Learn(host, lease.Proxy, judged, verdict, now, out var giveUp);
                if (giveUp is not null)
                {
                    var failed = _loop.FailQueuedLocked(host, RequestFailureReason.HostUnavailable, giveUp, now);
                    Log.HostUnavailableFailed(_logger, host.Key.ToString(), failed);
                }
            }
            if (lease.Proxy is { } proxy)
            {
                _pool!.OnReleased(proxy, host, lease.IsProbe, outcome, latencyTicks, now, verdict, contradicted);
                if (session is not null)
                {
                    SessionBinder.OnReleased(session, proxy, outcome);
                }

                _leaser.WakeParked(now);
            }

            if (_disposed)
            {
                return contradicted;
            }

            if (host.Fleet)
            {
                _shares.ReturnSpare(host, now);
            }

            _loop.Reschedule(host, now);
        }

        return contradicted;
    }

    public SchedulerCounts GetCounts()
    {
        lock (_lock)
        {
            return new SchedulerCounts(_loop.Queued, _loop.InFlight);
        }
    }

    /// <summary>Replaces the pool's proxies (see <see cref="ProxyPool.Update"/>) and wakes the hosts that waited for one.</summary>
    /// <exception cref="InvalidOperationException">Too many proxies; nothing changed.</exception>
    public (int Added, int Removed) UpdateProxies(IEnumerable<ProxyEndpoint> endpoints)
    {
        lock (_lock)
        {
            var result = _pool!.Update(endpoints);
            if (!_disposed)
            {
                WakeParked(_time.GetTimestamp());
            }

            return result;
        }
    }

    /// <summary>Whether a retry of a request could go through a proxy it has not failed with yet.</summary>
    public bool HasUntriedProxy(ProxyRequirement? requirement, List<ProxyNode>? excluded, bool healthyOnly = false, HostKey? host = null)
    {
        lock (_lock)
        {
            return _pool is not null && _pool.HasCandidate(requirement ?? ProxyRequirement.Any, excluded, healthyOnly, host, _time.GetTimestamp());
        }
    }

    /// <summary>Gets the presets of gateways that send the session key as their session id (its rules are checked at submission).</summary>
    public IReadOnlyList<GatewayPreset> SessionKeyPresets()
    {
        lock (_lock)
        {
            return _pool is null ? [] : _pool.SessionKeyPresets();
        }
    }

    public IReadOnlyList<ProxySnapshot> GetProxySnapshots()
    {
        lock (_lock)
        {
            return _pool is null ? [] : _pool.GetSnapshots();
        }
    }

    /// <inheritdoc/>
    public void AttachFleet(IFleetCoordinator fleet, TimeSpan shareLinger)
    {
        lock (_lock)
        {
            _shares.Attach(fleet, _time.ToTimestampTicks(shareLinger));
            _leaser.InFleet = true;
            if (_pool is not null)
            {
                _pool.Fleet = fleet;
            }
        }
    }

    /// <inheritdoc/>
    public void GrantShares(HostKey key, int granted, bool contended, int fairShare)
    {
        lock (_lock)
        {
            if (_disposed || !_hosts.TryGet(key, out var host) || !host.Fleet)
            {
                _shares.ReturnUnknown(key, granted);
                return;
            }

            var now = _time.GetTimestamp();
            _shares.Granted(host, granted, contended, fairShare, now);
            _loop.Reschedule(host, now);
        }
    }

    /// <inheritdoc/>
    public void GrantProxyShares(string proxyId, int granted)
    {
        lock (_lock)
        {
            if (_disposed || _pool is null)
            {
                if (granted > 0)
                {
                    _shares.Coordinator?.ReturnProxyShares(proxyId, granted);
                }

                return;
            }

            if (_pool.ChangeProxyShares(proxyId, granted, answer: true))
            {
                WakeParked(_time.GetTimestamp());
            }
        }
    }

    /// <inheritdoc/>
    public void GrantProxyTokens(string proxyId, int granted)
    {
        lock (_lock)
        {
            if (!_disposed && _pool is not null && _pool.GrantProxyTokens(proxyId, granted))
            {
                WakeParked(_time.GetTimestamp());
            }
        }
    }

    /// <inheritdoc/>
    public void RevokeProxyShares(string proxyId, int count)
    {
        lock (_lock)
        {
            _pool?.ChangeProxyShares(proxyId, -count, answer: false);
        }
    }

    /// <inheritdoc/>
    public void RevokeShares(HostKey key, int count)
    {
        lock (_lock)
        {
            if (_hosts.TryGet(key, out var host) && host.Fleet)
            {
                HostFleetShares.Revoked(host, count);
                var now = _time.GetTimestamp();
                _loop.Schedule(host, now);
                _hosts.TrackIdle(host, now);
            }
        }
    }

    /// <inheritdoc/>
    public void SetContention(HostKey key, bool contended, int fairShare)
    {
        lock (_lock)
        {
            if (_hosts.TryGet(key, out var host) && host.Fleet)
            {
                _shares.SetContention(host, contended, fairShare, _time.GetTimestamp());
            }
        }
    }

    /// <inheritdoc/>
    public void SweepShares()
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            _pool?.SweepProxyShares(now, _shares.LingerTicks);
            foreach (var host in _shares.Sweep(now))
            {
                _hosts.TrackIdle(host, now);
            }
        }
    }

    /// <inheritdoc/>
    public void ApplyFleetPause(HostKey key, DateTimeOffset until)
    {
        lock (_lock)
        {
            if (_disposed || until <= _time.GetUtcNow())
            {
                return;
            }

            var host = _hosts.GetOrCreate(key, this, _shares.IsAttached);
            var now = _time.GetTimestamp();
            if (_pacing.FleetPauseEnd(until, host.NextStart, now) is { } end)
            {
                host.NextStart = end;
                host.PausedUntil = end;
            }

            _hosts.TrackIdle(host, now);
        }
    }

    /// <inheritdoc/>
    public int FailQueued(HostKey key, RequestFailureReason reason, string message)
    {
        lock (_lock)
        {
            return _hosts.TryGet(key, out var host) ? _loop.FailQueuedLocked(host, reason, message, _time.GetTimestamp()) : 0;
        }
    }

    /// <inheritdoc/>
    public void ApplyProxyEvent(ProxyFleetEvent change)
    {
        lock (_lock)
        {
            if (_disposed || _pool is null)
            {
                return;
            }

            var now = _time.GetTimestamp();
            _pool.ApplyFleetEvent(change, now);
            WakeParked(now);
        }
    }

    /// <inheritdoc/>
    public void GrantTokens(HostKey key, int granted)
    {
        lock (_lock)
        {
            if (_disposed || !_hosts.TryGet(key, out var host) || !host.Fleet)
            {
                return;
            }

            HostFleetShares.TokensGranted(host, granted);
            var now = _time.GetTimestamp();
            _loop.Reschedule(host, now);
        }
    }

    /// <summary>The per-host gauge of the allow-listed hosts the dispatcher knows now (<see cref="ProxySchedulerOptions.PerHostMetrics"/>).</summary>
    public IEnumerable<System.Diagnostics.Metrics.Measurement<int>> MeasureHosts(Diagnostics.Internal.HostGauge gauge)
    {
        if (!_hosts.HasPerHostMetrics)
        {
            return [];
        }

        lock (_lock)
        {
            return DispatcherSnapshots.Measure(_hosts, gauge);
        }
    }

    public IReadOnlyList<HostSnapshot> GetHostSnapshots(out int queued, out int inFlight)
    {
        lock (_lock)
        {
            queued = _loop.Queued;
            inFlight = _loop.InFlight;
            return DispatcherSnapshots.Of(_hosts, _time);
        }
    }

    /// <summary>The host of a new waiter (forgetting idle ones first); throws when the dispatcher was disposed.</summary>
    private HostState EnterLocked(in HostKey key, out long now)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        now = _time.GetTimestamp();
        _hosts.SweepIdle(now);
        return _hosts.GetOrCreate(key, this, _shares.IsAttached);
    }

    /// <summary>A proxy freed a slot or the pool changed: parked hosts get another look, and what can start does.</summary>
    private void WakeParked(long now)
    {
        _leaser.WakeParked(now);
        _loop.DispatchLocked(now);
    }

    public void Dispose()
    {
        List<Waiter> orphans = [];
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _loop.DisposeQueues(orphans);
            _leaser.ClearParked();
        }

        foreach (var waiter in orphans)
        {
            waiter.OnDisposed();
        }
    }

    private static async ValueTask<AttemptPermit> WaitAsync(AsyncWaiter waiter, CancellationToken cancellationToken)
    {
        using (cancellationToken.UnsafeRegister(static (state, token) => ((AsyncWaiter)state!).Owner.Cancel((AsyncWaiter)state!, token), waiter))
        {
            return await waiter.Task.ConfigureAwait(false);
        }
    }

    private void Cancel(AsyncWaiter waiter, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_loop.Cancel(waiter, _time.GetTimestamp()))
            {
                return;
            }
        }

        waiter.OnCanceled(cancellationToken);
    }

    /// <summary>What requests wait for now: hosts down, and requests with no proxy available (with the pool's explanation).</summary>
    public (int HostsDown, int WaitingForProxy, string? ProxyExplanation) GetWaits()
    {
        lock (_lock)
        {
            return DispatcherSnapshots.Waits(_hosts, _pool, _time.GetTimestamp());
        }
    }

    /// <summary>
    /// A <c>Retry-After</c> from the host: no attempt starts to it, through any proxy, until <paramref name="retryAfter"/>
    /// (capped by the host's <see cref="HostSettings.MaxRetryAfter"/>) has passed; its queue waits, other hosts go on.
    /// </summary>
    public void PauseHost(HostState host, TimeSpan retryAfter)
    {
        var cap = host.Settings.MaxRetryAfter;
        if (cap <= TimeSpan.Zero || retryAfter <= TimeSpan.Zero)
        {
            return;
        }

        lock (_lock)
        {
            var now = _time.GetTimestamp();
            if (_pacing.PauseEnd(host.Key, retryAfter < cap ? retryAfter : cap, host.NextStart, now) is { } until)
            {
                host.NextStart = until;
                host.PausedUntil = until;
                _shares.HostPaused(host.Key, _time.GetUtcNow() + _time.GetElapsedTime(now, until));
            }
        }
    }

    /// <summary>Sets the host's robots.txt <c>Crawl-delay</c>, its minimum delay between starts when longer than the configured one.</summary>
    public void SetCrawlDelay(HostKey key, TimeSpan delay)
    {
        lock (_lock)
        {
            if (!_disposed)
            {
                _hosts.GetOrCreate(key, this, _shares.IsAttached).CrawlDelay = delay;
            }
        }
    }

    /// <summary>A host's timer fired (its delay passed, or a wait for a proxy is to be looked at again).</summary>
    internal void OnHostTimer(HostState host)
    {
        lock (_lock)
        {
            if (_disposed || host.Removed)
            {
                return;
            }

            host.TimerDue = 0;
            var now = _time.GetTimestamp();
            _loop.Schedule(host, now);
            _loop.DispatchLocked(now);
        }
    }
}
