using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using ProxyScheduler.Classification;
using ProxyScheduler.Diagnostics.Internal;
using ProxyScheduler.Scheduling.Internal;
using ProxyScheduler.Transport.Internal;

namespace ProxyScheduler.Proxies.Internal;

/// <summary>
/// The proxies, their limits and their health. Every member is called under the dispatcher's lock, so that a dispatch
/// takes the host permit, the proxy permit and the global permit in one step, never holding one while waiting for
/// another. Selection is allocation-free: candidates are pre-filtered arrays per requirement, rebuilt only when the
/// pool's membership changes.
/// </summary>
internal sealed class ProxyPool
{
    private const double Alpha = 0.2;

    private readonly ProxyPoolOptions _options;
    private readonly IProxySelector _selector;
    private readonly TimeProvider _time;
    private readonly ProxyIdentityRegistry _registry;
    private readonly ILogger _logger;
    private readonly SchedulerMetrics _metrics;
    private readonly HostHealthStore _hostHealth;
    private readonly Dictionary<string, ProxyNode> _byId = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _groupIds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CandidateSet> _sets = new(StringComparer.Ordinal);
    private readonly PriorityQueue<ProxyNode, long> _quarantined = new();
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

    public ProxyPool(ProxyPoolOptions options, IProxySelector selector, TimeProvider time, ProxyIdentityRegistry registry, ILogger logger, SchedulerMetrics metrics)
    {
        _options = options;
        _selector = selector;
        _time = time;
        _registry = registry;
        _logger = logger;
        _metrics = metrics;
        _hostHealth = new HostHealthStore(options.MaxHostHealthEntries);
        _halfLifeTicks = ToTicks(options.HealthHalfLife);
        _ticksPerMs = time.TimestampFrequency / 1000.0;
        _latencyFloorTicks = (long)(_ticksPerMs * 10);
    }

    /// <summary>Gets the number of proxies listed (retired ones included, drained ones not).</summary>
    public int Count => _nodes.Length;

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
    public ProxyVerdict TrySelect(ProxyRequirement requirement, HostState host, List<ProxyNode>? excluded, long now, out ProxyNode? node, out bool probe, out long wakeAt)
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

    /// <summary>
    /// The identity of one session (or tag set) through the gateway <paramref name="gateway"/>: rendered, registered
    /// with the transport and kept until its session lets go of it. Rendered identities are not candidates of their own.
    /// </summary>
    public ProxyNode Materialize(ProxyNode gateway, string? sessionId, ProxyRequirement need, long now)
    {
        var definition = gateway.Endpoint.Gateway!;
        var endpoint = definition.CreateEndpoint(sessionId, need.Tags.Count == 0 ? null : need.Tags);
        if (_byId.TryGetValue(endpoint.Id, out var existing) && !existing.Removed)
        {
            if (existing.State == ProxyHealthState.Draining)
            {
                existing.State = ProxyHealthState.Healthy;
            }

            return existing;
        }

        var node = new ProxyNode(endpoint, endpoint.MaxConcurrency ?? gateway.MaxConcurrency, gateway.MinDelayTicks, gateway.GroupId, _registry.Register(endpoint))
        {
            Parent = gateway,
            LastSample = now,
            ExpiresAt = sessionId is null ? 0 : now + (long)(ToTicks(definition.Lifetime) * 0.9),
        };
        _byId[endpoint.Id] = node;
        _dynamic.Enqueue(node);
        TrimDynamic();
        return node;
    }

    /// <summary>Gets the presets of the listed gateways that send the session key as their session id.</summary>
    public IReadOnlyList<Sessions.GatewayPreset> SessionKeyPresets() =>
        [.. _nodes.Select(static n => n.Endpoint.Gateway).Where(static g => g is { UseSessionKeyAsSessionId: true }).Select(static g => g!.Preset).Distinct()];

    /// <summary>A session let go of a rendered gateway identity: it leaves once idle.</summary>
    public void ReleaseIdentity(string proxyId)
    {
        if (!_byId.TryGetValue(proxyId, out var node) || node.Parent is null || node.Removed)
        {
            return;
        }

        if (node.InFlight == 0)
        {
            Forget(node);
        }
        else
        {
            node.State = ProxyHealthState.Draining;
        }
    }

