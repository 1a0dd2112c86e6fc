namespace ProxyScheduler.Politeness.Internal;

/// <summary>
/// The robots.txt rules of the hosts seen (by origin: scheme, host, port), each fetched once and kept for
/// <see cref="RobotsOptions.CacheDuration"/>; at most <see cref="RobotsOptions.MaxHosts"/> are kept, the least recently
/// used forgotten first. Concurrent requests for a new host share one fetch.
/// </summary>
internal sealed class RobotsCache
{
    private readonly RobotsOptions _options;
    private readonly TimeProvider _time;
    private readonly Func<Uri, Task<RobotsRules>> _fetch;
    private readonly object _lock = new();
    private readonly Dictionary<string, LinkedListNode<Entry>> _entries = new(StringComparer.OrdinalIgnoreCase);
    private readonly LinkedList<Entry> _recent = new();

    public RobotsCache(RobotsOptions options, TimeProvider time, Func<Uri, Task<RobotsRules>> fetch)
    {
        _options = options;
        _time = time;
        _fetch = fetch;
    }

    public RobotsOptions Options => _options;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>The rules for <paramref name="uri"/>'s origin: cached, or being fetched (the task completes with them; it never faults).</summary>
    public Task<RobotsRules> GetAsync(Uri uri)
    {
        var origin = uri.GetLeftPart(UriPartial.Authority);
        TaskCompletionSource<RobotsRules> fetch;
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            if (_entries.TryGetValue(origin, out var node))
            {
                if (node.Value.ExpiresAt > now)
                {
                    _recent.Remove(node);
                    _recent.AddFirst(node);
                    return node.Value.Rules;
                }

                _recent.Remove(node);
                _entries.Remove(origin);
            }

            fetch = new TaskCompletionSource<RobotsRules>(TaskCreationOptions.RunContinuationsAsynchronously);
            var entry = _recent.AddFirst(new Entry(origin, fetch.Task, now + _options.CacheDuration));
            _entries[origin] = entry;
            while (_entries.Count > _options.MaxHosts && _recent.Last is { } oldest)
            {
                _recent.RemoveLast();
                _entries.Remove(oldest.Value.Origin);
            }
        }

        _ = FetchAsync(new Uri(new Uri(origin), "/robots.txt"), fetch);
        return fetch.Task;
    }

#pragma warning disable CA1031 // A robots.txt that cannot be fetched allows everything; nothing escapes.
    private async Task FetchAsync(Uri robots, TaskCompletionSource<RobotsRules> result)
    {
        try
        {
            result.TrySetResult(await _fetch(robots).ConfigureAwait(false));
        }
        catch (Exception)
        {
            result.TrySetResult(RobotsRules.AllowAll);
        }
    }
#pragma warning restore CA1031

    private sealed record Entry(string Origin, Task<RobotsRules> Rules, DateTimeOffset ExpiresAt);
}
