namespace ProxyScheduler.Scheduling.Internal;

/// <summary>An attempt waiting in a host queue; completed by the dispatcher with a lease, or canceled.</summary>
internal sealed class Waiter : TaskCompletionSource<DispatchLease>
{
    public const int Queued = 0;
    public const int Granted = 1;
    public const int Canceled = 2;

    public Waiter(Dispatcher owner, HostState host)
        : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        Owner = owner;
        Host = host;
    }

    public Dispatcher Owner { get; }

    public HostState Host { get; }

    /// <summary>Guarded by the dispatcher's lock.</summary>
    public int State { get; set; }
}
