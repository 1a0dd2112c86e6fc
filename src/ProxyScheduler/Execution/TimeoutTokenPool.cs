using System.Collections.Concurrent;

namespace ProxyScheduler.Execution;

/// <summary>
/// Cancellation sources that cancel themselves after a timeout, reused across attempts (as Polly's timeout strategy
/// does) so that an attempt allocates no source or timer of its own. Only sources that were never canceled are reused.
/// </summary>
internal sealed class TimeoutTokenPool
{
    private const int MaxPooled = 1024;

    private readonly TimeProvider _time;
    private readonly ConcurrentQueue<CancellationTokenSource> _pool = new();
    private int _count;

    public TimeoutTokenPool(TimeProvider time) => _time = time;

    public CancellationTokenSource Rent(TimeSpan timeout)
    {
        if (_time != TimeProvider.System)
        {
            // A custom clock (a FakeTimeProvider in tests) needs a source bound to its own timers.
            return new CancellationTokenSource(timeout, _time);
        }

        if (_pool.TryDequeue(out var source))
        {
            Interlocked.Decrement(ref _count);
        }
        else
        {
            source = new CancellationTokenSource();
        }

#pragma warning disable RS0030 // The clock is TimeProvider.System, whose timers are the ones CancelAfter uses.
        source.CancelAfter(timeout);
#pragma warning restore RS0030
        return source;
    }

    public void Return(CancellationTokenSource source)
    {
        if (_time == TimeProvider.System && source.TryReset() && Interlocked.Increment(ref _count) <= MaxPooled)
        {
            _pool.Enqueue(source);
            return;
        }

        if (_time == TimeProvider.System && !source.IsCancellationRequested)
        {
            Interlocked.Decrement(ref _count);
        }

        source.Dispose();
    }
}
