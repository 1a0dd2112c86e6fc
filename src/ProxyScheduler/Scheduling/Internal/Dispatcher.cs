namespace ProxyScheduler.Scheduling.Internal;

/// <summary>
/// Grants the right to start an attempt: one global permit and one permit of the target host, both taken at the same
/// instant under one lock, never one held while waiting for the other. Ready hosts are served round-robin; a host at
/// its limit or waiting out its delay leaves the ready ring and comes back when a slot frees or its timer fires, so it
/// never holds up other hosts (no head-of-line blocking). Delays run on the injected <see cref="TimeProvider"/>.
/// </summary>
internal sealed class Dispatcher : IDisposable
{
#if NET9_0_OR_GREATER
    private readonly Lock _lock = new();
#else
    private readonly object _lock = new();
#endif
    private readonly TimeProvider _time;
    private readonly HostSettingsResolver _resolver;
    private readonly int _globalLimit;
    private readonly long _idleTimeoutTicks;
    private readonly double _ticksPerTimeSpanTick;
    private readonly Dictionary<HostKey, HostState> _hosts = [];
    private readonly Queue<HostState> _ready = new();
    private readonly Queue<HostState> _idle = new();
    private int _inFlight;
    private int _queued;
    private bool _disposed;

    public Dispatcher(int globalLimit, HostSettingsResolver resolver, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(globalLimit);
        _globalLimit = globalLimit;
        _resolver = resolver;
        _time = time;
        _ticksPerTimeSpanTick = (double)time.TimestampFrequency / TimeSpan.TicksPerSecond;
        _idleTimeoutTicks = ToTimestampTicks(SchedulerDefaults.HostIdleTimeout);
    }

    public int GlobalLimit => _globalLimit;

    /// <summary>Waits for a permit of <paramref name="key"/>'s host and a global permit.</summary>
    /// <exception cref="OperationCanceledException">The token was canceled while waiting; the waiter left the queue.</exception>
    /// <exception cref="ObjectDisposedException">The dispatcher was disposed.</exception>
    public ValueTask<DispatchLease> AcquireAsync(HostKey key, int priority, CancellationToken cancellationToken)
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
            SweepIdle(now);
            var host = GetOrCreateHost(key);

            // Fast path: nothing queued for this host and every limit has room.
            if (CanStartNow(host, now))
            {
                Start(host, now);
                return new ValueTask<DispatchLease>(new DispatchLease(host));
            }

            waiter = new AsyncWaiter(this);
            EnqueueLocked(waiter, host, priority, now);
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
            SweepIdle(now);
            var host = GetOrCreateHost(key);
            waiter.QueuedAt = now;
            if (CanStartNow(host, now))
            {
                Start(host, now);
                waiter.Host = host;
                waiter.State = Waiter.Granted;
                waiter.OnGranted(new DispatchLease(host));
                return;
            }

