using ProxyScheduler.Fleet;

namespace ProxyScheduler.Proxies.Internal;

/// <summary>
/// The proxies' side of fleet coordination: the shares of each proxy's (or gateway account's) limit this worker holds,
/// asks for and gives back after they linger unused, and the start tokens of a paced proxy. A plain collaborator of the
/// <see cref="ProxyPool"/>, called under the dispatcher's lock; it only records requests to the
/// <see cref="IFleetCoordinator"/>, which returns at once.
/// </summary>
internal sealed class ProxyFleetShares
{
    private readonly HashSet<ProxyNode> _unused = [];
    private readonly TimeProvider _time;
    private IFleetCoordinator? _fleet;

    public ProxyFleetShares(TimeProvider time) => _time = time;

    /// <summary>Gets the coordinator, once attached.</summary>
    public IFleetCoordinator? Coordinator => _fleet;

    /// <summary>Gets a value indicating whether proxies share their limits with a fleet (a new listed proxy then starts with 0 shares).</summary>
    public bool IsAttached => _fleet is not null;

    /// <summary>From now on the listed proxies (<paramref name="nodes"/>, identities excepted) share their limits through <paramref name="fleet"/>.</summary>
    public void Attach(IFleetCoordinator? fleet, IEnumerable<ProxyNode> nodes)
    {
        _fleet = fleet;
        foreach (var node in nodes)
        {
            if (node.Parent is null)
            {
                node.FleetShares = fleet is null ? null : 0;
            }
        }
    }

    /// <summary>Asks the fleet for shares of a proxy whose shares are all in use and whose own limit has room.</summary>
    public void AskShares(ProxyNode node)
    {
        if (_fleet is { } fleet && node.FleetShares is { } shares && !node.FleetWanted && shares < node.MaxConcurrency && node.State == ProxyHealthState.Healthy)
        {
            node.FleetWanted = true;
            fleet.WantProxyShares(node.Endpoint.Id, Math.Min(node.MaxConcurrency - shares, Math.Max(4, node.MaxConcurrency / 4)), node.MaxConcurrency);
        }
    }

    /// <summary>Asks the fleet for a start token of a paced proxy (one at its rate: a start per minimum delay).</summary>
    public void AskToken(ProxyNode node)
    {
        if (_fleet is { } fleet && !node.TokensWanted && node.State == ProxyHealthState.Healthy)
        {
            node.TokensWanted = true;
            fleet.WantProxyTokens(node.Endpoint.Id, _time.TimestampFrequency / (double)node.MinDelayTicks);
        }
    }

    /// <summary>The fleet granted start tokens of a paced proxy.</summary>
    public static void TokensGranted(ProxyNode node, int granted)
    {
        node.TokensWanted = false;
        node.FleetTokens += granted;
    }

    /// <summary>
    /// The fleet granted shares of a proxy (or took some back: negative); <paramref name="answer"/> says it answers an
    /// ask. Shares of a proxy no longer listed go straight back. Returns whether the proxy is known.
    /// </summary>
    public bool Change(ProxyNode? node, string proxyId, int delta, bool answer)
    {
        if (node?.FleetShares is not { } shares)
        {
            if (delta > 0)
            {
                _fleet?.ReturnProxyShares(proxyId, delta);
            }

            return false;
        }

        if (answer)
        {
            node.FleetWanted = false;
        }

        node.FleetShares = Math.Max(0, shares + delta);
        if (node.FleetShares > node.InFlight)
        {
            _unused.Add(node);
        }

        return true;
    }

    /// <summary>A proxy's attempt ended and it holds more shares than it uses: they may linger, then go back (<see cref="Sweep"/>).</summary>
    public void Unused(ProxyNode node) => _unused.Add(node);

    /// <summary>Gives back the shares of proxies unused for <paramref name="lingerTicks"/> (all of them for a proxy that is not healthy).</summary>
    public void Sweep(long now, long lingerTicks)
    {
        if (_unused.Count == 0)
        {
            return;
        }

        List<ProxyNode>? done = null;
        foreach (var node in _unused)
        {
            var spare = (node.FleetShares ?? 0) - node.InFlight;
            if (spare <= 0)
            {
                node.SurplusSince = 0;
                (done ??= []).Add(node);
            }
            else if (node.SurplusSince == 0)
            {
                node.SurplusSince = now;
            }
            else if (now - node.SurplusSince >= lingerTicks || node.State != ProxyHealthState.Healthy || node.Removed)
            {
                node.FleetShares -= spare;
                node.SurplusSince = 0;
                _fleet?.ReturnProxyShares(node.Endpoint.Id, spare);
                (done ??= []).Add(node);
            }
        }

        foreach (var node in done ?? [])
        {
            _unused.Remove(node);
        }
    }
}