    private void TrimDynamic()
    {
        // Rendered identities are bounded: past the cap the oldest idle ones leave (their sessions rebind).
        var scans = _dynamic.Count;
        while (_dynamic.Count > _options.MaxProxies && scans-- > 0 && _dynamic.TryDequeue(out var oldest))
        {
            if (oldest.Removed)
            {
                continue;
            }

            if (oldest.InFlight == 0)
            {
                Forget(oldest);
            }
            else
            {
                _dynamic.Enqueue(oldest);
            }
        }

        if (_dynamic.Count > 2 * _options.MaxProxies)
        {
            var live = _dynamic.Where(static n => !n.Removed).ToList();
            _dynamic.Clear();
            foreach (var n in live)
            {
                _dynamic.Enqueue(n);
            }
        }
    }

    /// <summary>Whether some proxy meeting <paramref name="requirement"/> could still take the request (now or after a rest), other than <paramref name="excluded"/>.</summary>
    public bool HasCandidate(ProxyRequirement requirement, List<ProxyNode>? excluded)
    {
        foreach (var node in GetSet(requirement).Members)
        {
            if (node.State is ProxyHealthState.Healthy or ProxyHealthState.Quarantined && !node.Removed && !IsExcluded(excluded, node))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether <paramref name="node"/> may take an attempt to <paramref name="host"/> now (probes aside).</summary>
    public bool IsAvailable(ProxyNode node, HostState host, List<ProxyNode>? excluded, long now, bool spread) =>
        node.State == ProxyHealthState.Healthy
        && !_outage
        && node.InFlight < node.MaxConcurrency
        && (node.Parent is not { } gateway || gateway.InFlight < gateway.MaxConcurrency)
        && now >= node.NextStart
        && !IsExcluded(excluded, node)
        && !IsBlocked(node, host.Key, now)
        && (!spread || GroupAllows(host, node));

    /// <summary>
    /// The health of <paramref name="node"/> for <paramref name="host"/>, 0 to 1: its success rate overall and with the
    /// host (old failures fading with the half-life), discounted by its latency. A proxy whose block by the host has
    /// ended counts as fresh for that host, so it is really tested again.
    /// </summary>
    public double Score(ProxyNode node, HostState host, long now)
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

    public void OnGranted(ProxyNode node, HostState host, bool probe, long now)
    {
        node.InFlight++;
        if (node.Parent is { } gateway)
        {
            // A gateway's limit covers all the identities rendered from it.
            gateway.InFlight++;
        }

        node.Attempts++;
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

    /// <summary>
    /// Gives a proxy permit back and learns from the attempt: <paramref name="outcome"/> is <see langword="null"/> when the
    /// attempt was canceled (caller, deadline, disposal), which never counts against the proxy.
    /// </summary>
    public void OnReleased(ProxyNode node, HostState host, bool probe, ResponseClass? outcome, long latencyTicks, long now)
    {
        node.InFlight--;
        if (node.Parent is { } owner)
        {
            owner.InFlight--;
        }

        if (host.ProxyGroups is { } groups && groups.TryGetValue(node.GroupId, out var inGroup))
        {
            if (inGroup <= 1)
            {
                groups.Remove(node.GroupId);
            }
            else
            {
                groups[node.GroupId] = inGroup - 1;
            }
        }

        if (probe)
        {
            node.ProbeInFlight = false;
        }

        switch (outcome)
        {
            case null:
                if (probe && node.State == ProxyHealthState.Quarantined && !node.ProbeDue)
                {
                    // The probe did not conclude: the proxy is still due for one.
                    node.ProbeDue = true;
                    _dueProbes.Add(node);
                }

                break;

            case ResponseClass.ProxyFailure:
                Decay(node, now);
                node.Success *= 1 - Alpha;
                node.ConsecutiveFailures++;
                if (node.State == ProxyHealthState.Quarantined && probe)
                {
                    Quarantine(node, now);
                }
                else if (node.State == ProxyHealthState.Healthy && node.Parent is null && node.ConsecutiveFailures >= _options.QuarantineAfter)
                {
                    // A rendered gateway identity is not quarantined: its session lets go of it and renders another.
                    Quarantine(node, now);
                }

                break;

            default:
                // The proxy carried the attempt to the target and back: whatever the target said, the proxy works.
                Decay(node, now);
                node.Success = (node.Success * (1 - Alpha)) + Alpha;
                node.ConsecutiveFailures = 0;
                if (outcome == ResponseClass.Success)
                {
                    LearnSuccess(node, host.Key, latencyTicks, now);
                }
                else if (outcome == ResponseClass.Blocked)
                {
                    Block(node, host.Key, now);
                }

                if (probe && node.State == ProxyHealthState.Quarantined)
                {
                    Reanimate(node);
                }

                break;
        }

        if (node.Parent is { } gateway && outcome is ResponseClass.ProxyFailure && gateway.State == ProxyHealthState.Healthy)
        {
            // A rendered identity failing at the proxy may be the gateway itself failing: the gateway learns it too.
            Decay(gateway, now);
            gateway.Success *= 1 - Alpha;
            if (++gateway.ConsecutiveFailures >= _options.QuarantineAfter)
            {
                Quarantine(gateway, now);
            }
        }
        else if (node.Parent is { } parent && outcome is not null and not ResponseClass.ProxyFailure)
        {
            parent.ConsecutiveFailures = 0;
        }

        if (node.InFlight == 0 && !node.Removed)
        {
            if (node.State == ProxyHealthState.Draining)
            {
                Forget(node);
                if (node.Parent is null)
                {
                    Rebuild();
                }
            }
            else if (node.State == ProxyHealthState.Retired)
            {
                ReleaseTransport(node);
            }
        }
    }

    /// <summary>
    /// Learns from a success: the proxy's latency, and the (proxy, host) pair's success and latency. A pair gets its own
    /// record only when it has something to say (a failure or block before, or a latency far from the proxy's overall one:
    /// more than twice or less than half of it, beyond 10 ms), so the common pair costs no memory and no allocation. A
    /// pair without a record is scored with the proxy's overall latency.
    /// </summary>
    private void LearnSuccess(ProxyNode node, in HostKey host, long latencyTicks, long now)
    {
        var known = _hostHealth.TryGet(node, host, out var entry);
        var average = node.LatencyTicks;
        var deviates = !known && node.LatencySamples > 0
            && (latencyTicks > (2 * average) + _latencyFloorTicks || (2.0 * latencyTicks) + _latencyFloorTicks < average);
        node.LatencyTicks = node.LatencySamples == 0 ? latencyTicks : Average(average, latencyTicks);
        node.LatencySamples = Math.Min(node.LatencySamples + 1, int.MaxValue - 1);
        if (!known && !deviates)
        {
            return;
        }

        entry ??= _hostHealth.GetOrAdd(node, host);
        DecayEntry(entry, now);

        // A success after a block ended proves the block lifted: the pair starts afresh.
        entry.Success = entry.Blocks > 0 ? 1.0 : (entry.Success * (1 - Alpha)) + Alpha;
        entry.Blocks = 0;
        entry.BlockedUntil = 0;
        entry.LatencyTicks = entry.HasLatency ? Average(entry.LatencyTicks, latencyTicks) : latencyTicks;
        entry.HasLatency = true;
    }

    /// <summary>
    /// Replaces the pool's membership with <paramref name="endpoints"/> (merged by identity): new proxies join at once;
    /// proxies no longer listed take no new attempts and leave when their in-flight attempts end.
    /// </summary>
    /// <exception cref="InvalidOperationException">More proxies than <see cref="ProxyPoolOptions.MaxProxies"/>; nothing changed.</exception>
    public (int Added, int Removed) Update(IEnumerable<ProxyEndpoint> endpoints)
    {
        var incoming = new Dictionary<string, ProxyEndpoint>(StringComparer.Ordinal);
        foreach (var endpoint in endpoints)
        {
            incoming.TryAdd(endpoint.Id, endpoint);
        }

        if (incoming.Count > _options.MaxProxies)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"The proxy sources list {incoming.Count} proxies, more than ProxyScheduler:ProxyPool:MaxProxies ({_options.MaxProxies})."));
        }

        var added = 0;
        var removed = 0;
        var now = _time.GetTimestamp();
        foreach (var node in _byId.Values.ToList())
        {
            if (node.Parent is not null)
            {
                // A rendered gateway identity lives as long as its session, whatever the sources list.
                continue;
            }

            if (incoming.ContainsKey(node.Endpoint.Id))
            {
                if (node.State == ProxyHealthState.Draining)
                {
                    // Listed again before it drained: it takes traffic again.
                    node.ConsecutiveFailures = 0;
                    _activeCount++;
                    ChangeState(node, ProxyHealthState.Healthy, null);
                }

                continue;
            }

            if (node.State is ProxyHealthState.Healthy or ProxyHealthState.Quarantined)
            {
                if (node.State == ProxyHealthState.Quarantined)
                {
                    _quarantinedCount--;
                }

                _activeCount--;
                removed++;
                ChangeState(node, ProxyHealthState.Draining, null);
            }
            else if (node.State == ProxyHealthState.Retired)
            {
                // No longer listed: forgotten once idle, so listing it again later brings it back fresh.
                node.State = ProxyHealthState.Draining;
            }

            if (node.InFlight == 0)
            {
                Forget(node);
            }
        }

        foreach (var endpoint in incoming.Values)
        {
            if (_byId.ContainsKey(endpoint.Id))
            {
                continue;
            }

            var group = GroupKey(endpoint);
            if (!_groupIds.TryGetValue(group, out var groupId))
            {
                groupId = _groupIds.Count;
                _groupIds.Add(group, groupId);
            }

            var node = new ProxyNode(
                endpoint,
                endpoint.MaxConcurrency ?? _options.MaxConcurrencyPerProxy,
                ToTicks(endpoint.MinDelay ?? _options.MinDelayPerProxy),
                groupId,
                _registry.Register(endpoint))
            { LastSample = now };
            _byId.Add(endpoint.Id, node);
            _activeCount++;
            added++;
        }

        Rebuild();
        UpdateOutage();
        return (added, removed);
    }

