namespace ProxyScheduler.Dispatch;

/// <summary>
/// The open <see cref="ProcessingGate"/>s of post-processing runs: opening, releasing and closing them (entry points that
/// take the dispatcher's lock), holding a waiter whose run has no free slot, and the timers that fail held waiters at
/// their deadline. The <see cref="DispatchLoop"/> keeps the host counts of held waiters and moves them back to their
/// queues; the other members are called under the dispatcher's lock with <c>now</c> passed in.
/// </summary>
internal sealed class PostProcessingGates
{
    private readonly List<ProcessingGate> _gates = [];
    private readonly List<Waiter> _expired = [];
    private readonly SyncLock _sync;
    private readonly TimeProvider _time;
    private readonly Func<bool> _isDisposed;

    /// <param name="sync">The dispatcher's lock.</param>
    /// <param name="time">The clock of the gate timers.</param>
    /// <param name="isDisposed">Whether the dispatcher was disposed.</param>
    public PostProcessingGates(SyncLock sync, TimeProvider time, Func<bool> isDisposed)
    {
        _sync = sync;
        _time = time;
        _isDisposed = isDisposed;
    }

    /// <summary>Gets or sets the dispatch loop held waiters go back to (set once, after construction).</summary>
    public DispatchLoop Loop { get; set; } = null!;

    /// <summary>Gets the number of open gates (none: the dispatch fast path needs no gate check).</summary>
    public int Count => _gates.Count;

    /// <summary>How long from <paramref name="now"/> to arm a one-shot timer for <paramref name="at"/>; <see langword="null"/> when it is armed for an earlier instant already.</summary>
    public static TimeSpan? DueIn(TimeProvider time, long timerDue, bool armed, long now, long at)
    {
        if (armed && timerDue != 0 && timerDue <= at && timerDue > now)
        {
            return null;
        }

        var due = time.GetElapsedTime(now, at);
        return due <= TimeSpan.Zero ? TimeSpan.FromTicks(1) : due;
    }

    /// <summary>A granted waiter of a gated group takes one of its slots.</summary>
    public static void TakeSlot(Waiter waiter)
    {
        if (waiter.Gate is { } gate)
        {
            gate.Free--;
        }
    }

    /// <summary>Opens a gate of <paramref name="capacity"/> slots for a group's waiters (see <see cref="ProcessingGate"/>).</summary>
    /// <returns>The gate; close it with <see cref="Close"/> when the group ends.</returns>
    public ProcessingGate Open(int capacity)
    {
        var gate = new ProcessingGate(capacity) { Owner = this };
        lock (_sync)
        {
            _gates.Add(gate);
        }

        return gate;
    }

    /// <summary>
    /// Gives <paramref name="count"/> slots of <paramref name="gate"/> back: as many held waiters as there are free slots
    /// go back to their host queues (at the end of their priority level), and whatever can start now does.
    /// </summary>
    public void Release(ProcessingGate gate, int count = 1)
    {
        lock (_sync)
        {
            gate.Free += count;
            if (!_isDisposed() && !gate.Closed)
            {
                Loop.Unhold(gate, _time.GetTimestamp());
            }
        }
    }

    /// <summary>The group of <paramref name="gate"/> ended (none of its waiters is queued or held any more): it holds nobody and its timer stops.</summary>
    public void Close(ProcessingGate gate)
    {
        lock (_sync)
        {
            if (!gate.Closed)
            {
                gate.Closed = true;
                _gates.Remove(gate);
                gate.Clear();
                gate.Timer?.Dispose();
                gate.Timer = null;
            }
        }
    }

    /// <summary>Adds the held waiters of <paramref name="group"/> (over every gate) to <paramref name="into"/>.</summary>
    public void CollectHeld(object group, List<Waiter> into)
    {
        foreach (var gate in _gates)
        {
            foreach (var waiter in gate.AllHeld())
            {
                if (ReferenceEquals(waiter.Group, group))
                {
                    into.Add(waiter);
                }
            }
        }
    }

    /// <summary>Arms the gate's timer for <paramref name="at"/> (a held waiter's deadline) unless it fires earlier already.</summary>
    public void ArmTimer(ProcessingGate gate, long now, long at)
    {
        if (DueIn(_time, gate.TimerDue, gate.Timer is not null, now, at) is { } due)
        {
            gate.TimerDue = at;
            gate.Timer ??= _time.CreateTimer(static state => OnTimer((ProcessingGate)state!), gate, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            gate.Timer.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>
    /// The gate's timer fired: returns the held waiters whose deadline passed (still held: the dispatcher fails them),
    /// drops the dead entries, and arms the timer for the next deadline. The list is reused by the next call.
    /// </summary>
    public List<Waiter> Expire(ProcessingGate gate, long now)
    {
        _expired.Clear();
        gate.TimerDue = 0;
        if (gate.Closed)
        {
            return _expired;
        }

        var next = long.MaxValue;
        foreach (var waiters in gate.Held.Values)
        {
            var count = waiters.Count;
            for (var i = 0; i < count; i++)
            {
                var waiter = waiters.Dequeue();
                if (waiter.State != Waiter.Held)
                {
                    continue;
                }

                if (waiter.DeadlineAt != 0 && now >= waiter.DeadlineAt)
                {
                    _expired.Add(waiter);
                    continue;
                }

                if (waiter.DeadlineAt != 0)
                {
                    next = Math.Min(next, waiter.DeadlineAt);
                }

                waiters.Enqueue(waiter);
            }
        }

        if (next != long.MaxValue)
        {
            ArmTimer(gate, now, next);
        }

        return _expired;
    }

    /// <summary>The dispatcher is disposed: every held waiter is canceled (added to <paramref name="orphans"/>) and the timers stop.</summary>
    public void DisposeAll(List<Waiter> orphans)
    {
        foreach (var gate in _gates)
        {
            foreach (var waiter in gate.AllHeld().ToList())
            {
                waiter.State = Waiter.Canceled;
                waiter.Host.Held--;
                orphans.Add(waiter);
            }

            gate.Clear();
            gate.Timer?.Dispose();
            gate.Timer = null;
        }
    }

    private static void OnTimer(ProcessingGate gate) => gate.Owner!.Expire(gate);

    /// <summary>A gate's timer fired: fails the held waiters whose deadline passed.</summary>
    private void Expire(ProcessingGate gate)
    {
        lock (_sync)
        {
            if (_isDisposed())
            {
                return;
            }

            var now = _time.GetTimestamp();
            foreach (var waiter in Expire(gate, now))
            {
                Loop.LeaveHeldLocked(waiter, Waiter.Failed, now);
                waiter.OnFailed(new DispatchFailedException(RequestFailureReason.DeadlineExceeded, "The request's deadline passed while it waited for its post-processing run to have room."));
            }
        }
    }
}
