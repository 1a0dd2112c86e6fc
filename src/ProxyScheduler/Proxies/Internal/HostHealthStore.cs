using ProxyScheduler.Scheduling.Internal;

namespace ProxyScheduler.Proxies.Internal;

/// <summary>
/// Health of (proxy, host) pairs: a decaying success average and the host's block of the proxy. Only pairs with something
/// to remember get a record (a failure or a block; a clean success needs none). Bounded: past the cap the oldest record
/// that was not used since it was last checked is forgotten (second chance). Guarded by the dispatcher's lock.
/// </summary>
internal sealed class HostHealthStore
{
    private readonly Dictionary<(ProxyNode, HostKey), Entry> _entries = [];
    private readonly Queue<(ProxyNode, HostKey)> _order = new();
    private readonly int _capacity;

    public HostHealthStore(int capacity) => _capacity = capacity;

    public int Count => _entries.Count;

    public bool TryGet(ProxyNode node, in HostKey host, out Entry entry)
    {
        if (_entries.Count == 0)
        {
            entry = null!;
            return false;
        }

        if (_entries.TryGetValue((node, host), out entry!))
        {
            entry.Used = true;
            return true;
        }

        return false;
    }

    public Entry GetOrAdd(ProxyNode node, in HostKey host)
    {
        var key = (node, host);
        if (_entries.TryGetValue(key, out var entry))
        {
            entry.Used = true;
            return entry;
        }

        while (_entries.Count >= _capacity && _order.TryDequeue(out var oldest))
        {
            if (_entries.TryGetValue(oldest, out var old) && old.Used)
            {
                old.Used = false;
                _order.Enqueue(oldest);
                continue;
            }

            _entries.Remove(oldest);
        }

        entry = new Entry();
        _entries.Add(key, entry);
        _order.Enqueue(key);
        if (_order.Count > 2 * Math.Max(_entries.Count, 64))
        {
            // Keys of records removed with their proxy linger in the order queue; drop them once they dominate it.
            var live = _order.Where(_entries.ContainsKey).ToList();
            _order.Clear();
            foreach (var k in live)
            {
                _order.Enqueue(k);
            }
        }

        return entry;
    }

    /// <summary>Forgets every record of a proxy that left the pool.</summary>
    public void RemoveAll(ProxyNode node)
    {
        if (_entries.Count == 0)
        {
            return;
        }

        foreach (var key in _entries.Keys.Where(k => ReferenceEquals(k.Item1, node)).ToList())
        {
            _entries.Remove(key);
        }
    }

    internal sealed class Entry
    {
        public double Success { get; set; } = 1.0;

        public long LastSample { get; set; }

        public int Blocks { get; set; }

        public long BlockedUntil { get; set; }

        public bool Used { get; set; }
    }
}