    public IReadOnlyList<ProxySnapshot> GetSnapshots()
    {
        var now = _time.GetTimestamp();
        var utcNow = _time.GetUtcNow();
        var list = new List<ProxySnapshot>(_byId.Count);
        foreach (var node in _byId.Values)
        {
            DateTimeOffset? reanimation = node.State == ProxyHealthState.Quarantined
                ? utcNow + (node.QuarantinedUntil > now ? _time.GetElapsedTime(now, node.QuarantinedUntil) : TimeSpan.Zero)
                : null;
            list.Add(new ProxySnapshot(
                node.Endpoint.Id,
                node.Endpoint.ToString(),
                node.State,
                node.InFlight,
                node.MaxConcurrency,
                node.Success,
                TimeSpan.FromMilliseconds(node.LatencyTicks / _ticksPerMs),
                node.ConsecutiveFailures,
                node.Quarantines,
                reanimation,
                node.Attempts));
        }

        return list;
    }

    private ProxyVerdict Scan(CandidateSet set, HostState host, List<ProxyNode>? excluded, long now, bool spread, out ProxyNode? selected, out long wakeAt)
    {
        selected = null;
        wakeAt = long.MaxValue;
        ProxyNode? unspread = null;
        var busy = false;
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
                else if (_hostHealth.TryGet(node, host.Key, out var blocked) && blocked.BlockedUntil > now)
                {
                    // Due for its probe, but not to this host until its block there ends.
                    wakeAt = Math.Min(wakeAt, blocked.BlockedUntil);
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
                busy = true;
                wakeAt = Math.Min(wakeAt, entry.BlockedUntil);
                continue;
            }

            if (node.InFlight >= node.MaxConcurrency)
            {
                busy = true;
                continue;
            }

            if (now < node.NextStart)
            {
                busy = true;
                wakeAt = Math.Min(wakeAt, node.NextStart);
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

        return busy ? ProxyVerdict.Busy : quarantined ? ProxyVerdict.Quarantined : ProxyVerdict.Exhausted;
    }

    private bool TryTakeProbe(ProxyRequirement requirement, HostState host, List<ProxyNode>? excluded, long now, out ProxyNode? node)
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

    private bool GroupAllows(HostState host, ProxyNode node)
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
    public bool IsBlockedFor(ProxyNode node, HostState host, long now) => IsBlocked(node, host.Key, now);

    private bool IsBlocked(ProxyNode node, in HostKey host, long now) =>
        _hostHealth.Count > 0 && _hostHealth.TryGet(node, host, out var entry) && entry.BlockedUntil > now;

    private void Block(ProxyNode node, in HostKey host, long now)
    {
        var entry = _hostHealth.GetOrAdd(node, host);
        DecayEntry(entry, now);
        entry.Success *= 1 - Alpha;
        entry.Blocks++;
        var duration = Backoff(_options.BlockBaseDuration, _options.BlockMaxDuration, entry.Blocks);
        entry.BlockedUntil = now + ToTicks(duration);
        _metrics.ProxyBlocks.Add(1, new KeyValuePair<string, object?>("proxy.id", node.Endpoint.Id));
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            Log.ProxyBlocked(_logger, node.Endpoint.Id, host.ToString(), duration.TotalMilliseconds, entry.Blocks);
        }
    }

