using System.Globalization;
using Microsoft.Extensions.Logging;
using ProxyScheduler.Classification.Internal;
using ProxyScheduler.Diagnostics.Internal;
using ProxyScheduler.Fleet;

namespace ProxyScheduler.Proxies.Internal;

/// <summary>
/// The proxies, their limits and their health. Every member is called under the dispatcher's lock, so that a dispatch
/// takes the host permit, the proxy permit and the global permit in one step, never holding one while waiting for
/// another. Selection is allocation-free: candidates are pre-filtered arrays per requirement, rebuilt only when the
/// pool's membership changes.
/// </summary>
internal sealed partial class ProxyPool
{
    private const double Alpha = 0.2;

    private readonly ProxyPoolOptions _options;
    private readonly IProxySelector _selector;
    private readonly TimeProvider _time;
    private readonly ProxyIdentityRegistry _registry;
    private readonly ILogger _logger;
    private readonly SchedulerMetrics _metrics;
    private readonly HostHealthStore _hostHealth;
    private readonly ProxyFleetShares _shares;
    private readonly Dictionary<string, ProxyNode> _byId = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _groupIds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CandidateSet> _sets = new(StringComparer.Ordinal);
    private readonly PriorityQueue<ProxyNode, long> _quarantined = new();
    private bool _applyingFleetEvent;
    private readonly List<ProxyNode> _dueProbes = [];
    private readonly Queue<ProxyNode> _dynamic = new();
    private readonly double _halfLifeTicks;
    private readonly double _ticksPerMs;
    private readonly long _latencyFloorTicks;
    private ProxyNode[] _nodes = [];
    private int _version;
    private int _activeCount;
    private int _quarantinedCount;
    private bool _outage;

    /// <summary>Gets or sets the fleet coordinator told of local health changes (distributed mode); <see langword="null"/> otherwise.</summary>
    public IFleetCoordinator? Fleet
    {
        get => _shares.Coordinator;
        set => _shares.Attach(value, _byId.Values);
    }

    /// <summary>
    /// The proxy a new session should bind to in a fleet, the same in every worker: of the healthy listed proxies meeting
    /// <paramref name="requirement"/> (not blocked by the host, not excluded), the one whose hash with the session key is
    /// highest (rendezvous hashing). Workers that see a session's first requests at the same moment then agree without
    /// asking each other, and a proxy leaving moves only its own sessions.
    /// </summary>
    public ProxyNode? Rendezvous(string sessionKey, ProxyRequirement requirement, ITargetHost host, List<ProxyNode>? excluded, long now)
    {
        ProxyNode? best = null;
        var bestScore = 0UL;
        foreach (var node in GetSet(requirement).Members)
        {
            if (node.State != ProxyHealthState.Healthy || node.Removed || node.Parent is not null || node.Endpoint.Gateway is not null
                || IsExcluded(excluded, node) || IsBlocked(node, host.Key, now))
            {
                continue;
            }

            var score = RendezvousHash.Of(sessionKey, node.Endpoint.Id);
            if (best is null || score > bestScore)
            {
                best = node;
                bestScore = score;
            }
        }

        return best;
    }

    /// <summary>The fleet granted start tokens of a paced proxy.</summary>
    public bool GrantProxyTokens(string proxyId, int granted)
    {
        if (!_byId.TryGetValue(proxyId, out var node))
        {
            return false;
        }

        ProxyFleetShares.TokensGranted(node, granted);
        return true;
    }

    /// <summary>The fleet granted shares of a proxy (or took some back: negative).</summary>
    public bool ChangeProxyShares(string proxyId, int delta, bool answer)
    {
        return _shares.Change(_byId.GetValueOrDefault(proxyId), proxyId, delta, answer);
    }

    /// <summary>Gives back the shares of proxies unused for <paramref name="lingerTicks"/> (all of them for a proxy that is not healthy).</summary>
    public void SweepProxyShares(long now, long lingerTicks) => _shares.Sweep(now, lingerTicks);

