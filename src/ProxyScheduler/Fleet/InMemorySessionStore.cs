using ProxyScheduler.Proxies.Sessions;

namespace ProxyScheduler.Fleet;

/// <summary>
/// Sessions in memory, at most <see cref="SessionOptions.MaxSessions"/>; past it the least recently used is forgotten.
/// The default session store of one process, and the local table a fleet-wide store (ProxyScheduler.Redis) keeps in front
/// of the shared one: it lives in the fleet port for that reason.
/// </summary>
internal sealed class InMemorySessionStore : ISessionStore
{
    private readonly object _lock = new();
    private readonly Dictionary<string, LinkedListNode<SessionState>> _sessions = new(StringComparer.Ordinal);
    private readonly LinkedList<SessionState> _recent = new();
    private readonly int _capacity;

    public InMemorySessionStore(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _capacity = capacity;
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _sessions.Count;
            }
        }
    }

    public SessionState GetOrCreate(string key, DateTimeOffset now)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        lock (_lock)
        {
            if (_sessions.TryGetValue(key, out var node))
            {
                _recent.Remove(node);
                _recent.AddFirst(node);
                return node.Value;
            }

            while (_sessions.Count >= _capacity && _recent.Last is { } oldest)
            {
                _recent.RemoveLast();
                _sessions.Remove(oldest.Value.Key);
            }

            node = _recent.AddFirst(new SessionState(key, now));
            _sessions.Add(key, node);
            return node.Value;
        }
    }

    public bool Remove(string key)
    {
        lock (_lock)
        {
            if (!_sessions.Remove(key, out var node))
            {
                return false;
            }

            _recent.Remove(node);
            return true;
        }
    }
}
