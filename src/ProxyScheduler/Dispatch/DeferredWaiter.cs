namespace ProxyScheduler.Dispatch;

/// <summary>
/// A waiter that starts its work on the thread pool when granted. Nothing but the waiter itself is allocated while it is
/// queued, so a deep queue costs little memory and little garbage-collector work.
/// </summary>
internal abstract class DeferredWaiter : Waiter, IThreadPoolWorkItem
{
    /// <summary>Gets the lease granted to this waiter.</summary>
    public AttemptPermit Lease { get; private set; }

    /// <summary>Gets or sets the rebind count of the waiter's session when it was queued.</summary>
    public int SessionRebindsAtQueue { get; set; } = -1;

    /// <summary>Gets or sets the timestamp at which the waiter was queued.</summary>
    public long QueuedAt { get; set; }

    /// <summary>Gets the failure handed over by <see cref="OnFailed"/>, when the waiter could never be served.</summary>
    public Exception? Failure { get; private set; }

    public override void OnGranted(AttemptPermit lease)
    {
        Lease = lease;
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    public override void OnFailed(Exception failure)
    {
        Failure = failure;
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    /// <summary>Runs the work on a pool thread, holding <see cref="Lease"/>, or reports <see cref="Failure"/>.</summary>
    public abstract void Execute();
}