    public ProxyPool(ProxyPoolOptions options, IProxySelector selector, TimeProvider time, ProxyIdentityRegistry registry, ILogger logger, SchedulerMetrics metrics)
    {
        _options = options;
        _selector = selector;
        _time = time;
        _registry = registry;
        _logger = logger;
        _metrics = metrics;
        _hostHealth = new HostHealthStore(options.MaxHostHealthEntries);
        _shares = new ProxyFleetShares(time);
        _halfLifeTicks = ToTicks(options.HealthHalfLife);
        _ticksPerMs = time.TimestampFrequency / 1000.0;
        _latencyFloorTicks = (long)(_ticksPerMs * 10);
    }

    /// <summary>Gets the number of proxies listed (retired ones included, drained ones not).</summary>
    public int Count => _nodes.Length;

    /// <summary>Gets how many proxies serve now (listed, not quarantined, retired or draining).</summary>
    public int ServingCount => _activeCount - _quarantinedCount;

    /// <summary>Contradicted target failures in a row through a proxy to one host before the pair rests.</summary>
    private const int PairRestAfter = 2;

    /// <summary>Different hosts in a row whose contradicted failures make the proxy itself to blame.</summary>
    private const int PairSpreadHosts = 2;

    /// <summary>Contradicted failures in a row, over <see cref="PairSpreadHosts"/> hosts, that make a proxy which has carried attempts before to blame.</summary>
    private const int PairBlameRun = 5;

    /// <summary>Contradicted failures that make a proxy which has never carried an attempt to a host and back to blame.</summary>
    private const int PairBlameBeforeAnyAnswer = 3;

    public bool InOutage => _outage;

    /// <summary>Finds a listed proxy by its id.</summary>
    public ProxyNode? Find(string id) => _byId.GetValueOrDefault(id);

    /// <summary>Gets a value indicating whether requests fail at once when every proxy able to serve them is quarantined.</summary>
    public bool FailFast => _options.WhenUnavailable == ProxyUnavailableBehavior.FailFast;

    /// <summary>Gets the distinct spread groups among all proxies; group counting per host is skipped with one group.</summary>
    public int GroupCount => _groupIds.Count;

    /// <summary>
    /// Looks for a proxy for one attempt of <paramref name="requirement"/> to <paramref name="host"/>. A proxy whose
    /// quarantine has ended is taken first, as its probe. <paramref name="wakeAt"/> is the earliest timestamp at which a
    /// proxy that is resting now (delay, block, quarantine) may become available; capacity freed by a release wakes
    /// waiters separately.
    /// </summary>
    public ProxyVerdict TrySelect(ProxyRequirement requirement, ITargetHost host, List<ProxyNode>? excluded, long now, out ProxyNode? node, out bool probe, out long wakeAt)
    {
        node = null;
        probe = false;
        wakeAt = long.MaxValue;
        var set = GetSet(requirement);
        if (set.Members.Length == 0)
        {
            return ProxyVerdict.NoMatch;
        }

        PromoteDueProbes(now);
        if (_dueProbes.Count > 0 && TryTakeProbe(requirement, host, excluded, now, out node))
        {
            probe = true;
            return ProxyVerdict.Selected;
        }

        var spread = set.GroupCount > 1 && _options.MaxGroupShare < 1.0;
        if (!_outage)
        {
            var candidates = new ProxyCandidates(this, set, host, excluded, now, spread);
            var index = _selector.Choose(in candidates);
            if ((uint)index < (uint)set.Members.Length && IsAvailable(set.Members[index], host, excluded, now, spread))
            {
                node = set.Members[index];
                return ProxyVerdict.Selected;
            }
        }

        return Scan(set, host, excluded, now, spread, out node, out wakeAt);
    }

