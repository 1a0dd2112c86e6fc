using ProxyScheduler.Fleet;

namespace ProxyScheduler.Dispatch;

/// <summary>
/// The hosts' side of fleet coordination: the shares of each host's limit this process holds, asks for and gives back,
/// and the start tokens of a rate-limited host. A plain collaborator of the <see cref="Dispatcher"/>, called under its
/// lock with <c>now</c> passed in; it only records requests to the <see cref="IFleetCoordinator"/>, which returns at once.
/// </summary>
internal sealed class HostFleetShares
{
    private readonly HashSet<HostState> _asking = [];
    private readonly List<HostState> _settled = [];
    private IFleetCoordinator? _fleet;
    private long _lingerTicks;

    /// <summary>Gets the coordinator, once attached.</summary>
    public IFleetCoordinator? Coordinator => _fleet;

    /// <summary>Gets a value indicating whether hosts share their limits with a fleet.</summary>
    public bool IsAttached => _fleet is not null;

    /// <summary>Gets how long unused shares are kept before they go back (timestamp ticks; 0: at once).</summary>
    public long LingerTicks => _lingerTicks;

    /// <summary>From now on hosts share their limits through <paramref name="fleet"/>; unused shares linger <paramref name="lingerTicks"/>.</summary>
    public void Attach(IFleetCoordinator fleet, long lingerTicks)
    {
        _fleet = fleet;
        _lingerTicks = lingerTicks;
    }

    /// <summary>
    /// Asks the fleet for the shares the host's work needs beyond those it holds or asked for, and, when the host has a
    /// rate limit and no token, for start tokens. Returns <see langword="true"/> when the host waits for tokens.
    /// </summary>
    public bool Ask(HostState host)
    {
        var demand = Math.Min(host.BaseLimit, host.InFlight + host.Count + host.Held);
        if (host.Contended)
        {
            demand = Math.Min(demand, host.FairShare);
        }

        var want = demand - host.Shares - host.SharesWanted;
        if (want > 0)
        {
            host.SharesWanted += want;
            _asking.Add(host);
            _fleet!.WantShares(host.Key, want, host.Settings.MaxConcurrency);
        }

        if (!host.WaitsForTokens)
        {
            return false;
        }

        if (!host.TokensWanted && host.Count > 0 && host.Settings.StartsPerSecond is { } rate)
        {
            // As many tokens as the host's queued work, at most its burst.
            host.TokensWanted = true;
            _asking.Add(host);
            _fleet!.WantTokens(host.Key, Math.Min(host.Count, host.Settings.Burst), rate, host.Settings.Burst);
        }

        return true;
    }

    /// <summary>The fleet granted <paramref name="granted"/> of the shares the host asked for.</summary>
    public void Granted(HostState host, int granted, bool contended, int fairShare, long now)
    {
        host.SharesWanted = Math.Max(0, host.SharesWanted - granted);
        host.Shares += granted;
        host.Contended = contended;
        if (fairShare > 0)
        {
            host.FairShare = fairShare;
        }

        ReturnSpare(host, now);
    }

    /// <summary>Shares granted for a host this dispatcher no longer knows go straight back.</summary>
    public void ReturnUnknown(HostKey key, int granted)
    {
        if (granted > 0)
        {
            _fleet?.ReturnShares(key, granted);
        }
    }

    /// <summary>The fleet took <paramref name="count"/> of the host's shares back (their leases expired).</summary>
    public static void Revoked(HostState host, int count) => host.Shares = Math.Max(0, host.Shares - count);

    /// <summary>Updates whether other processes wait for the host's shares, and gives back what this process should not keep.</summary>
    public void SetContention(HostState host, bool contended, int fairShare, long now)
    {
        host.Contended = contended;
        host.FairShare = Math.Max(1, fairShare);
        ReturnSpare(host, now);
    }

    /// <summary>The fleet granted start tokens of the host's rate limit.</summary>
    public static void TokensGranted(HostState host, int granted)
    {
        host.TokensWanted = false;
        host.FleetTokens += granted;
    }

    /// <summary>The host's queued work failed: it wants nothing more, and gives back what it does not use.</summary>
    public void DropWants(HostState host, long now)
    {
        host.SharesWanted = 0;
        host.TokensWanted = false;
        ReturnSpare(host, now);
    }

    /// <summary>Gives spare shares back now when others wait for them, else after the linger time (<see cref="Sweep"/>).</summary>
    public void ReturnSpare(HostState host, long now)
    {
        var spare = Spare(host);
        if (spare <= 0)
        {
            host.SurplusSince = 0;
        }
        else if (host.Contended || _lingerTicks == 0)
        {
            GiveBack(host, spare);
        }
        else if (host.SurplusSince == 0)
        {
            host.SurplusSince = now;
        }
    }

    /// <summary>
    /// Gives back the shares that have gone unused for the linger time, and stops following the hosts that hold and want
    /// nothing any more (returned, for the dispatcher to forget when idle; the list is reused by the next call).
    /// </summary>
    public List<HostState> Sweep(long now)
    {
        var settled = _settled;
        settled.Clear();
        foreach (var host in _asking)
        {
            if (host.SurplusSince != 0 && now - host.SurplusSince >= _lingerTicks)
            {
                GiveBack(host, Spare(host));
            }

            if (host.Shares == 0 && host.SharesWanted == 0 && !host.TokensWanted)
            {
                settled.Add(host);
            }
        }

        foreach (var host in settled)
        {
            _asking.Remove(host);
        }

        return settled;
    }

    /// <summary>A host asked everyone to wait: the fleet is told.</summary>
    public void HostPaused(HostKey key, DateTimeOffset until) => _fleet?.HostPaused(key, until);

    /// <summary>The shares the host holds beyond its work (and, while contended, beyond its fair share and what is in flight).</summary>
    internal static int Spare(HostState host)
    {
        var spare = host.Shares - Math.Min(host.InFlight + host.Count + host.Held, host.BaseLimit);
        if (host.Contended && host.Shares > host.FairShare)
        {
            spare = Math.Max(spare, host.Shares - Math.Max(host.FairShare, host.InFlight));
        }

        return Math.Max(0, Math.Min(spare, host.Shares - host.InFlight));
    }

    private void GiveBack(HostState host, int count)
    {
        host.SurplusSince = 0;
        if (count > 0)
        {
            host.Shares -= count;
            _fleet!.ReturnShares(host.Key, count);
        }
    }
}