            EnqueueLocked(waiter, host, priority, now);
        }
    }

    /// <summary>Removes every queued waiter of <paramref name="group"/> at once, and tells each it was canceled.</summary>
    public void CancelGroup(object group, CancellationToken cancellationToken)
    {
        var canceled = new List<Waiter>();
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            foreach (var host in _hosts.Values)
            {
                if (host.Count == 0)
                {
                    continue;
                }

                host.Queue.ForEach(static (waiter, state) =>
                {
                    if (waiter.State == Waiter.Queued && ReferenceEquals(waiter.Group, state.Group))
                    {
                        // Only counters and the waiter change here, never the queue being visited.
                        state.Owner.MarkCanceledLocked(waiter);
                        state.Canceled.Add(waiter);
                    }
                }, (Owner: this, Group: group, Canceled: canceled));
                CompactIfMostlyCanceled(host);
                TrackIdle(host, now);
            }
        }

        foreach (var waiter in canceled)
        {
            waiter.OnCanceled(cancellationToken);
        }
    }

    /// <summary>Gives a permit back and dispatches what it makes possible.</summary>
    public void Release(DispatchLease lease)
    {
        var host = lease.Host;
        lock (_lock)
        {
            host.InFlight--;
            _inFlight--;
            if (_disposed)
            {
                return;
            }

            var now = _time.GetTimestamp();
            Schedule(host, now);
            DispatchLocked(now);
            TrackIdle(host, now);
        }
    }

    public SchedulerCounts GetCounts()
    {
        lock (_lock)
        {
            return new SchedulerCounts(_queued, _inFlight);
        }
    }

    public IReadOnlyList<HostSnapshot> GetHostSnapshots(out int queued, out int inFlight)
    {
        lock (_lock)
        {
            queued = _queued;
            inFlight = _inFlight;
            var now = _time.GetTimestamp();
            var utcNow = _time.GetUtcNow();
            var list = new List<HostSnapshot>(_hosts.Count);
            foreach (var host in _hosts.Values)
            {
                DateTimeOffset? next = host.NextStart > now ? utcNow + _time.GetElapsedTime(now, host.NextStart) : null;
                list.Add(new HostSnapshot(host.Key.ToString(), host.Count, host.InFlight, host.Settings.MaxConcurrency, next));
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
            foreach (var host in _hosts.Values)
            {
                while (host.Queue.TryDequeue(out var waiter))
                {
                    if (waiter.State == Waiter.Queued)
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

            _queued = 0;
            _ready.Clear();
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

            MarkCanceledLocked(waiter);
            CompactIfMostlyCanceled(waiter.Host);
            TrackIdle(waiter.Host, _time.GetTimestamp());
        }

        waiter.OnCanceled(cancellationToken);
    }

    private void MarkCanceledLocked(Waiter waiter)
    {
        waiter.State = Waiter.Canceled;
        waiter.Host.Count--;
        waiter.Host.Garbage++;
        _queued--;
    }

    private bool CanStartNow(HostState host, long now) =>
        host.Count == 0 && host.InFlight < host.Settings.MaxConcurrency && _inFlight < _globalLimit && now >= host.NextStart;

    private void EnqueueLocked(Waiter waiter, HostState host, int priority, long now)
    {
        waiter.Host = host;
        host.Queue.Enqueue(waiter, priority);
        host.Count++;
        _queued++;
        Schedule(host, now);
        DispatchLocked(now);
    }

    private void DispatchLocked(long now)
    {
        while (_inFlight < _globalLimit && _ready.TryDequeue(out var host))
        {
            host.InReady = false;
            if (host.Count == 0 || host.InFlight >= host.Settings.MaxConcurrency)
            {
                continue;
            }

            if (host.NextStart > now)
            {
                ArmTimer(host, now);
                continue;
            }

            var waiter = DequeueLive(host);
            _queued--;
            waiter.State = Waiter.Granted;
            Start(host, now);
            Schedule(host, now);
            waiter.OnGranted(new DispatchLease(host));
        }
    }

    /// <summary>Puts a host in the ready ring when it has work it may start now, or arms its timer for its delay.</summary>
    private void Schedule(HostState host, long now)
    {
        if (host.InReady || host.Count == 0 || host.InFlight >= host.Settings.MaxConcurrency || host.Removed)
        {
            return;
        }

        if (host.NextStart > now)
        {
            ArmTimer(host, now);
            return;
        }

        host.InReady = true;
        _ready.Enqueue(host);
    }

    private void Start(HostState host, long now)
    {
        host.InFlight++;
        _inFlight++;
        var settings = host.Settings;
        if (settings.HasDelay)
        {
            var delay = settings.MinDelay;
            if (settings.MaxJitter > TimeSpan.Zero)
            {
#pragma warning disable CA5394 // Jitter needs no cryptographic randomness.
                delay += TimeSpan.FromTicks((long)(Random.Shared.NextDouble() * settings.MaxJitter.Ticks));
#pragma warning restore CA5394
            }

            host.NextStart = now + ToTimestampTicks(delay);
        }
    }

    private void ArmTimer(HostState host, long now)
    {
        if (host.TimerDue == host.NextStart && host.Timer is not null)
        {
            return;
        }

        host.TimerDue = host.NextStart;
        var due = _time.GetElapsedTime(now, host.NextStart);
        if (due <= TimeSpan.Zero)
        {
            due = TimeSpan.FromTicks(1);
        }

        host.Timer ??= _time.CreateTimer(static state => OnTimer((HostState)state!), host, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        host.Timer.Change(due, Timeout.InfiniteTimeSpan);
    }

    private static void OnTimer(HostState host) => host.Owner!.OnTimerCore(host);

    private void OnTimerCore(HostState host)
    {
        lock (_lock)
        {
            if (_disposed || host.Removed)
            {
                return;
            }

            host.TimerDue = 0;
            var now = _time.GetTimestamp();
            Schedule(host, now);
            DispatchLocked(now);
        }
    }

    private HostState GetOrCreateHost(in HostKey key)
    {
        if (!_hosts.TryGetValue(key, out var host))
        {
            host = new HostState(key, _resolver.Resolve(key)) { Owner = this };
            _hosts.Add(key, host);
        }

        return host;
    }

    private static Waiter DequeueLive(HostState host)
    {
        while (host.Queue.TryDequeue(out var waiter))
        {
            if (waiter.State == Waiter.Queued)
            {
                host.Count--;
                return waiter;
            }

            host.Garbage--;
        }

        throw new InvalidOperationException("A host queue count is out of step with its queue.");
    }

    /// <summary>Drops canceled waiters once they outnumber the live ones, so a queue never grows with cancellations.</summary>
    private static void CompactIfMostlyCanceled(HostState host)
    {
        if (host.Garbage > 64 && host.Garbage > host.Count)
        {
            host.Queue.Compact();
            host.Garbage = 0;
        }
    }

    private void TrackIdle(HostState host, long now)
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
    private void SweepIdle(long now)
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

    private long ToTimestampTicks(TimeSpan span) => (long)(span.Ticks * _ticksPerTimeSpanTick);
}