    private void Quarantine(ProxyNode node, long now)
    {
        var wasHealthy = node.State == ProxyHealthState.Healthy;
        if (!wasHealthy && node.Quarantines >= _options.RetireAfter && !_outage)
        {
            Retire(node);
            return;
        }

        node.Quarantines++;
#pragma warning disable CA5394 // Jitter needs no cryptographic randomness.
        var delay = Backoff(_options.QuarantineBaseDelay, _options.QuarantineMaxDelay, node.Quarantines) * (0.8 + (0.4 * Random.Shared.NextDouble()));
#pragma warning restore CA5394
        node.QuarantinedUntil = now + Math.Max(1, ToTicks(delay));
        node.ProbeDue = false;
        _quarantined.Enqueue(node, node.QuarantinedUntil);
        if (wasHealthy)
        {
            _quarantinedCount++;
        }

        Log.ProxyQuarantined(_logger, node.Endpoint.Id, delay.TotalMilliseconds, node.ConsecutiveFailures, node.Quarantines);
        ChangeState(node, ProxyHealthState.Quarantined, _time.GetUtcNow() + delay);
        UpdateOutage();
    }

    private void Reanimate(ProxyNode node)
    {
        node.Quarantines = 0;
        node.ConsecutiveFailures = 0;
        _quarantinedCount--;
        Log.ProxyReanimated(_logger, node.Endpoint.Id);
        ChangeState(node, ProxyHealthState.Healthy, null);
        UpdateOutage();
    }

