namespace ProxyScheduler.Dispatch;

/// <summary>
/// A bound on how many requests of one group (a post-processing run) hold a response at once: a waiter of the group is
/// granted its first attempt only while the gate has a free slot, and the slot comes back when the group is done with
/// the request's response. A waiter found while the gate is full is <b>held</b>: it leaves its host queue (so it never
/// stands in front of anyone else's requests) and waits here, in order, until a slot frees; then it goes back to its
/// host queue. Guarded by the dispatcher's lock.
/// </summary>
internal sealed class ProcessingGate
{
    public ProcessingGate(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Capacity = capacity;
        Free = capacity;
    }

    public int Capacity { get; }

    /// <summary>Gets or sets the free slots.</summary>
    public int Free { get; set; }

    /// <summary>
    /// Gets the held waiters per host, oldest first; entries whose state is no longer <see cref="Waiter.Held"/> are
    /// skipped.
    /// </summary>
    public Dictionary<HostState, Queue<Waiter>> Held { get; } = new(ReferenceEqualityComparer.Instance);

    /// <summary>Gets the hosts with held waiters, in the order they get a freed slot (round-robin, like the ready ring).</summary>
    public Queue<HostState> Turns { get; } = new();

    /// <summary>Adds a held waiter.</summary>
    public void Hold(Waiter waiter)
    {
        if (!Held.TryGetValue(waiter.Host, out var waiters))
        {
            waiters = new Queue<Waiter>();
            Held.Add(waiter.Host, waiters);
            Turns.Enqueue(waiter.Host);
        }

        waiters.Enqueue(waiter);
    }

    /// <summary>Takes the next held waiter to give a freed slot to: the oldest of the next host in turn.</summary>
    public bool TryTakeNext(out Waiter waiter)
    {
        while (Turns.TryDequeue(out var host))
        {
            var waiters = Held[host];
            waiter = null!;
            while (waiters.TryDequeue(out var next))
            {
                if (next.State == Waiter.Held)
                {
                    waiter = next;
                    break;
                }
            }

            if (waiters.Count > 0)
            {
                Turns.Enqueue(host);
            }
            else
            {
                Held.Remove(host);
            }

            if (waiter is not null)
            {
                return true;
            }
        }

        waiter = null!;
        return false;
    }

    /// <summary>Visits every held waiter.</summary>
    public IEnumerable<Waiter> AllHeld() => Held.Values.SelectMany(static q => q).Where(static w => w.State == Waiter.Held);

    public void Clear()
    {
        Held.Clear();
        Turns.Clear();
    }

    /// <summary>Gets or sets the timer that fails held waiters at their deadline.</summary>
    public ITimer? Timer { get; set; }

    /// <summary>Gets or sets the timestamp the timer is armed for; 0 when it is not armed.</summary>
    public long TimerDue { get; set; }

    /// <summary>Gets or sets a value indicating whether the gate was closed (its group ended).</summary>
    public bool Closed { get; set; }

    /// <summary>Gets or sets the dispatcher, for the timer's callback.</summary>
    public PostProcessingGates? Owner { get; set; }
}