    /// <summary>Whether some proxy meeting <paramref name="requirement"/> could still take the request (now or after a rest), other than <paramref name="excluded"/>.</summary>
    public bool HasCandidate(ProxyRequirement requirement, List<ProxyNode>? excluded, bool healthyOnly = false, HostKey? host = null, long now = 0)
    {
        foreach (var node in GetSet(requirement).Members)
        {
            if ((node.State == ProxyHealthState.Healthy || (!healthyOnly && node.State == ProxyHealthState.Quarantined)) && !node.Removed && !IsExcluded(excluded, node)
                && !(host is { } h && IsBlocked(node, h, now)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether <paramref name="node"/> may take an attempt to <paramref name="host"/> now (probes aside). In a fleet, a
    /// proxy held back only for want of shares asks for more.
    /// </summary>
    public bool IsAvailable(ProxyNode node, ITargetHost host, List<ProxyNode>? excluded, long now, bool spread)
    {
        if (node.State != ProxyHealthState.Healthy || _outage || now < node.NextStart || IsExcluded(excluded, node) || IsBlocked(node, host.Key, now)
            || (spread && !GroupAllows(host, node)))
        {
            return false;
        }

        var owner = node.Parent ?? node;
        if (node.InFlight >= node.Limit || owner.InFlight >= owner.Limit)
        {
            _shares.AskShares(owner);
            return false;
        }

        if (node.FleetPaced && node.FleetTokens <= 0)
        {
            _shares.AskToken(node);
            return false;
        }

        return true;
    }

    /// <summary>
    /// The health of <paramref name="node"/> for <paramref name="host"/>, 0 to 1: its success rate overall and with the
    /// host (old failures fading with the half-life), discounted by its latency. A proxy whose block by the host has
    /// ended counts as fresh for that host, so it is really tested again.
    /// </summary>
    public double Score(ProxyNode node, ITargetHost host, long now)
    {
        var success = Faded(node.Success, node.LastSample, now);
        var latency = node.LatencyTicks;
        if (_hostHealth.TryGet(node, host.Key, out var entry))
        {
            if (!(entry.BlockedUntil != 0 && entry.BlockedUntil <= now))
            {
                success *= Faded(entry.Success, entry.LastSample, now);
            }

            if (entry.HasLatency)
            {
                // How fast this proxy reaches this host says more than how fast it is overall.
                latency = entry.LatencyTicks;
            }
        }

        return success / (1.0 + (latency / _ticksPerMs / 1000.0));
    }

    private double Faded(double success, long lastSample, long now) =>
        success >= 1.0 || now <= lastSample ? success : 1 - ((1 - success) * Math.Pow(2, -(now - lastSample) / _halfLifeTicks));

    public void OnGranted(ProxyNode node, ITargetHost host, bool probe, long now)
    {
        node.InFlight++;
        if (node.Parent is { } gateway)
        {
            // A gateway's limit covers all the identities rendered from it.
            gateway.InFlight++;
        }

        node.Attempts++;
        if (node.FleetPaced)
        {
            node.FleetTokens--;
        }

        if (node.MinDelayTicks > 0)
        {
            node.NextStart = now + node.MinDelayTicks;
        }

        if (probe)
        {
            node.ProbeInFlight = true;
        }

        if (_groupIds.Count > 1)
        {
            host.ProxyGroups ??= [];
            host.ProxyGroups[node.GroupId] = host.ProxyGroups.GetValueOrDefault(node.GroupId) + 1;
        }
    }

    private ProxyVerdict Scan(CandidateSet set, ITargetHost host, List<ProxyNode>? excluded, long now, bool spread, out ProxyNode? selected, out long wakeAt)
    {
        selected = null;
        wakeAt = long.MaxValue;
        ProxyNode? unspread = null;
        var busy = false;
        var blocked = false;
        var quarantined = false;
        var members = set.Members;
#pragma warning disable CA5394 // A random start spreads the fallback's picks; no cryptography involved.
        var start = members.Length > 1 ? Random.Shared.Next(members.Length) : 0;
#pragma warning restore CA5394
        for (var i = 0; i < members.Length; i++)
        {
            var node = members[(start + i) % members.Length];
            if (node.State is ProxyHealthState.Retired or ProxyHealthState.Draining || node.Removed || IsExcluded(excluded, node))
            {
                continue;
            }

            if (node.State == ProxyHealthState.Quarantined)
            {
                quarantined = true;
                if (node.QuarantinedUntil > now)
                {
                    wakeAt = Math.Min(wakeAt, node.QuarantinedUntil);
                }
                else if (_hostHealth.TryGet(node, host.Key, out var probeBlocked) && probeBlocked.BlockedUntil > now)
                {
                    // Due for its probe, but not to this host until its block there ends.
                    wakeAt = Math.Min(wakeAt, probeBlocked.BlockedUntil);
                }

                continue;
            }

            if (_outage)
            {
                quarantined = true;
                continue;
            }

            if (_hostHealth.TryGet(node, host.Key, out var entry) && entry.BlockedUntil > now)
            {
                blocked = true;
                wakeAt = Math.Min(wakeAt, entry.BlockedUntil);
                continue;
            }

            if (node.InFlight >= node.Limit || (node.Parent is { } owner && owner.InFlight >= owner.Limit))
            {
                // In a fleet, a proxy busy only for want of shares asks for more.
                _shares.AskShares(node.Parent ?? node);
                busy = true;
                continue;
            }

            if (now < node.NextStart)
            {
                busy = true;
                wakeAt = Math.Min(wakeAt, node.NextStart);
                continue;
            }

            if (node.FleetPaced && node.FleetTokens <= 0)
            {
                // The fleet's pacing of the proxy: a start needs a token from the fleet's bucket.
                _shares.AskToken(node);
                busy = true;
                continue;
            }

            if (spread && !GroupAllows(host, node))
            {
                busy = true;
                unspread ??= node;
                continue;
            }

            selected = node;
            return ProxyVerdict.Selected;
        }

        if (unspread is not null)
        {
            // Only proxies of over-represented groups are free: spreading yields rather than making the host wait.
            selected = unspread;
            return ProxyVerdict.Selected;
        }

        if (_outage && quarantined)
        {
            wakeAt = Math.Min(wakeAt, EarliestQuarantineEnd());
            return ProxyVerdict.Quarantined;
        }

        return busy ? ProxyVerdict.Busy : blocked ? ProxyVerdict.Blocked : quarantined ? ProxyVerdict.Quarantined : ProxyVerdict.Exhausted;
    }

    /// <summary>
    /// Says, for a person, why no proxy meeting <paramref name="requirement"/> can take an attempt to <paramref name="host"/>:
    /// how many could, how many are quarantined and for what, how many rest for the host, and when the next probe is due.
    /// </summary>
    public string ExplainUnavailable(ProxyRequirement requirement, ITargetHost? host, long now)
    {
        var members = GetSet(requirement).Members;
        int quarantined = 0, retired = 0, resting = 0, serving = 0;
        var kinds = new Dictionary<FailureKind, int>();
        var nextProbe = long.MaxValue;
        foreach (var node in members)
        {
            if (node.Removed || node.State is ProxyHealthState.Retired or ProxyHealthState.Draining)
            {
                retired++;
                continue;
            }

            if (node.State == ProxyHealthState.Quarantined)
            {
                quarantined++;
                kinds[node.LastFailure] = kinds.GetValueOrDefault(node.LastFailure) + 1;
                nextProbe = Math.Min(nextProbe, node.QuarantinedUntil);
                continue;
            }

            if (host is not null && IsBlocked(node, host.Key, now))
            {
                resting++;
                continue;
            }

            serving++;
        }

        var text = new System.Text.StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{members.Length} prox{(members.Length == 1 ? "y" : "ies")} can serve '{requirement}'");
        if (quarantined > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"; {quarantined} of {members.Length} quarantined (");
            text.AppendJoin(", ", kinds.OrderByDescending(static k => k.Value).Select(static k => k.Value + " " + AttemptVerdict.Describe(k.Key == FailureKind.None ? FailureKind.Other : k.Key)));
            text.Append(')');
        }

        if (resting > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"; {resting} blocked by or failing to reach {host!.Key}");
        }

        if (retired > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"; {retired} retired");
        }

        if (_outage)
        {
            text.Append("; the pool is paused by an outage");
        }

        if (nextProbe != long.MaxValue)
        {
            var wait = nextProbe > now ? _time.GetElapsedTime(now, nextProbe) : TimeSpan.Zero;
            text.Append(CultureInfo.InvariantCulture, $"; next probe in {wait.TotalSeconds:0.#} s");
        }

        return text.ToString();
    }

    private bool TryTakeProbe(ProxyRequirement requirement, ITargetHost host, List<ProxyNode>? excluded, long now, out ProxyNode? node)
    {
        for (var i = 0; i < _dueProbes.Count; i++)
        {
            var candidate = _dueProbes[i];
            if (candidate.State != ProxyHealthState.Quarantined || candidate.Removed)
            {
                candidate.ProbeDue = false;
                _dueProbes.RemoveAt(i--);
                continue;
            }

            if (candidate.ProbeInFlight || !requirement.Matches(candidate.Endpoint) || IsExcluded(excluded, candidate) || IsBlocked(candidate, host.Key, now))
            {
                continue;
            }

            candidate.ProbeDue = false;
            _dueProbes.RemoveAt(i);
            node = candidate;
            return true;
        }

        node = null;
        return false;
    }

    private void PromoteDueProbes(long now)
    {
        while (_quarantined.TryPeek(out var node, out var until) && until <= now)
        {
            _quarantined.Dequeue();
            if (node.State == ProxyHealthState.Quarantined && node.QuarantinedUntil == until && !node.ProbeDue && !node.Removed)
            {
                node.ProbeDue = true;
                _dueProbes.Add(node);
            }
        }
    }

    private long EarliestQuarantineEnd()
    {
        while (_quarantined.TryPeek(out var node, out var until))
        {
            if (node.State == ProxyHealthState.Quarantined && node.QuarantinedUntil == until && !node.Removed)
            {
                return until;
            }

            _quarantined.Dequeue();
        }

        return long.MaxValue;
    }

    private bool GroupAllows(ITargetHost host, ProxyNode node)
    {
        if (host.ProxyGroups is not { Count: > 0 } groups)
        {
            return true;
        }

        var inGroup = groups.GetValueOrDefault(node.GroupId);
        var allowed = Math.Max(1, (int)Math.Ceiling(_options.MaxGroupShare * (host.InFlight + 1)));
        return inGroup + 1 <= allowed;
    }

    private static bool IsExcluded(List<ProxyNode>? excluded, ProxyNode node)
    {
        if (excluded is null)
        {
            return false;
        }

        foreach (var e in excluded)
        {
            if (ReferenceEquals(e, node))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether <paramref name="host"/> blocks <paramref name="node"/> now.</summary>
    public bool IsBlockedFor(ProxyNode node, ITargetHost host, long now) => IsBlocked(node, host.Key, now);

    private bool IsBlocked(ProxyNode node, in HostKey host, long now) =>
        _hostHealth.Count > 0 && _hostHealth.TryGet(node, host, out var entry) && entry.BlockedUntil > now;

    private CandidateSet GetSet(ProxyRequirement requirement)
    {
        if (requirement.CachedSet is CandidateSet cached && cached.Version == _version && ReferenceEquals(cached.Owner, this))
        {
            return cached;
        }

        if (!_sets.TryGetValue(requirement.Key, out var set))
        {
            if (_sets.Count >= 1024)
            {
                _sets.Clear();
            }

            set = BuildSet(requirement);
            _sets.Add(requirement.Key, set);
        }

        requirement.CachedSet = set;
        return set;
    }

    // Apart from GetSet, so that the hot path does not allocate the filter's closure on every call.
    private CandidateSet BuildSet(ProxyRequirement requirement) =>
        new(this, requirement, [.. _nodes.Where(n => requirement.Matches(n.Endpoint))], _version);

    private long ToTicks(TimeSpan span) => _time.ToTimestampTicks(span);
}