    private void Retire(ProxyNode node)
    {
        _quarantinedCount--;
        _activeCount--;
        Log.ProxyRetired(_logger, node.Endpoint.Id, node.Quarantines);
        ChangeState(node, ProxyHealthState.Retired, null);
        UpdateOutage();
        if (node.InFlight == 0)
        {
            ReleaseTransport(node);
        }
    }

    /// <summary>A proxy no longer listed leaves once idle: its health records and its transport identity go with it.</summary>
    private void Forget(ProxyNode node)
    {
        node.Removed = true;
        _byId.Remove(node.Endpoint.Id);
        _hostHealth.RemoveAll(node);
        ReleaseTransport(node);
        Log.ProxyDrained(_logger, node.Endpoint.Id);
    }

    /// <summary>Retires the transport identity (client name, cached options) of a proxy that takes no more traffic.</summary>
    private void ReleaseTransport(ProxyNode node)
    {
        if (!_byId.TryGetValue(node.Endpoint.Id, out var current) || ReferenceEquals(current, node))
        {
            _registry.Unregister(node.Endpoint);
        }
    }

    private void UpdateOutage()
    {
        var outage = _activeCount >= _options.OutageMinProxies && _quarantinedCount >= _options.OutageThreshold * _activeCount;
        if (outage == _outage)
        {
            return;
        }

        _outage = outage;
        if (outage)
        {
            Log.OutageStarted(_logger, _quarantinedCount, _activeCount);
        }
        else
        {
            Log.OutageEnded(_logger, _quarantinedCount, _activeCount);
        }
    }

