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
#if NET9_0_OR_GREATER
    private readonly Lock _lock = new();
#else
    private readonly object _lock = new();
#endif
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
    private readonly List<HostState> _settled = [];
    private bool _disposed;

    public Dispatcher(int globalLimit, HostSettingsResolver resolver, TimeProvider time, ProxyPool? pool = null, SessionBinder? sessions = null, ILogger? logger = null)
    {
        _logger = logger ?? NullLogger.Instance;
        _time = time;
        _pool = pool;
        _hosts = new HostTable(resolver, time.ToTimestampTicks(SchedulerDefaults.HostIdleTimeout));
        _health = new HostHealthTracker(time, _logger, pool);
        _gates = new PostProcessingGates(time);
        _pacing = new HostPacing(time, _logger);
        _loop = new DispatchLoop(globalLimit, time, _hosts, _gates, _shares, _pacing, pool is not null);
        _leaser = new ProxyLeaser(pool, sessions, time, _logger, _loop.Start, _loop.Schedule, WaitingForProxyLocked);
        _loop.Leaser = _leaser;
    }

    /// <summary>Gets the bound on waiting while no proxy is available (<see cref="ProxyPoolOptions.MaxWaitForProxy"/>); infinite by default in bare tests.</summary>
    public TimeSpan MaxWaitForProxy
    {
        get => _leaser.MaxWaitTicks <= 0 ? Timeout.InfiniteTimeSpan : _time.GetElapsedTime(0, _leaser.MaxWaitTicks);
        init => _leaser.MaxWaitTicks = value == Timeout.InfiniteTimeSpan ? 0 : Math.Max(1, ToTimestampTicks(value));
    }

    public int GlobalLimit => _loop.GlobalLimit;

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
    public ValueTask<DispatchLease> AcquireAsync(HostKey key, int priority, CancellationToken cancellationToken) =>
        AcquireAsync(key, priority, null, null, null, cancellationToken);

    /// <inheritdoc cref="AcquireAsync(HostKey, int, ProxyRequirement?, List{ProxyNode}?, SessionState?, CancellationToken)"/>
    public ValueTask<DispatchLease> AcquireAsync(HostKey key, int priority, ProxyRequirement? requirement, List<ProxyNode>? excluded, CancellationToken cancellationToken) =>
        AcquireAsync(key, priority, requirement, excluded, null, cancellationToken);

    /// <summary>Waits for a permit of <paramref name="key"/>'s host, a proxy meeting <paramref name="requirement"/> (not one of <paramref name="excluded"/>) and a global permit.</summary>
    /// <exception cref="OperationCanceledException">The token was canceled while waiting; the waiter left the queue.</exception>
    /// <exception cref="ObjectDisposedException">The dispatcher was disposed.</exception>
    /// <exception cref="DispatchFailedException">No proxy can ever serve the attempt (or, fail-fast, none can now).</exception>
    public ValueTask<DispatchLease> AcquireAsync(HostKey key, int priority, ProxyRequirement? requirement, List<ProxyNode>? excluded, SessionState? session, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<DispatchLease>(cancellationToken);
        }

        AsyncWaiter waiter;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var now = _time.GetTimestamp();
            _hosts.SweepIdle(now);
            var host = _hosts.GetOrCreate(key, this, _shares.IsAttached);

            // Fast path: nothing queued for this host and every limit has room.
            if (_loop.CanStartNow(host, now))
            {
                switch (_leaser.TryLease(host, requirement, excluded, session, now, out var lease, out _, out var failure))
                {
                    case LeaseResult.Granted:
                        return new ValueTask<DispatchLease>(lease);
                    case LeaseResult.Failed:
                        return ValueTask.FromException<DispatchLease>(failure!);
                }
            }

            waiter = new AsyncWaiter(this) { Requirement = requirement, Excluded = excluded, Session = session };
            _loop.EnqueueLocked(waiter, host, priority, now);
        }

        return waiter.Task.IsCompleted ? new ValueTask<DispatchLease>(waiter.Task) : WaitAsync(waiter, cancellationToken);
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
            ObjectDisposedException.ThrowIf(_disposed, this);
            var now = _time.GetTimestamp();
            _hosts.SweepIdle(now);
            var host = _hosts.GetOrCreate(key, this, _shares.IsAttached);
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

    /// <summary>Opens a gate of <paramref name="capacity"/> slots for a group's waiters (see <see cref="DispatchGate"/>).</summary>
    /// <returns>The gate; close it with <see cref="CloseGate"/> when the group ends.</returns>
    public DispatchGate OpenGate(int capacity)
    {
        lock (_lock)
        {
            return _gates.Open(capacity, this);
        }
    }

    /// <summary>The group of <paramref name="gate"/> ended (none of its waiters is queued or held any more).</summary>
    public void CloseGate(DispatchGate gate)
    {
        lock (_lock)
        {
            _gates.Close(gate);
        }
    }

    /// <summary>
    /// Gives <paramref name="count"/> slots of <paramref name="gate"/> back: as many held waiters as there are free slots
    /// go back to their host queues (at the end of their priority level), and whatever can start now does.
    /// </summary>
    public void ReleaseGate(DispatchGate gate, int count = 1)
    {
        lock (_lock)
        {
            gate.Free += count;
            if (_disposed || gate.Closed)
            {
                return;
            }

            var now = _time.GetTimestamp();
            var back = 0;
            while (back < gate.Free && gate.TryTakeNext(out var waiter))
            {
                var host = waiter.Host;
                waiter.State = Waiter.Queued;
                host.Held--;
                host.Count++;
                host.Queue.Enqueue(waiter, waiter.Priority);
                _loop.Schedule(host, now);
                back++;
            }

            _loop.DispatchLocked(now);
        }
    }

    /// <summary>Removes every queued waiter of <paramref name="group"/> at once, and tells each it was canceled.</summary>
    public void CancelGroup(object group, CancellationToken cancellationToken)
    {
        var canceled = new List<Waiter>();
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            foreach (var host in _hosts.All)
            {
                if (host.Count == 0)
                {
                    continue;
                }

                host.Queue.ForEachLive(static (waiter, state) =>
                {
                    if (ReferenceEquals(waiter.Group, state.Group))
                    {
                        // Only counters and the waiter change here, never the queue being visited.
                        state.Owner.MarkCanceledLocked(waiter);
                        state.Canceled.Add(waiter);
                    }
                }, (Owner: _loop, Group: group, Canceled: canceled));
                DispatchLoop.CompactIfMostlyCanceled(host);
                _hosts.TrackIdle(host, now);
            }

            var first = canceled.Count;
            _gates.CollectHeld(group, canceled);
            for (var i = first; i < canceled.Count; i++)
            {
                _loop.LeaveHeldLocked(canceled[i], Waiter.Canceled, now);
            }
        }

        foreach (var waiter in canceled)
        {
            waiter.OnCanceled(cancellationToken);
        }
    }

    /// <summary>
    /// Gives the permits back, tells the pool what became of an attempt through a proxy (<paramref name="outcome"/> is
    /// <see langword="null"/> for a canceled attempt, never charged to the proxy), and dispatches what it makes possible.
    /// </summary>
    /// <summary>
    /// Ends an attempt: frees its permits and learns from its outcome. Returns <see langword="true"/> when its failure at
    /// the target was contradicted by other proxies' answers from the host: the (proxy, host) pair's failure, which the
    /// request's retries count against the proxy budget rather than the target's.
    /// </summary>
    public bool Release(DispatchLease lease, ResponseClass? outcome = null, long latencyTicks = 0, SessionState? session = null, AttemptVerdict verdict = default)
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

            _loop.Schedule(host, now);
            _loop.DispatchLocked(now);
            _hosts.TrackIdle(host, now);
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
                var now = _time.GetTimestamp();
                _leaser.WakeParked(now);
                _loop.DispatchLocked(now);
            }

            return result;
        }
    }

    /// <summary>Whether a retry of a request could go through a proxy it has not failed with yet.</summary>
    public bool HasUntriedProxy(ProxyRequirement? requirement, List<ProxyNode>? excluded, bool healthyOnly = false)
    {
        lock (_lock)
        {
            return _pool is not null && _pool.HasCandidate(requirement ?? ProxyRequirement.Any, excluded, healthyOnly);
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

    /// <summary>
    /// Shares every host's limit with other processes through <paramref name="fleet"/>: from now on a host starts at most
    /// as many attempts as the shares it holds, asks for more when its work exceeds them, and gives back the ones it has
    /// not used for <paramref name="shareLinger"/> (at once when other processes wait for them). Call before any request.
    /// </summary>
    public void AttachFleet(IFleetCoordinator fleet, TimeSpan shareLinger)
    {
        lock (_lock)
        {
            _shares.Attach(fleet, ToTimestampTicks(shareLinger));
            _leaser.InFleet = true;
            if (_pool is not null)
            {
                _pool.Fleet = fleet;
            }
        }
    }

    /// <summary>
    /// The fleet granted <paramref name="granted"/> of the shares the host asked for (the rest stay asked for);
    /// <paramref name="contended"/> says whether other processes wait for its shares, <paramref name="fairShare"/> how
    /// many this process should keep then (0: unknown, the last known one stays).
    /// </summary>
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
            _loop.Schedule(host, now);
            _loop.DispatchLocked(now);
            _hosts.TrackIdle(host, now);
        }
    }

    /// <summary>The fleet granted <paramref name="granted"/> shares of a proxy's (or gateway account's) limit.</summary>
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
                var now = _time.GetTimestamp();
                _leaser.WakeParked(now);
                _loop.DispatchLocked(now);
            }
        }
    }

    /// <summary>The fleet granted start tokens of a paced proxy.</summary>
    public void GrantProxyTokens(string proxyId, int granted)
    {
        lock (_lock)
        {
            if (!_disposed && _pool is not null && _pool.GrantProxyTokens(proxyId, granted))
            {
                var now = _time.GetTimestamp();
                _leaser.WakeParked(now);
                _loop.DispatchLocked(now);
            }
        }
    }

    /// <summary>The fleet took <paramref name="count"/> shares of a proxy back (their leases expired).</summary>
    public void RevokeProxyShares(string proxyId, int count)
    {
        lock (_lock)
        {
            _pool?.ChangeProxyShares(proxyId, -count, answer: false);
        }
    }

    /// <summary>The fleet took <paramref name="count"/> of the host's shares back (their leases expired): fewer attempts may start.</summary>
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

    /// <summary>Updates whether other processes wait for the host's shares, and gives back what this process should not keep.</summary>
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

    /// <summary>Gives back the shares that have gone unused for the linger time; called by the coordinator's clock.</summary>
    public void SweepShares()
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            _pool?.SweepProxyShares(now, _shares.LingerTicks);
            _settled.Clear();
            _shares.Sweep(now, _settled);
            foreach (var host in _settled)
            {
                _hosts.TrackIdle(host, now);
            }

            _settled.Clear();
        }
    }

    /// <summary>Another process saw a <c>Retry-After</c> from the host: no attempt starts to it until <paramref name="until"/>.</summary>
    public void ApplyFleetPause(HostKey key, DateTimeOffset until)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            var remaining = until - _time.GetUtcNow();
            if (remaining > TimeSpan.Zero)
            {
                var host = _hosts.GetOrCreate(key, this, _shares.IsAttached);
                var now = _time.GetTimestamp();
                var end = now + ToTimestampTicks(remaining);
                if (end > host.NextStart)
                {
                    host.NextStart = end;
                    host.PausedUntil = end;
                }

                _hosts.TrackIdle(host, now);
            }
        }
    }

    /// <summary>
    /// Fails every request queued for the host with <paramref name="reason"/> (distributed mode: the fleet could not
    /// give the host a share for too long). Returns how many failed.
    /// </summary>
    public int FailQueued(HostKey key, RequestFailureReason reason, string message)
    {
        lock (_lock)
        {
            return _hosts.TryGet(key, out var host) ? _loop.FailQueuedLocked(host, reason, message, _time.GetTimestamp()) : 0;
        }
    }

    /// <summary>Applies what another process learned about a proxy (see <see cref="ProxyPool.ApplyFleetEvent"/>) and dispatches what it allows.</summary>
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
            _leaser.WakeParked(now);
            _loop.DispatchLocked(now);
        }
    }

    /// <summary>The fleet granted <paramref name="granted"/> start tokens of the host's rate limit.</summary>
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
            _loop.Schedule(host, now);
            _loop.DispatchLocked(now);
            _hosts.TrackIdle(host, now);
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
            var list = new List<System.Diagnostics.Metrics.Measurement<int>>();
            foreach (var host in _hosts.All)
            {
                if (host.MetricTags is { } tags)
                {
                    list.Add(new(DispatcherSnapshots.Measure(host, gauge), tags));
                }
            }

            return list;
        }
    }

    public IReadOnlyList<HostSnapshot> GetHostSnapshots(out int queued, out int inFlight)
    {
        lock (_lock)
        {
            queued = _loop.Queued;
            inFlight = _loop.InFlight;
            var now = _time.GetTimestamp();
            var utcNow = _time.GetUtcNow();
            var list = new List<HostSnapshot>(_hosts.Count);
            foreach (var host in _hosts.All)
            {
                list.Add(DispatcherSnapshots.Of(host, now, utcNow, _time));
            }

            return list;
        }
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
            foreach (var host in _hosts.All)
            {
                while (host.Queue.TryDequeue(out var waiter, out var live))
                {
                    if (live)
                    {
                        waiter.State = Waiter.Canceled;
                        orphans.Add(waiter);
                    }
                }

                host.Count = 0;
                host.Garbage = 0;
                host.Timer?.Dispose();
                host.Timer = null;
            }

            _gates.DisposeAll(orphans);

            _loop.Clear();
            _leaser.ClearParked();
        }

        foreach (var waiter in orphans)
        {
            waiter.OnDisposed();
        }
    }

    private static async ValueTask<DispatchLease> WaitAsync(AsyncWaiter waiter, CancellationToken cancellationToken)
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
            if (waiter.State != Waiter.Queued)
            {
                return;
            }

            _loop.MarkCanceledLocked(waiter);
            DispatchLoop.CompactIfMostlyCanceled(waiter.Host);
            _hosts.TrackIdle(waiter.Host, _time.GetTimestamp());
        }

        waiter.OnCanceled(cancellationToken);
    }

    /// <summary>A held waiter leaves the gate for good (canceled, or failed at its deadline); its entry in the gate is skipped from then on.</summary>
    /// <summary>A gate's timer fired: fails the held waiters whose deadline passed (see <see cref="PostProcessingGates.Expire"/>).</summary>
    internal void OnGateTimer(DispatchGate gate)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            var now = _time.GetTimestamp();
            foreach (var waiter in _gates.Expire(gate, now))
            {
                _loop.LeaveHeldLocked(waiter, Waiter.Failed, now);
                waiter.OnFailed(new DispatchFailedException(RequestFailureReason.DeadlineExceeded, "The request's deadline passed while it waited for its post-processing run to have room."));
            }
        }
    }

    /// <summary>The requests queued for hosts whose waiters find no proxy available.</summary>
    private int WaitingForProxyLocked()
    {
        var count = 0;
        foreach (var host in _hosts.All)
        {
            if (host.NoProxySince != 0)
            {
                count += host.Count;
            }
        }

        return count;
    }

    /// <summary>What requests wait for now: hosts down, and requests with no proxy available (with the pool's explanation).</summary>
    public (int HostsDown, int WaitingForProxy, string? ProxyExplanation) GetWaits()
    {
        lock (_lock)
        {
            var down = 0;
            HostState? waiting = null;
            foreach (var host in _hosts.All)
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

            return (down, WaitingForProxyLocked(), waiting is null || _pool is null ? null : _pool.ExplainUnavailable(ProxyRequirement.Any, waiting, _time.GetTimestamp()));
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

    private long ToTimestampTicks(TimeSpan span) => _time.ToTimestampTicks(span);
}

