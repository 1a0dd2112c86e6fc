namespace ProxyScheduler.Dispatch;

/// <summary>
/// The waiters of one host: highest priority first, first-in first-out within a priority. One FIFO per priority
/// level in use (usually one), so queuing and dequeuing cost O(1) whatever the queue's length. Entries that are no
/// longer live (canceled, granted out of order, held by a gate) stay until they are dequeued or the queue is compacted.
/// </summary>
/// <remarks>
/// An entry is live when its waiter is <see cref="Waiter.Queued"/> and the entry is the waiter's latest (its stamp):
/// a waiter a gate held and gave back is queued again at the end, and its old entry, further ahead, stays dead.
/// </remarks>
internal sealed class HostQueue
{
    // Sorted by priority, highest first; a level is removed when it empties.
    private readonly List<(int Priority, Queue<Entry> Items)> _levels = [];

    public void Enqueue(Waiter waiter, int priority)
    {
        var entry = new Entry(waiter, ++waiter.Stamp);
        var i = 0;
        for (; i < _levels.Count; i++)
        {
            var level = _levels[i].Priority;
            if (level == priority)
            {
                _levels[i].Items.Enqueue(entry);
                return;
            }

            if (level < priority)
            {
                break;
            }
        }

        var items = new Queue<Entry>();
        items.Enqueue(entry);
        _levels.Insert(i, (priority, items));
    }

    /// <summary>Takes the first entry, live or not.</summary>
    public bool TryDequeue(out Waiter waiter, out bool live)
    {
        while (_levels.Count > 0)
        {
            var items = _levels[0].Items;
            if (items.TryDequeue(out var entry))
            {
                if (items.Count == 0)
                {
                    _levels.RemoveAt(0);
                }

                waiter = entry.Waiter;
                live = entry.IsLive;
                return true;
            }

            _levels.RemoveAt(0);
        }

        waiter = null!;
        live = false;
        return false;
    }

    /// <summary>Copies up to <paramref name="buffer"/>'s length of live waiters, in dispatch order.</summary>
    public int CollectLive(Waiter[] buffer)
    {
        var n = 0;
        foreach (var (_, items) in _levels)
        {
            foreach (var entry in items)
            {
                if (!entry.IsLive)
                {
                    continue;
                }

                buffer[n++] = entry.Waiter;
                if (n == buffer.Length)
                {
                    return n;
                }
            }
        }

        return n;
    }

    /// <summary>Drops entries that are no longer live from the front of the queue; returns how many.</summary>
    public int TrimHead()
    {
        var removed = 0;
        while (_levels.Count > 0)
        {
            var items = _levels[0].Items;
            while (items.TryPeek(out var head) && !head.IsLive)
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

    /// <summary>Visits every live waiter once, without changing the queue.</summary>
    public void ForEachLive<TState>(Action<Waiter, TState> action, TState state)
    {
        foreach (var (_, items) in _levels)
        {
            foreach (var entry in items)
            {
                if (entry.IsLive)
                {
                    action(entry.Waiter, state);
                }
            }
        }
    }

    /// <summary>Drops every entry that is no longer live, keeping the order of the others.</summary>
    public void Compact()
    {
        for (var i = _levels.Count - 1; i >= 0; i--)
        {
            var items = _levels[i].Items;
            var count = items.Count;
            for (var n = 0; n < count; n++)
            {
                var entry = items.Dequeue();
                if (entry.IsLive)
                {
                    items.Enqueue(entry);
                }
            }

            if (items.Count == 0)
            {
                _levels.RemoveAt(i);
            }
        }
    }

    public void Clear() => _levels.Clear();

    private readonly record struct Entry(Waiter Waiter, int Stamp)
    {
        public bool IsLive => Waiter.State == Waiter.Queued && Waiter.Stamp == Stamp;
    }
}
