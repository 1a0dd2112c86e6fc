namespace ProxyScheduler.Politeness.Internal;

/// <summary>
/// The robots.txt rules of the hosts seen (by origin: scheme, host, port), each fetched once and kept for
/// <see cref="RobotsOptions.CacheDuration"/>; at most <see cref="RobotsOptions.MaxHosts"/> are kept, the least recently
/// used forgotten first. Concurrent requests for a new host share one fetch. A robots.txt that could not be read
/// (<see cref="RobotsRules.Unreachable"/>) is kept only for <see cref="RobotsOptions.UnreachableRetryInterval"/> before it
/// is fetched again; while a host's earlier copy was read fine, that copy stays in force instead (RFC 9309, section 2.4).
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
        LinkedListNode<Entry> entry;
        RobotsRules? previous = null;
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
                previous = node.Value.LastGood;
            }

            fetch = new TaskCompletionSource<RobotsRules>(TaskCreationOptions.RunContinuationsAsynchronously);
            entry = _recent.AddFirst(new Entry(origin, fetch.Task, now + _options.CacheDuration));
            _entries[origin] = entry;
            while (_entries.Count > _options.MaxHosts && _recent.Last is { } oldest)
            {
                _recent.RemoveLast();
                _entries.Remove(oldest.Value.Origin);
            }
        }

        _ = FetchAsync(new Uri(new Uri(origin), "/robots.txt"), entry.Value, previous, fetch);
        return fetch.Task;
    }

#pragma warning disable CA1031 // Whatever the fetch throws becomes rules (a complete disallow); nothing escapes.
    private async Task FetchAsync(Uri robots, Entry entry, RobotsRules? previous, TaskCompletionSource<RobotsRules> result)
    {
        RobotsRules rules;
        try
        {
            // Off the caller's thread: the fetch and the parse never run inline in a request's SendAsync.
            await Task.Yield();
            rules = await _fetch(robots).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            rules = RobotsRules.DisallowAll(ex.GetType().Name);
        }

        lock (_lock)
        {
            if (rules.Unreachable is not null)
            {
                // Asked again soon; meanwhile the last copy read fine, if any, stays in force.
                entry.ExpiresAt = _time.GetUtcNow() + _options.UnreachableRetryInterval;
                entry.LastGood = previous;
                rules = previous ?? rules;
            }
            else
            {
                entry.LastGood = rules;
            }
        }

        result.TrySetResult(rules);
    }
#pragma warning restore CA1031

    private sealed class Entry(string origin, Task<RobotsRules> rules, DateTimeOffset expiresAt)
    {
        public string Origin { get; } = origin;

        public Task<RobotsRules> Rules { get; } = rules;

        public DateTimeOffset ExpiresAt { get; set; } = expiresAt;

        /// <summary>Gets or sets the last robots.txt of the origin that was read fine (kept in force while a later fetch fails).</summary>
        public RobotsRules? LastGood { get; set; }
    }
}
