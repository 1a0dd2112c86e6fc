namespace ProxyScheduler.Scheduling.Internal;

/// <summary>The order of waiters in a host queue: higher priority first, then submission order.</summary>
internal readonly record struct WaiterOrder(int Priority, long Sequence);

/// <summary>Compares <see cref="WaiterOrder"/> values so that the smallest is the next to dispatch.</summary>
internal sealed class WaiterOrderComparer : IComparer<WaiterOrder>
{
    public static readonly WaiterOrderComparer Instance = new();

    public int Compare(WaiterOrder x, WaiterOrder y)
    {
        var c = y.Priority.CompareTo(x.Priority);
        return c != 0 ? c : x.Sequence.CompareTo(y.Sequence);
    }
}
