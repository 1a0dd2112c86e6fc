using ProxyScheduler.Proxies.Internal;

namespace ProxyScheduler.Proxies;

/// <summary>The proxies that meet one attempt's requirement, as offered to an <see cref="IProxySelector"/>.</summary>
public readonly struct ProxyCandidates
{
    private readonly ProxyPool _pool;
    private readonly CandidateSet _set;
    private readonly ProxyNode[] _members;
    private readonly ITargetHost _host;
    private readonly List<ProxyNode>? _excluded;
    private readonly long _now;
    private readonly bool _spread;

    internal ProxyCandidates(ProxyPool pool, CandidateSet set, ITargetHost host, List<ProxyNode>? excluded, long now, bool spread)
    {
        _pool = pool;
        _set = set;
        _members = set.Members;
        _host = host;
        _excluded = excluded;
        _now = now;
        _spread = spread;
    }

    /// <summary>Gets the number of candidates (available or not).</summary>
    public int Count => _members.Length;

    /// <summary>Returns a value indicating whether candidate <paramref name="index"/> may take the attempt now.</summary>
    /// <param name="index">The candidate's index.</param>
    /// <returns><see langword="true"/> when every rule allows the candidate now.</returns>
    public bool IsAvailable(int index) => _pool.IsAvailable(_members[index], _host, _excluded, _now, _spread);

    /// <summary>Gets the attempts in flight through candidate <paramref name="index"/>.</summary>
    /// <param name="index">The candidate's index.</param>
    /// <returns>The count.</returns>
    public int GetInFlight(int index) => _members[index].InFlight;

    /// <summary>Gets the most attempts candidate <paramref name="index"/> may carry at once.</summary>
    /// <param name="index">The candidate's index.</param>
    /// <returns>The limit.</returns>
    public int GetMaxConcurrency(int index) => _members[index].MaxConcurrency;

    /// <summary>
    /// Gets candidate <paramref name="index"/>'s health for this attempt's host, from 0 (useless) to 1 (perfect): its
    /// decaying success rate overall and with this host, discounted by its latency.
    /// </summary>
    /// <param name="index">The candidate's index.</param>
    /// <returns>The score.</returns>
    public double GetScore(int index) => _pool.Score(_members[index], _host, _now);

    /// <summary>Gets candidate <paramref name="index"/>'s endpoint (for tag-aware strategies).</summary>
    /// <param name="index">The candidate's index.</param>
    /// <returns>The endpoint.</returns>
    public ProxyEndpoint GetEndpoint(int index) => _members[index].Endpoint;

    /// <summary>Gets a random number in [0, <paramref name="maxExclusive"/>) from the pool's shared generator.</summary>
    /// <param name="maxExclusive">The exclusive upper bound.</param>
    /// <returns>The number.</returns>
#pragma warning disable CA5394, CA1822 // Selection needs no cryptographic randomness; an instance member so strategies need no static state.
    public int NextRandom(int maxExclusive) => Random.Shared.Next(maxExclusive);
#pragma warning restore CA5394, CA1822

    /// <summary>Gets a cursor the strategy may keep between calls (for round-robin), shared by all attempts with this requirement.</summary>
    /// <returns>A reference to the cursor.</returns>
    public ref int Cursor => ref _set.Cursor;
}
