namespace ProxyScheduler.Dispatch;

/// <summary>An attempt waiting in a host queue until the dispatcher grants it a lease, or it is canceled.</summary>
internal abstract class Waiter
{
    public const int Queued = 0;
    public const int Granted = 1;
    public const int Canceled = 2;
    public const int Failed = 3;
    public const int Held = 4;

    /// <summary>Gets or sets the host whose queue holds the waiter. Set by the dispatcher.</summary>
    public HostState Host { get; set; } = null!;

    /// <summary>Gets or sets the waiter's state. Guarded by the dispatcher's lock.</summary>
    public int State { get; set; }

    /// <summary>Gets or sets the priority the waiter was queued with. Set by the dispatcher.</summary>
    public int Priority { get; set; }

    /// <summary>Gets or sets the stamp of the waiter's latest host queue entry (see <see cref="HostQueue"/>).</summary>
    public int Stamp { get; set; }

    /// <summary>Gets or sets what the attempt needs of a proxy; <see langword="null"/> for the pool's default (any proxy when proxies are configured, else direct).</summary>
    public Proxies.ProxyRequirement? Requirement { get; set; }

    /// <summary>Gets or sets the proxies this attempt must not use (they failed the request already).</summary>
    public List<Proxies.Internal.ProxyNode>? Excluded { get; set; }

    /// <summary>Gets or sets the session the attempt belongs to, whose binding the dispatcher keeps; <see langword="null"/> for none.</summary>
    public Proxies.Sessions.SessionState? Session { get; set; }

    /// <summary>Gets or sets the timestamp after which the waiter fails as past its deadline; 0 for none.</summary>
    public long DeadlineAt { get; set; }

    /// <summary>Gets or sets the gate whose slot the waiter needs before it is granted; <see langword="null"/> for none.</summary>
    public ProcessingGate? Gate { get; set; }

    /// <summary>Gets the group the waiter belongs to (a batch), so a group can leave the queues at once.</summary>
    public virtual object? Group => null;

    /// <summary>Called under the dispatcher's lock; must only hand the lease over, never run the attempt inline.</summary>
    public abstract void OnGranted(AttemptPermit lease);

    /// <summary>Called outside the lock after the waiter left its queue because it was canceled.</summary>
    public abstract void OnCanceled(CancellationToken cancellationToken);

    /// <summary>Called under the dispatcher's lock when the waiter left its queue because it can never be served (no proxy); must only hand the failure over.</summary>
    public abstract void OnFailed(Exception failure);

    /// <summary>Called outside the lock when the dispatcher is disposed with the waiter still queued.</summary>
    public abstract void OnDisposed();
}
