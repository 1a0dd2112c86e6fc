namespace ProxyScheduler.Scheduling.Internal;

/// <summary>
/// A bound on how many requests of one group (a post-processing run) hold a response at once: a waiter of the group is
/// granted its first attempt only while the gate has a free slot, and the slot comes back when the group is done with
/// the request's response. Hosts whose waiters were held back are remembered and looked at again, one per freed slot,
/// so a full gate stops the group's dispatching without holding up anyone else's requests.
/// </summary>
internal sealed class DispatchGate
{
    public DispatchGate(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Capacity = capacity;
        Free = capacity;
    }

    public int Capacity { get; }

    /// <summary>Gets or sets the free slots. Guarded by the dispatcher's lock.</summary>
    public int Free { get; set; }

    /// <summary>Gets the hosts that had a waiter held back by the gate, in the order they were held back. Guarded by the dispatcher's lock.</summary>
    public Queue<HostState> Blocked { get; } = new();

    /// <summary>Gets the members of <see cref="Blocked"/>, so that a host is remembered once. Guarded by the dispatcher's lock.</summary>
    public HashSet<HostState> BlockedSet { get; } = new(ReferenceEqualityComparer.Instance);

    /// <summary>Gets or sets a value indicating whether the gate was closed (its group ended). Guarded by the dispatcher's lock.</summary>
    public bool Closed { get; set; }
}
