using ProxyScheduler.Classification.Internal;

namespace ProxyScheduler.Politeness.Internal;

/// <summary>
/// Whether a host is up, from the evidence of its attempts: the last success (and through which proxy), the failures at
/// the target since then (and through how many proxies), and the circuit of a host judged down (its break, its probes).
/// A plain class called under the dispatcher's lock with <c>now</c> passed in; created at a host's first failure.
/// </summary>
internal sealed class HostCircuit
{
    private object? _firstFailedVia;

    /// <summary>Gets the timestamp of the host's last answer; 0 for none yet.</summary>
    public long LastSuccessAt { get; private set; }

    /// <summary>Gets the proxy (a <see cref="Proxies.Internal.ProxyNode"/>) the last answer came through; <see langword="null"/> when it came directly.</summary>
    public object? LastSuccessVia { get; private set; }

    /// <summary>Gets the target failures since the last answer.</summary>
    public int Streak { get; private set; }

    /// <summary>Gets a value indicating whether the failures since the last answer came through two or more proxies.</summary>
    public bool ManyProxies { get; private set; }

    /// <summary>Gets what the last failure looked like.</summary>
    public FailureKind LastKind { get; private set; }

    /// <summary>Gets how many times in a row the host was judged down (0 when it is up).</summary>
    public int Opens { get; private set; }

    /// <summary>Gets when the host was judged down; 0 when it is up.</summary>
    public long DownSince { get; private set; }

    /// <summary>Gets the end of the current break; after it, one probe at a time goes.</summary>
    public long DownUntil { get; private set; }

    public bool IsDown => Opens > 0;

    /// <summary>
    /// Whether a failure through <paramref name="via"/> is contradicted by a recent answer of the host through another
    /// proxy (or directly): then the failure is that proxy's with this host, not the host's.
    /// </summary>
    public bool Contradicts(object via, long now, long windowTicks) =>
        LastSuccessAt != 0 && now - LastSuccessAt <= windowTicks && !ReferenceEquals(LastSuccessVia, via) && !IsDown;

    /// <summary>The host answered: its failures are forgotten. Returns <see langword="true"/> when the host was down and is back.</summary>
    public bool OnAnswer(object? via, long now)
    {
        LastSuccessAt = now;
        LastSuccessVia = via;
        Streak = 0;
        ManyProxies = false;
        _firstFailedVia = null;
        if (Opens == 0)
        {
            return false;
        }

        Opens = 0;
        DownSince = 0;
        DownUntil = 0;
        return true;
    }

    /// <summary>
    /// A failure at the target, through <paramref name="via"/> (<see langword="null"/> directly). Returns
    /// <see langword="true"/> when it opens the circuit: the host is newly down, or a probe after a break failed.
    /// <paramref name="proxiesToConvince"/> is how many distinct proxies must fail before the host is judged down (2, or
    /// 1 when only one proxy could serve it).
    /// </summary>
    public bool OnFailure(object? via, FailureKind kind, long now, HostHealthOptions options, int proxiesToConvince, Func<TimeSpan, long> toTicks)
    {
        LastKind = kind;
        if (Opens > 0)
        {
            if (now < DownUntil)
            {
                // An attempt started before the break: the host is known to be down already.
                return false;
            }

            Opens++;
            DownUntil = now + toTicks(Break(options));
            return true;
        }

        Streak++;
        if (Streak == 1)
        {
            _firstFailedVia = via;
        }
        else if (!ReferenceEquals(via, _firstFailedVia))
        {
            ManyProxies = true;
        }

        var convinced = via is null || ManyProxies || proxiesToConvince <= 1;
        if (options.FailureThreshold == 0 || Streak < options.FailureThreshold || !convinced)
        {
            return false;
        }

        Opens = 1;
        DownSince = now;
        DownUntil = now + toTicks(Break(options));
        return true;
    }

    /// <summary>The current break: <see cref="HostHealthOptions.BreakDuration"/> doubled for each failed probe, at most <see cref="HostHealthOptions.MaxBreakDuration"/>.</summary>
    public TimeSpan Break(HostHealthOptions options)
    {
        var factor = Math.Pow(2, Math.Min(Math.Max(Opens - 1, 0), 30));
        return TimeSpan.FromTicks((long)Math.Min(options.BreakDuration.Ticks * factor, options.MaxBreakDuration.Ticks));
    }
}
