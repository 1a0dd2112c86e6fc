namespace ProxyScheduler.Testing;

/// <summary>Counts, server-side, the requests one virtual host is working on, and the most it ever worked on at once.</summary>
public sealed class HostCounter
{
    private int _inFlight;
    private int _maxInFlight;
    private long _received;
    private long _completed;

    public HostCounter(int port) => Port = port;

    public int Port { get; }

    public int InFlight => Volatile.Read(ref _inFlight);

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    public long Received => Interlocked.Read(ref _received);

    public long Completed => Interlocked.Read(ref _completed);

    public int Enter()
    {
        Interlocked.Increment(ref _received);
        var now = Interlocked.Increment(ref _inFlight);
        UpdateMax(ref _maxInFlight, now);
        return now;
    }

    public void Exit()
    {
        Interlocked.Decrement(ref _inFlight);
        Interlocked.Increment(ref _completed);
    }

    public void Reset()
    {
        Volatile.Write(ref _maxInFlight, Volatile.Read(ref _inFlight));
        Interlocked.Exchange(ref _received, 0);
        Interlocked.Exchange(ref _completed, 0);
    }

    internal static void UpdateMax(ref int max, int value)
    {
        var current = Volatile.Read(ref max);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref max, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
