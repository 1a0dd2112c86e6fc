namespace ProxyScheduler.Scheduling.Internal;

/// <summary>
/// The waiters of one host: highest priority first, first-in first-out within a priority. One FIFO per priority
/// level in use (usually one), so queuing and dequeuing cost O(1) whatever the queue's length. Canceled waiters stay
/// until they are dequeued or the queue is compacted.
/// </summary>
internal sealed class HostQueue
{
    // Sorted by priority, highest first; a level is removed when it empties.
    private readonly List<(int Priority, Queue<Waiter> Items)> _levels = [];

    public void Enqueue(Waiter waiter, int priority)
    {
        var i = 0;
        for (; i < _levels.Count; i++)
        {
            var level = _levels[i].Priority;
            if (level == priority)
            {
                _levels[i].Items.Enqueue(waiter);
                return;
            }

            if (level < priority)
            {
                break;
            }
        }

        var items = new Queue<Waiter>();
        items.Enqueue(waiter);
        _levels.Insert(i, (priority, items));
    }

    public bool TryDequeue(out Waiter waiter)
    {
        while (_levels.Count > 0)
        {
            var items = _levels[0].Items;
            if (items.TryDequeue(out waiter!))
            {
                if (items.Count == 0)
                {
                    _levels.RemoveAt(0);
                }

                return true;
            }

            _levels.RemoveAt(0);
        }

        waiter = null!;
        return false;
    }

    /// <summary>Copies up to <paramref name="buffer"/>'s length of queued (live) waiters, in dispatch order.</summary>
    public int CollectLive(Waiter[] buffer)
    {
        var n = 0;
        foreach (var (_, items) in _levels)
        {
            foreach (var waiter in items)
            {
                if (waiter.State != Waiter.Queued)
                {
                    continue;
                }

                buffer[n++] = waiter;
                if (n == buffer.Length)
                {
                    return n;
                }
            }
        }

        return n;
    }

    /// <summary>Drops waiters that are no longer queued from the front of the queue; returns how many.</summary>
    public int TrimHead()
    {
        var removed = 0;
        while (_levels.Count > 0)
        {
            var items = _levels[0].Items;
            while (items.TryPeek(out var head) && head.State != Waiter.Queued)
            {
                items.Dequeue();
                removed++;
            }

            if (items.Count > 0)
            {
                break;
            }

            _levels.RemoveAt(0);
        }

        return removed;
    }

    /// <summary>Visits every waiter, canceled ones included, without changing the queue.</summary>
    public void ForEach<TState>(Action<Waiter, TState> action, TState state)
    {
        foreach (var (_, items) in _levels)
        {
            foreach (var waiter in items)
            {
                action(waiter, state);
            }
        }
    }

    /// <summary>Drops every waiter that is no longer queued, keeping the order of the others.</summary>
    public void Compact()
    {
        for (var i = _levels.Count - 1; i >= 0; i--)
        {
            var items = _levels[i].Items;
            var count = items.Count;
            for (var n = 0; n < count; n++)
            {
                var waiter = items.Dequeue();
                if (waiter.State == Waiter.Queued)
                {
                    items.Enqueue(waiter);
                }
            }

            if (items.Count == 0)
            {
                _levels.RemoveAt(i);
            }
        }
    }

    public void Clear() => _levels.Clear();
}
