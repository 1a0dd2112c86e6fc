using ProxyScheduler.Politeness.Internal;
using ProxyScheduler.Proxies.Internal;

namespace ProxyScheduler.Dispatch;

/// <summary>
/// The dispatch loop: the ready ring of hosts with work they may start now, the global and per-host permits, the host
/// timers, and the host queues' bookkeeping (queued, granted, held, failed, canceled). Ready hosts are served
/// round-robin; a host at its limit or waiting out its delay leaves the ring and comes back when a permit frees or its
/// timer fires, and a host whose waiters find no proxy is parked by the <see cref="ProxyLeaser"/>, so no host holds up
/// another (no head-of-line blocking). Called only under the <see cref="Dispatcher"/>'s lock, with <c>now</c> passed in.
/// </summary>
internal sealed class DispatchLoop
{
    private readonly Queue<HostState> _ready = new();
    private readonly Waiter?[] _lookahead = new Waiter?[ProxyPoolDefaults.Lookahead];
    private readonly TimeProvider _time;
    private readonly HostTable _hosts;
    private readonly PostProcessingGates _gates;
    private readonly HostFleetShares _shares;
    private readonly HostPacing _pacing;
    private readonly bool _hasPool;

    public DispatchLoop(int globalLimit, TimeProvider time, HostTable hosts, PostProcessingGates gates, HostFleetShares shares, HostPacing pacing, bool hasPool)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(globalLimit);
        GlobalLimit = globalLimit;
        _time = time;
        _hosts = hosts;
        _gates = gates;
        _shares = shares;
        _pacing = pacing;
        _hasPool = hasPool;
    }

    /// <summary>Gets the global limit of attempts in flight.</summary>
    public int GlobalLimit { get; }

    /// <summary>Gets or sets the attempts in flight.</summary>
    public int InFlight { get; set; }

    /// <summary>Gets the waiters queued (held ones included).</summary>
    public int Queued { get; private set; }

    /// <summary>Gets or sets the leaser that finds the proxy of a host's next attempt (set once, after construction).</summary>
    public ProxyLeaser Leaser { get; set; } = null!;

    /// <summary>Something changed for the host (a permit, a share, a token): it is scheduled, what can start does, and it is tracked when idle.</summary>
    public void Reschedule(HostState host, long now)
    {
        Schedule(host, now);
        DispatchLocked(now);
        _hosts.TrackIdle(host, now);
    }

    /// <summary>A queued waiter's token was canceled: it leaves its host queue. Returns <see langword="false"/> when it was no longer queued.</summary>
    public bool Cancel(Waiter waiter, long now)
    {
        if (waiter.State != Waiter.Queued)
        {
            return false;
        }

        MarkCanceledLocked(waiter);
        CompactIfMostlyCanceled(waiter.Host);
        _hosts.TrackIdle(waiter.Host, now);
        return true;
    }

    /// <summary>The dispatcher is disposed: every queued and held waiter is canceled (added to <paramref name="orphans"/>) and the timers stop.</summary>
    public void DisposeQueues(List<Waiter> orphans)
    {
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
        Queued = 0;
        _ready.Clear();
    }

    /// <summary>Removes every queued and held waiter of <paramref name="group"/> at once (added to <paramref name="canceled"/>, for the caller to tell).</summary>
    public void CancelGroup(object group, List<Waiter> canceled, long now)
    {
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
            }, (Owner: this, Group: group, Canceled: canceled));
            CompactIfMostlyCanceled(host);
            _hosts.TrackIdle(host, now);
        }

        var first = canceled.Count;
        _gates.CollectHeld(group, canceled);
        for (var i = first; i < canceled.Count; i++)
        {
            LeaveHeldLocked(canceled[i], Waiter.Canceled, now);
        }
    }

    /// <summary>
    /// Slots of <paramref name="gate"/> came back: as many held waiters as there are free slots go back to their host
    /// queues (at the end of their priority level), and whatever can start now does.
    /// </summary>
    public void Unhold(ProcessingGate gate, long now)
    {
        var back = 0;
        while (back < gate.Free && gate.TryTakeNext(out var waiter))
        {
            var host = waiter.Host;
            waiter.State = Waiter.Queued;
            host.Held--;
            host.Count++;
            host.Queue.Enqueue(waiter, waiter.Priority);
            Schedule(host, now);
            back++;
        }

        DispatchLocked(now);
    }

    public void MarkCanceledLocked(Waiter waiter)
    {
        waiter.State = Waiter.Canceled;
        waiter.Host.Count--;
        waiter.Host.Garbage++;
        Queued--;
    }

    public bool CanStartNow(HostState host, long now) =>
        host.Count == 0 && host.InFlight < host.Limit && InFlight < GlobalLimit && now >= host.NextStart && !host.WaitsForTokens;

    public void EnqueueLocked(Waiter waiter, HostState host, int priority, long now)
    {
        waiter.Host = host;
        waiter.Priority = priority;
        host.Queue.Enqueue(waiter, priority);
        host.Count++;
        Queued++;
        Schedule(host, now);
        DispatchLocked(now);
    }

    public void DispatchLocked(long now)
    {
        while (InFlight < GlobalLimit && _ready.TryDequeue(out var host))
        {
            host.InReady = false;
            if (host.Count == 0 || host.InFlight >= host.Limit || host.WaitsForTokens)
            {
                if (host.Fleet)
                {
                    Schedule(host, now);
                }

                continue;
            }

            if (host.NextStart > now)
            {
                ArmTimer(host, now, host.NextStart);
                continue;
            }

            if (!_hasPool && _gates.Count == 0)
            {
                var waiter = DequeueLive(host);
                Queued--;
                waiter.State = Waiter.Granted;
                Start(host, now);
                Schedule(host, now);
                waiter.OnGranted(new AttemptPermit(host));
                continue;
            }

            if (DispatchOne(host, now))
            {
                Schedule(host, now);
            }
        }
    }

    /// <summary>
    /// Grants the first of the host's next waiters (in dispatch order, up to a lookahead) that can get a proxy now, fails
    /// those no proxy can ever serve, and parks the host when none can go now.
    /// </summary>
    private bool DispatchOne(HostState host, long now)
    {
        var wakeAt = long.MaxValue;
        var granted = false;
        var failedAny = true;
        var waitsForProxy = false;

        // Waiters that failed (past their deadline, or no proxy can ever serve them) leave the queue; the ones behind
        // them are looked at in the same pass, so a host never parks without a reason to wake up.
        while (!granted && failedAny && host.Count > 0)
        {
            failedAny = false;
            wakeAt = long.MaxValue;
            waitsForProxy = false;
            var count = host.Queue.CollectLive(_lookahead!);
            for (var i = 0; i < count && !granted; i++)
            {
                var waiter = _lookahead[i]!;
                if (waiter.DeadlineAt != 0 && now >= waiter.DeadlineAt)
                {
                    FailLocked(waiter, new DispatchFailedException(RequestFailureReason.DeadlineExceeded, "The request's deadline passed while it waited in its host queue (for the host's turn or for a proxy)."));
                    failedAny = true;
                    continue;
                }

                if (waiter.Gate is { Free: 0 } gate)
                {
                    // Its group holds all the responses it may: the waiter leaves the host queue for the gate, so
                    // it stands in front of nobody, and the waiters behind it are looked at in the same pass.
                    HoldLocked(waiter, gate, now);
                    failedAny = true;
                    continue;
                }

                switch (Leaser.TryLease(host, waiter.Requirement, waiter.Excluded, waiter.Session, now, out var lease, out var wake, out var failure))
                {
                    case LeaseResult.Granted:
                        if (!lease.IsProbe)
                        {
                            // A proxy serves again. (A probe of a quarantined one does not end the wait: while probes
                            // fail, the requests behind them keep counting towards MaxWaitForProxy.)
                            host.NoProxySince = 0;
                        }

                        TakeLocked(waiter);
                        waiter.State = Waiter.Granted;
                        PostProcessingGates.TakeSlot(waiter);
                        waiter.OnGranted(lease);
                        granted = true;
                        break;
                    case LeaseResult.Failed:
                        FailLocked(waiter, failure!);
                        failedAny = true;
                        break;
                    default:
                        waitsForProxy = true;
                        if (Leaser.BoundWait(host, waiter.Requirement, now, ref wake) is { } gaveUp)
                        {
                            FailLocked(waiter, gaveUp);
                            failedAny = true;
                            continue;
                        }

                        wakeAt = Math.Min(wakeAt, Math.Min(wake, waiter.DeadlineAt == 0 ? long.MaxValue : waiter.DeadlineAt));
                        break;
                }
            }

            Array.Clear(_lookahead);
            host.Garbage -= host.Queue.TrimHead();
            CompactIfMostlyCanceled(host);
        }

        if (!granted && host.Count > 0)
        {
            // A host held back only by gates is woken by them (or its timer), not by every proxy event.
            Leaser.Park(host, waitsForProxy);
            if (wakeAt != long.MaxValue)
            {
                ArmTimer(host, now, Math.Max(wakeAt, now + 1));
            }
        }

        _hosts.TrackIdle(host, now);
        return granted;
    }

    public void TakeLocked(Waiter waiter)
    {
        // The waiter stays in the queue as garbage until it reaches the head (it may not be the first).
        waiter.Host.Count--;
        waiter.Host.Garbage++;
        Queued--;
    }

    public void HoldLocked(Waiter waiter, ProcessingGate gate, long now)
    {
        var host = waiter.Host;
        waiter.State = Waiter.Held;
        host.Count--;
        host.Garbage++;
        host.Held++;
        gate.Hold(waiter);
        if (waiter.DeadlineAt != 0)
        {
            _gates.ArmTimer(gate, now, waiter.DeadlineAt);
        }
    }

    public void LeaveHeldLocked(Waiter waiter, int state, long now)
    {
        waiter.State = state;
        waiter.Host.Held--;
        Queued--;
        _hosts.TrackIdle(waiter.Host, now);
    }

    public void FailLocked(Waiter waiter, Exception failure)
    {
        waiter.Host.Count--;
        waiter.Host.Garbage++;
        Queued--;
        waiter.State = Waiter.Failed;
        waiter.OnFailed(failure);
    }

    /// <summary>Puts a host in the ready ring when it has work it may start now, or arms its timer for its delay.</summary>
    public void Schedule(HostState host, long now)
    {
        if (host.Fleet && !host.Removed && _shares.Ask(host))
        {
            return; // it waits for the fleet's start tokens
        }

        if (host.InReady || host.Count == 0 || host.InFlight >= host.Limit || host.Removed)
        {
            return;
        }

        if (host.NextStart > now)
        {
            ArmTimer(host, now, host.NextStart);
            return;
        }

        host.InReady = true;
        _ready.Enqueue(host);
    }

    public void Start(HostState host, long now)
    {
        host.InFlight++;
        InFlight++;
        host.StartSeq++;
        var fleetTokens = host.Fleet && host.Settings.StartsPerSecond is not null;
        if (fleetTokens)
        {
            // The fleet's bucket: this process starts only with tokens it was granted.
            host.FleetTokens--;
        }

        host.NextStart = _pacing.NextStartAfterStart(host.Settings, ref host.RateBucket, fleetTokens, host.Adaptive, host.CrawlDelay, host.NextStart, now);
    }

    public void ArmTimer(HostState host, long now, long at)
    {
        // Armed for an earlier instant already: the host is looked at again then.
        if (PostProcessingGates.DueIn(_time, host.TimerDue, host.Timer is not null, now, at) is { } due)
        {
            host.TimerDue = at;
            host.Timer ??= _time.CreateTimer(static state => ((HostState)state!).Owner!.OnHostTimer((HostState)state!), host, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            host.Timer.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    public static Waiter DequeueLive(HostState host)
    {
        while (host.Queue.TryDequeue(out var waiter, out var live))
        {
            if (live)
            {
                host.Count--;
                return waiter;
            }

            host.Garbage--;
        }

        throw new InvalidOperationException("A host queue count is out of step with its queue.");
    }

    /// <summary>Drops canceled waiters once they outnumber the live ones, so a queue never grows with cancellations.</summary>
    public static void CompactIfMostlyCanceled(HostState host)
    {
        if (host.Garbage > 64 && host.Garbage > host.Count)
        {
            host.Queue.Compact();
            host.Garbage = 0;
        }
    }

    public int FailQueuedLocked(HostState host, RequestFailureReason reason, string message, long now)
    {
        {
            if (host.Count == 0)
            {
                return 0;
            }

            var waiters = new List<Waiter>(host.Count);
            host.Queue.ForEachLive(static (w, list) => list.Add(w), waiters);
            foreach (var waiter in waiters)
            {
                FailLocked(waiter, new DispatchFailedException(reason, message));
            }

            host.Queue.Compact();
            host.Garbage = 0;
            if (host.Fleet)
            {
                _shares.DropWants(host, now);
            }

            _hosts.TrackIdle(host, now);
            return waiters.Count;
        }
    }
}
