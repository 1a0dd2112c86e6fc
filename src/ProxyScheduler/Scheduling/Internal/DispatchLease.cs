namespace ProxyScheduler.Scheduling.Internal;

/// <summary>The right to run one attempt to one host; given back with <see cref="Dispatcher.Release"/>.</summary>
internal readonly struct DispatchLease
{
    public DispatchLease(HostState host) => Host = host;

    public HostState Host { get; }
}
