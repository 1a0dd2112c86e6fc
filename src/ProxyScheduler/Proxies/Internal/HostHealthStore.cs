
namespace ProxyScheduler.Proxies.Internal;

/// <summary>
/// Health of (proxy, host) pairs: a decaying success average, a latency average and the host's block of the proxy.
/// Bounded: past the cap the oldest record that was not used since it was last checked is forgotten (second chance).
/// The last record looked up is remembered, since a dispatch asks about the same pair several times in a row.
/// Guarded by the dispatcher's lock.
/// </summary>
internal sealed class HostHealthStore
{
    private readonly Dictionary<(ProxyNode, HostKey), Entry> _entries = [];
    private readonly Queue<(ProxyNode, HostKey)> _order = new();
    private readonly int _capacity;
    private ProxyNode? _lastNode;
    private HostKey _lastHost;
    private Entry? _lastEntry;

    public HostHealthStore(int capacity) => _capacity = capacity;

    public int Count => _entries.Count;

    public bool TryGet(ProxyNode node, in HostKey host, out Entry entry)
    {
        if (node.HostRecords == 0)
        {
            entry = null!;
            return false;
        }

        if (ReferenceEquals(node, _lastNode) && _lastHost.Equals(host))
        {
            entry = _lastEntry!;
            entry.Used = true;
            return true;
        }

        if (_entries.TryGetValue((node, host), out entry!))
        {
            entry.Used = true;
            Remember(node, host, entry);
            return true;
        }

        return false;
    }

    public Entry GetOrAdd(ProxyNode node, in HostKey host)
    {
        if (TryGet(node, host, out var entry))
        {
            return entry;
        }

        var key = (node, host);

        while (_entries.Count >= _capacity && _order.TryDequeue(out var oldest))
        {
            if (_entries.TryGetValue(oldest, out var old) && old.Used)
            {
                old.Used = false;
                _order.Enqueue(oldest);
                continue;
            }

            if (_entries.Remove(oldest))
            {
                oldest.Item1.HostRecords--;
            }

            Forget();
        }

        entry = new Entry();
        _entries.Add(key, entry);
        node.HostRecords++;
        _order.Enqueue(key);
        Remember(node, host, entry);
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
        if (node.HostRecords == 0)
        {
            return;
        }

        foreach (var key in _entries.Keys.Where(k => ReferenceEquals(k.Item1, node)).ToList())
        {
            _entries.Remove(key);
        }

        node.HostRecords = 0;

        Forget();
    }

    private void Remember(ProxyNode node, in HostKey host, Entry entry)
    {
        _lastNode = node;
        _lastHost = host;
        _lastEntry = entry;
    }

    private void Forget()
    {
        _lastNode = null;
        _lastEntry = null;
    }

    internal sealed class Entry
    {
        public double Success { get; set; } = 1.0;

        public long LastSample { get; set; }

        /// <summary>Gets or sets the decaying average latency of successful attempts through the proxy to the host, in timestamp ticks.</summary>
        public double LatencyTicks { get; set; }

        /// <summary>Gets or sets a value indicating whether <see cref="LatencyTicks"/> holds at least one sample.</summary>
        public bool HasLatency { get; set; }

        public int Blocks { get; set; }

        public long BlockedUntil { get; set; }

        /// <summary>Gets or sets the target failures through the proxy that other proxies' answers from the host contradicted, since the pair's last success.</summary>
        public int PairFailures { get; set; }

        public bool Used { get; set; }
    }
}
