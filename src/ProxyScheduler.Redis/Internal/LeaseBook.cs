namespace ProxyScheduler.Redis.Internal;

/// <summary>
/// What this worker holds, wants and gives back of each fleet resource (a host's or a proxy's limit, a rate-limited
/// host's start tokens): the lease arithmetic of the Redis coordinator, kept apart from any round trip so that it can be
/// tested on a fake clock. The dispatcher's requests only record here (<see cref="Want"/>, <see cref="WantTokens"/>,
/// <see cref="Return"/>); the coordinator's loop takes what to ask Redis for and records the answers. Thread-safe: one
/// lock of its own, never held while calling out.
/// </summary>
internal sealed class LeaseBook
{
    /// <summary>The first retry delay after a refused or failed ask; it doubles up to <see cref="MaxBackoff"/>.</summary>
    public static readonly TimeSpan MinBackoff = TimeSpan.FromMilliseconds(20);

    /// <summary>The longest retry delay: a freed share comes by message, the retries only cover a lost one.</summary>
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);

    private readonly object _sync = new();
    private readonly Dictionary<Resource, Leases> _resources = [];
    private readonly TimeProvider _time;
    private long _sequence;

    public LeaseBook(TimeProvider time) => _time = time;

    /// <summary>The resource wants <paramref name="count"/> more shares of its fleet-wide <paramref name="limit"/>.</summary>
    public void Want(Resource resource, int count, int limit, long now)
    {
        lock (_sync)
        {
            var leases = Get(resource);
            leases.Wanted += count;
            leases.Limit = limit;
            leases.NextTry = 0;
            if (leases.WantSince == 0)
            {
                leases.WantSince = now;
            }
        }
    }

    /// <summary>The resource wants up to <paramref name="count"/> start tokens of a bucket of <paramref name="rate"/> per second and <paramref name="burst"/>.</summary>
    public void WantTokens(Resource resource, int count, double rate, int burst, long now)
    {
        lock (_sync)
        {
            var leases = Get(resource);
            leases.TokensWanted = Math.Max(leases.TokensWanted, count);
            leases.Rate = rate;
            leases.Burst = burst;
            if (leases.WantSince == 0)
            {
                leases.WantSince = now;
            }
        }
    }

    /// <summary>The resource gives back <paramref name="count"/> shares it does not use.</summary>
    public void Return(Resource resource, int count)
    {
        lock (_sync)
        {
            Get(resource).Returned += count;
        }
    }

    /// <summary>
    /// Takes what is to be given back: local (fallback) shares first, which need no round trip, then as many held leases
    /// (the most recent first) as were returned; returns the leases to release in Redis.
    /// </summary>
    public List<(Resource Resource, string[] Members)> TakeReturns()
    {
        List<(Resource, string[])> releases = [];
        lock (_sync)
        {
            foreach (var (resource, leases) in _resources)
            {
                if (leases.Returned == 0)
                {
                    continue;
                }

                var local = Math.Min(leases.Local, leases.Returned);
                leases.Local -= local;
                leases.Returned -= local;
                var count = Math.Min(leases.Returned, leases.Members.Count);
                leases.Returned = 0;
                if (count > 0)
                {
                    releases.Add((resource, leases.Members.GetRange(leases.Members.Count - count, count).ToArray()));
                    leases.Members.RemoveRange(leases.Members.Count - count, count);
                }
            }
        }

        return releases;
    }

    /// <summary>
    /// Takes the shares to ask Redis for now (at most the limit per resource, each ask numbered from a running sequence,
    /// which names its leases), skipping resources in backoff or waiting for an answer. While <paramref name="fallbackShare"/>
    /// says so (Redis away, policy FallbackToLocal), grants locally instead: up to that fraction of the limit (at least 1).
    /// </summary>
    public (List<(Resource Resource, int Count, int Limit, long Sequence)> Asks, List<(Resource Resource, int Granted)> Local) TakeShareAsks(long now, Func<double?> fallbackShare)
    {
        List<(Resource, int, int, long)> asks = [];
        List<(Resource, int)> local = [];
        lock (_sync)
        {
            var fallback = fallbackShare();
            foreach (var (resource, leases) in _resources)
            {
                if (leases.Wanted <= 0 || leases.NextTry > now)
                {
                    continue;
                }

                if (fallback is { } share)
                {
                    var cap = Math.Max(1, (int)Math.Floor(leases.Limit * share));
                    var granted = Math.Max(0, Math.Min(leases.Wanted, cap - leases.Local - leases.Members.Count));
                    if (granted > 0)
                    {
                        leases.Local += granted;
                        leases.Wanted -= granted;
                        local.Add((resource, granted));
                    }

                    Backoff(leases, now);
                    continue;
                }

                var count = Math.Min(leases.Wanted, leases.Limit);
                asks.Add((resource, count, leases.Limit, _sequence));
                _sequence += count;
                leases.NextTry = long.MaxValue; // until the answer
            }
        }

        return (asks, local);
    }

    /// <summary>
    /// Redis granted <paramref name="granted"/> of the <paramref name="asked"/> shares (leases named
    /// <c>{worker}:{sequence + i}</c>); <paramref name="waiting"/> workers wait for the resource, this one included when it
    /// did not get all. Returns whether others wait for it and the fair share of each.
    /// </summary>
    public (bool Contended, int Fair) Acquired(Resource resource, int granted, int waiting, int asked, int limit, long sequence, string workerId, long now)
    {
        lock (_sync)
        {
            var leases = Get(resource);
            for (var i = 1; i <= granted; i++)
            {
                leases.Members.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{workerId}:{sequence + i}"));
            }

            leases.Wanted = Math.Max(0, leases.Wanted - granted);
            var others = waiting - (granted < asked ? 1 : 0);
            leases.Contended = others > 0;
            if (leases.Wanted == 0)
            {
                leases.WantSince = leases.TokensWanted > 0 ? leases.WantSince : 0;
                leases.NextTry = 0;
                leases.Backoff = TimeSpan.Zero;
            }
            else
            {
                Backoff(leases, now);
            }

            return (others > 0, FairShare(limit, others));
        }
    }

    /// <summary>Another worker handed one of its leases straight to this one (it waited): it holds it now.</summary>
    public void Handed(Resource resource, string member)
    {
        lock (_sync)
        {
            var leases = Get(resource);
            leases.Members.Add(member);
            leases.Wanted = Math.Max(0, leases.Wanted - 1);
            if (leases.Wanted == 0)
            {
                leases.WantSince = leases.TokensWanted > 0 ? leases.WantSince : 0;
                leases.Backoff = TimeSpan.Zero;
            }
        }
    }

    /// <summary>The ask for the resource's shares failed (Redis did not answer): it is tried again after a backoff.</summary>
    public void AskFailed(Resource resource, long now)
    {
        lock (_sync)
        {
            Backoff(Get(resource), now);
        }
    }

    /// <summary>
    /// Takes the start tokens to ask Redis for now. While <paramref name="fallbackShare"/> says so, grants one token
    /// locally instead and spaces the next by this worker's share of the rate.
    /// </summary>
    public (List<(Resource Resource, int Count, double Rate, int Burst)> Asks, List<(Resource Resource, int Count)> Local) TakeTokenAsks(long now, Func<double?> fallbackShare)
    {
        List<(Resource, int, double, int)> asks = [];
        List<(Resource, int)> local = [];
        lock (_sync)
        {
            var fallback = fallbackShare();
            foreach (var (resource, leases) in _resources)
            {
                if (leases.TokensWanted <= 0 || leases.NextToken > now)
                {
                    continue;
                }

                if (fallback is { } share)
                {
                    // Alone: this worker's share of the rate, one token at a time.
                    local.Add((resource, 1));
                    leases.TokensWanted = 0;
                    leases.NextToken = now + (long)(_time.TimestampFrequency / Math.Max(leases.Rate * share, 0.001));
                    continue;
                }

                asks.Add((resource, leases.TokensWanted, leases.Rate, leases.Burst));
                leases.NextToken = long.MaxValue; // until the answer
            }
        }

        return (asks, local);
    }

    /// <summary>Redis granted <paramref name="granted"/> tokens of the <paramref name="asked"/>, or none and the next one in <paramref name="waitMs"/>.</summary>
    public void TokensAnswered(Resource resource, int granted, long waitMs, int asked, long now)
    {
        lock (_sync)
        {
            var leases = Get(resource);
            leases.TokensWanted = granted > 0 ? 0 : asked;
            leases.NextToken = granted > 0 ? 0 : now + (long)(Math.Max(1, waitMs) / 1000.0 * _time.TimestampFrequency);
            if (granted > 0 && leases.Wanted == 0)
            {
                leases.WantSince = 0;
            }
        }
    }

    /// <summary>The ask for tokens failed: it is tried again in 100 ms.</summary>
    public void TokensFailed(Resource resource, long now)
    {
        lock (_sync)
        {
            Get(resource).NextToken = now + (long)(0.1 * _time.TimestampFrequency);
        }
    }

    /// <summary>The leases held now, to renew: per resource its members, its limit and whether it wants more.</summary>
    public List<(Resource Resource, string[] Members, int Limit, bool Wanting)> Held()
    {
        List<(Resource, string[], int, bool)> held = [];
        lock (_sync)
        {
            foreach (var (resource, leases) in _resources)
            {
                if (leases.Members.Count > 0)
                {
                    held.Add((resource, [.. leases.Members], leases.Limit, leases.Wanted > 0));
                }
            }
        }

        return held;
    }

    /// <summary>
    /// Redis renewed the leases of <paramref name="resource"/> except <paramref name="lost"/> (expired: no longer this
    /// worker's); <paramref name="waiting"/> workers wait for it. Returns how many were lost, whether others wait and the fair share.
    /// </summary>
    public (int Lost, bool Contended, int Fair) Renewed(Resource resource, IReadOnlySet<string> lost, int waiting, int limit, bool wanting)
    {
        lock (_sync)
        {
            var leases = Get(resource);
            var removed = lost.Count == 0 ? 0 : leases.Members.RemoveAll(lost.Contains);
            var others = Math.Max(0, waiting - (wanting ? 1 : 0));
            leases.Contended = others > 0;
            return (removed, others > 0, FairShare(limit, others));
        }
    }

    /// <summary>Forgets every lease (not renewed for a whole TTL, or the worker stops): returns how many each resource lost.</summary>
    public List<(Resource Resource, string[] Members)> TakeAllLeases()
    {
        List<(Resource, string[])> taken = [];
        lock (_sync)
        {
            foreach (var (resource, leases) in _resources)
            {
                if (leases.Members.Count > 0)
                {
                    taken.Add((resource, [.. leases.Members]));
                    leases.Members.Clear();
                }
            }
        }

        return taken;
    }

    /// <summary>Redis answers again: the local (fallback) shares are taken back (the fleet's replace them as the work asks again).</summary>
    public List<(Resource Resource, int Count)> TakeLocal()
    {
        List<(Resource, int)> local = [];
        lock (_sync)
        {
            foreach (var (resource, leases) in _resources)
            {
                if (leases.Local > 0)
                {
                    local.Add((resource, leases.Local));
                    leases.Local = 0;
                }
            }
        }

        return local;
    }

    /// <summary>
    /// The hosts (not proxies) that want shares or tokens and have wanted them since before <paramref name="cutoff"/>
    /// (every host that wants, with <see cref="long.MaxValue"/>): they want nothing more, and are returned for their
    /// queued requests to fail.
    /// </summary>
    public List<Resource> DropHostWants(long cutoff)
    {
        List<Resource> dropped = [];
        lock (_sync)
        {
            foreach (var (resource, leases) in _resources)
            {
                if (!resource.IsProxy && (leases.Wanted > 0 || leases.TokensWanted > 0) && (cutoff == long.MaxValue || (leases.WantSince != 0 && leases.WantSince <= cutoff)))
                {
                    leases.Wanted = 0;
                    leases.TokensWanted = 0;
                    leases.WantSince = 0;
                    dropped.Add(resource);
                }
            }
        }

        return dropped;
    }

    /// <summary>Gets what the book holds of <paramref name="resource"/> (for tests and diagnostics): leases, local shares, wanted shares and tokens.</summary>
    public (int Leases, int Local, int Wanted, int TokensWanted, bool Contended) Of(Resource resource)
    {
        lock (_sync)
        {
            return _resources.TryGetValue(resource, out var l) ? (l.Members.Count, l.Local, l.Wanted, l.TokensWanted, l.Contended) : default;
        }
    }

    /// <summary>The share of <paramref name="limit"/> each of this worker and <paramref name="others"/> should keep.</summary>
    public static int FairShare(int limit, int others) => (int)Math.Ceiling(limit / (double)(1 + Math.Max(0, others)));

    private void Backoff(Leases leases, long now)
    {
        leases.Backoff = leases.Backoff == TimeSpan.Zero ? MinBackoff : TimeSpan.FromTicks(Math.Min(leases.Backoff.Ticks * 2, MaxBackoff.Ticks));
        leases.NextTry = now + (long)(leases.Backoff.TotalSeconds * _time.TimestampFrequency);
    }

    private Leases Get(Resource resource)
    {
        if (!_resources.TryGetValue(resource, out var leases))
        {
            leases = new Leases();
            _resources.Add(resource, leases);
        }

        return leases;
    }

    /// <summary>What this worker holds and wants of one resource.</summary>
    private sealed class Leases
    {
        public List<string> Members { get; } = [];

        public int Local { get; set; }

        public int Wanted { get; set; }

        public int Returned { get; set; }

        public int Limit { get; set; } = 1;

        public long NextTry { get; set; }

        public long WantSince { get; set; }

        public TimeSpan Backoff { get; set; }

        public bool Contended { get; set; }

        public int TokensWanted { get; set; }

        public double Rate { get; set; } = 1;

        public int Burst { get; set; } = 1;

        public long NextToken { get; set; }
    }
}