    private void ChangeState(ProxyNode node, ProxyHealthState state, DateTimeOffset? reanimationAt)
    {
        var previous = node.State;
        node.State = state;
        _metrics.ProxyStateChanges.Add(1,
            new KeyValuePair<string, object?>("proxy.id", node.Endpoint.Id),
            new KeyValuePair<string, object?>("state", StateName(state)));
        if (_options.OnProxyStateChanged is { } callback)
        {
            var args = new ProxyStateChangedArguments(node.Endpoint.Id, previous, state, reanimationAt);
            ThreadPool.UnsafeQueueUserWorkItem(static s => _ = s.Pool.RunCallbackAsync(s.Callback, s.Args), (Pool: this, Callback: callback, Args: args), preferLocal: false);
        }
    }

#pragma warning disable CA1031 // A user callback's failure is logged, never allowed to break the pool.
    private async Task RunCallbackAsync(Func<ProxyStateChangedArguments, ValueTask> callback, ProxyStateChangedArguments args)
    {
        try
        {
            await callback(args).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.StateCallbackFailed(_logger, ex, args.ProxyId);
        }
    }
#pragma warning restore CA1031

    private static string StateName(ProxyHealthState state) => state switch
    {
        ProxyHealthState.Healthy => "healthy",
        ProxyHealthState.Quarantined => "quarantined",
        ProxyHealthState.Retired => "retired",
        _ => "draining",
    };

    private void Rebuild()
    {
        _nodes = [.. _byId.Values.Where(static n => !n.Removed && n.Parent is null)];
        _version++;
        _sets.Clear();
    }

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

    private void Decay(ProxyNode node, long now)
    {
        if (now > node.LastSample)
        {
            node.Success = 1 - ((1 - node.Success) * Math.Pow(2, -(now - node.LastSample) / _halfLifeTicks));
        }

        node.LastSample = now;
    }

    private void DecayEntry(HostHealthStore.Entry entry, long now)
    {
        if (entry.LastSample != 0 && now > entry.LastSample)
        {
            entry.Success = 1 - ((1 - entry.Success) * Math.Pow(2, -(now - entry.LastSample) / _halfLifeTicks));
        }

        entry.LastSample = now;
    }

    private static double Average(double average, long sample) => (average * (1 - Alpha)) + (sample * Alpha);

    private static TimeSpan Backoff(TimeSpan baseDelay, TimeSpan maxDelay, int count)
    {
        var factor = Math.Pow(2, Math.Min(count - 1, 30));
        var ticks = Math.Min(baseDelay.Ticks * factor, maxDelay.Ticks);
        return TimeSpan.FromTicks((long)ticks);
    }

    private long ToTicks(TimeSpan span) => (long)(span.Ticks * ((double)_time.TimestampFrequency / TimeSpan.TicksPerSecond));

    private string GroupKey(ProxyEndpoint endpoint)
    {
        if (_options.GroupBy is { Length: > 0 } tag)
        {
            return endpoint.Tags.TryGetValue(tag, out var value) ? "tag:" + value.ToLowerInvariant() : "tag:";
        }

        if (IPAddress.TryParse(endpoint.Host, out var address))
        {
            var bytes = address.MapToIPv6().GetAddressBytes();
            return address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork || address.IsIPv4MappedToIPv6
                ? "v4:" + Convert.ToHexString(bytes, 12, 3)
                : "v6:" + Convert.ToHexString(bytes, 0, 6);
        }

        var dot = endpoint.Host.IndexOf('.', StringComparison.Ordinal);
        return "dns:" + (dot > 0 && endpoint.Host.IndexOf('.', dot + 1) > 0 ? endpoint.Host[(dot + 1)..] : endpoint.Host);
    }
}
