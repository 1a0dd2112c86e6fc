using System.Globalization;
using System.Net;

namespace ProxyScheduler.Proxies.Internal;

/// <summary>The pool's members: updates from the sources, rendered gateway identities, removal, snapshots, spread groups.</summary>
internal sealed partial class ProxyPool
{
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
            { LastSample = now, FleetShares = _shares.IsAttached ? 0 : null };
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
                node.Attempts)
            {
                Score = node.State == ProxyHealthState.Healthy
                    ? Faded(node.Success, node.LastSample, now) / (1.0 + (node.LatencyTicks / _ticksPerMs / 1000.0))
                    : 0,
                Answered = node.Answered,
                ProxyFailures = node.ProxyBlamed,
                PairFailures = node.PairBlamed,
                HostFailures = node.HostBlamed,
                LastFailure = node.LastFailure == Classification.Internal.FailureKind.None ? null : Classification.Internal.AttemptVerdict.Describe(node.LastFailure),
                FailuresByKind = FailuresByKind(node),
            });
        }

        return list;
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

    private void Rebuild()
    {
        _nodes = [.. _byId.Values.Where(static n => !n.Removed && n.Parent is null)];
        _version++;
        _sets.Clear();
    }

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

    private static Dictionary<string, long> FailuresByKind(ProxyNode node)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        for (var kind = 0; kind < node.FailuresByKind.Length; kind++)
        {
            if (node.FailuresByKind[kind] > 0)
            {
                result[Classification.Internal.AttemptVerdict.Describe((Classification.Internal.FailureKind)kind)] = node.FailuresByKind[kind];
            }
        }

        return result;
    }
}
