using Microsoft.Extensions.Logging;
using ProxyScheduler.Classification;
using ProxyScheduler.Classification.Internal;
using ProxyScheduler.Fleet;

namespace ProxyScheduler.Proxies.Internal;

/// <summary>The pool learning from attempts: health averages, per-host blocks, quarantine and probes, retirement, outages, state events.</summary>
internal sealed partial class ProxyPool
{
    /// <summary>
    /// Gives a proxy permit back and learns from the attempt: <paramref name="outcome"/> is <see langword="null"/> when the
    /// attempt was canceled (caller, deadline, disposal), which never counts against the proxy.
    /// </summary>
    public void OnReleased(ProxyNode node, ITargetHost host, bool probe, ResponseClass? outcome, long latencyTicks, long now, AttemptVerdict verdict = default, bool contradicted = false)
    {
        node.InFlight--;
        if (node.Parent is { } owner)
        {
            owner.InFlight--;
        }

        if ((node.Parent ?? node) is { FleetShares: { } shares } shared && shares > shared.InFlight)
        {
            // Unused shares go back after the linger (SweepProxyShares).
            _shares.Unused(shared);
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

        var blame = outcome is null ? AttemptBlame.None
            : verdict.Blame == AttemptBlame.None && outcome == ResponseClass.ProxyFailure ? AttemptBlame.Proxy // a caller without a verdict
            : verdict.Blame;
        var neutral = false;
        var escalated = false;
        if (outcome is not null and not (ResponseClass.Blocked or ResponseClass.Throttled) && blame is AttemptBlame.Host or AttemptBlame.ProxyAndHost
            && verdict.Kind != FailureKind.TargetStatus)
        {
            // A failure after the proxy took the request: the host's matter, unless other proxies reach the host (then
            // the pair's, and the proxy's when that spreads over several hosts).
            neutral = true;
            if (contradicted && PairFailure(node, host.Key, now))
            {
                blame = AttemptBlame.Proxy;
                neutral = false;
                escalated = true;
                node.PairBlamed--; // counted once, as the proxy's
            }
            else if (!contradicted)
            {
                node.HostBlamed++;
            }
        }

        if (outcome is not null && (neutral || blame == AttemptBlame.Proxy))
        {
            node.FailuresByKind[(int)(verdict.Kind == FailureKind.None ? FailureKind.Other : verdict.Kind)]++;
        }

        switch (outcome)
        {
            case null:
            case not null when neutral:
                if (probe && node.State == ProxyHealthState.Quarantined && !node.ProbeDue)
                {
                    // The probe did not conclude: the proxy is still due for one.
                    node.ProbeDue = true;
                    _dueProbes.Add(node);
                }

                break;

            case not null when blame == AttemptBlame.Proxy:
                Decay(node, now);
                node.Success *= 1 - Alpha;
                node.ConsecutiveFailures++;
                node.ProxyBlamed++;
                node.LastFailure = verdict.Kind == FailureKind.None ? FailureKind.Other : verdict.Kind;
                if (node.State == ProxyHealthState.Quarantined && probe)
                {
                    Quarantine(node, now);
                }
                else if (node.State == ProxyHealthState.Healthy && node.Parent is null
                    && (node.ConsecutiveFailures >= _options.QuarantineAfter || outcome != ResponseClass.ProxyFailure || escalated))
                {
                    // A rendered gateway identity is not quarantined: its session lets go of it and renders another.
                    // (A failure escalated from pairs spread over several hosts quarantines at once.)
                    Quarantine(node, now);
                }

                break;

            default:
                // The proxy carried the attempt to the target and back: whatever the target said, the proxy works.
                Decay(node, now);
                node.PairFailureRun = 0;
                node.Success = (node.Success * (1 - Alpha)) + Alpha;
                node.ConsecutiveFailures = 0;
                node.Answered++;
                if (outcome == ResponseClass.Success)
                {
                    node.PairFailureHosts = 0;
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

        if (node.Parent is { } gateway && blame == AttemptBlame.Proxy && gateway.State == ProxyHealthState.Healthy)
        {
            // A rendered identity failing at the proxy may be the gateway itself failing: the gateway learns it too.
            Decay(gateway, now);
            gateway.Success *= 1 - Alpha;
            if (++gateway.ConsecutiveFailures >= _options.QuarantineAfter)
            {
                Quarantine(gateway, now);
            }
        }
        else if (node.Parent is { } parent && outcome is not null && blame != AttemptBlame.Proxy && !neutral)
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
        entry.PairFailures = 0;
        entry.LatencyTicks = entry.HasLatency ? Average(entry.LatencyTicks, latencyTicks) : latencyTicks;
        entry.HasLatency = true;
    }

    /// <summary>
    /// A target failure through <paramref name="node"/> that other proxies' answers from the host contradict: the pair
    /// loses health, rests after two in a row (<see cref="ProxyPoolOptions.BlockBaseDuration"/> halved at first, doubling),
    /// and when such failures come from two different hosts in a row the proxy itself is to blame: returns
    /// <see langword="true"/> then.
    /// </summary>
    private bool PairFailure(ProxyNode node, in HostKey host, long now)
    {
        var entry = _hostHealth.GetOrAdd(node, host);
        DecayEntry(entry, now);
        entry.Success *= 1 - Alpha;
        entry.PairFailures++;
        node.PairBlamed++;
        _metrics.ProxyPairFailures.Add(1, new KeyValuePair<string, object?>("proxy.id", node.Endpoint.Id));
        if (entry.PairFailures >= PairRestAfter)
        {
            var rest = Backoff(_options.BlockBaseDuration / 2, _options.BlockMaxDuration, entry.PairFailures - PairRestAfter + 1);
            entry.BlockedUntil = Math.Max(entry.BlockedUntil, now + ToTicks(rest));
        }

        node.PairFailureRun++;
        if (!node.LastPairFailureHost.Equals(host) || node.PairFailureHosts == 0)
        {
            node.PairFailureHosts++;
            node.LastPairFailureHost = host;
        }

        // The proxy itself is to blame when it has never carried an attempt to a host and back while others reach the
        // hosts, or when such failures run on over several hosts with nothing carried in between. Not for two in a row
        // by chance: a site that resets one connection in seven through every proxy makes those, and must never take a
        // healthy proxy out.
        var neverAnswered = node.Answered == 0 && node.PairFailureRun >= PairBlameBeforeAnyAnswer;
        var spread = node.PairFailureHosts >= PairSpreadHosts && node.PairFailureRun >= PairBlameRun;
        if (!neverAnswered && !spread)
        {
            return false;
        }

        node.PairFailureHosts = 0;
        node.PairFailureRun = 0;
        return true;
    }

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

        Publish(new ProxyFleetEvent(ProxyFleetEventKind.Blocked, node.Endpoint.Id, _time.GetUtcNow() + duration, host.ToString()));
    }

    /// <summary>
    /// Applies what another process of the fleet learned about a proxy: a quarantine (until the same instant; this
    /// process then probes the proxy itself), a reanimation, a retirement, or a block by a host. Not published again.
    /// </summary>
    public void ApplyFleetEvent(ProxyFleetEvent change, long now)
    {
        if (!_byId.TryGetValue(change.ProxyId, out var node) || node.Removed || node.State is ProxyHealthState.Retired or ProxyHealthState.Draining)
        {
            return;
        }

        var remaining = change.Until is { } until ? until - _time.GetUtcNow() : TimeSpan.Zero;
        _applyingFleetEvent = true;
        try
        {
            switch (change.Kind)
            {
                case ProxyFleetEventKind.Quarantined when remaining > TimeSpan.Zero:
                    var end = now + Math.Max(1, ToTicks(remaining));
                    if (node.State == ProxyHealthState.Healthy)
                    {
                        node.Quarantines++;
                        _quarantinedCount++;
                        Log.ProxyQuarantined(_logger, node.Endpoint.Id, remaining.TotalMilliseconds, node.ConsecutiveFailures, node.Quarantines);
                        ChangeState(node, ProxyHealthState.Quarantined, change.Until);
                    }
                    else if (node.QuarantinedUntil >= end || node.ProbeInFlight)
                    {
                        break;
                    }

                    node.QuarantinedUntil = end;
                    node.ProbeDue = false;
                    _dueProbes.Remove(node);
                    _quarantined.Enqueue(node, end);
                    UpdateOutage();
                    break;
                case ProxyFleetEventKind.Reanimated when node.State == ProxyHealthState.Quarantined && !node.ProbeInFlight:
                    node.ProbeDue = false;
                    _dueProbes.Remove(node);
                    Reanimate(node);
                    break;
                case ProxyFleetEventKind.Retired:
                    if (node.State == ProxyHealthState.Healthy)
                    {
                        // Retire counts the proxy out of the quarantined ones.
                        _quarantinedCount++;
                    }

                    node.ProbeDue = false;
                    _dueProbes.Remove(node);
                    Retire(node);
                    break;
                case ProxyFleetEventKind.Blocked when remaining > TimeSpan.Zero && change.Host is { } hostText && HostKey.TryParse(hostText, out var key):
                    var entry = _hostHealth.GetOrAdd(node, key);
                    var blockedUntil = now + ToTicks(remaining);
                    if (entry.BlockedUntil < blockedUntil)
                    {
                        entry.BlockedUntil = blockedUntil;
                        entry.Blocks = Math.Max(entry.Blocks, 1);
                    }

                    break;
            }
        }
        finally
        {
            _applyingFleetEvent = false;
        }
    }

    private void Publish(ProxyFleetEvent change)
    {
        if (!_applyingFleetEvent && Fleet is { } fleet)
        {
            fleet.ProxyChanged(change);
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
        if (state == ProxyHealthState.Quarantined)
        {
            _metrics.ProxyQuarantines.Add(1, new KeyValuePair<string, object?>("proxy.id", node.Endpoint.Id));
        }

        var kind = state switch
        {
            ProxyHealthState.Quarantined => ProxyFleetEventKind.Quarantined,
            ProxyHealthState.Healthy => ProxyFleetEventKind.Reanimated,
            ProxyHealthState.Retired => ProxyFleetEventKind.Retired,
            _ => (ProxyFleetEventKind?)null,
        };
        if (kind is { } fleetKind && node.Parent is null)
        {
            Publish(new ProxyFleetEvent(fleetKind, node.Endpoint.Id, reanimationAt));
        }

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
}
