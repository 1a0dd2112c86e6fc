using Microsoft.Extensions.Logging;
using ProxyScheduler.Classification;
using ProxyScheduler.Classification.Internal;
using ProxyScheduler.Diagnostics.Internal;
using ProxyScheduler.Politeness.Internal;
using ProxyScheduler.Proxies.Internal;

namespace ProxyScheduler.Dispatch;

/// <summary>
/// Judges whether a target host is down from its attempts' verdicts, by <see cref="HostHealthOptions"/>: failures
/// blamed on the host that do not answer (timeouts, resets, refusals) through enough routes open its circuit; an answer
/// closes it; a failure through one proxy contradicted by a recent answer through another is that proxy's, not the
/// host's. A plain collaborator of the <see cref="Dispatcher"/>, called under its lock with <c>now</c> passed in; the
/// host's <see cref="HostCircuit"/> is its state.
/// </summary>
internal sealed class HostHealthTracker
{
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ProxyPool? _pool;
    private readonly long _contradictionWindowTicks;
    private readonly Func<TimeSpan, long> _toTicks;

    /// <param name="time">The clock.</param>
    /// <param name="logger">Where a host going down, failing a probe and recovering is logged.</param>
    /// <param name="pool">The pool (how many proxies serve decides how many routes must fail); <see langword="null"/> without proxies.</param>
    public HostHealthTracker(TimeProvider time, ILogger logger, ProxyPool? pool)
    {
        _time = time;
        _logger = logger;
        _pool = pool;
        _toTicks = time.ToTimestampTicks;
        _contradictionWindowTicks = time.ToTimestampTicks(TimeSpan.FromMinutes(1));
    }

    /// <summary>Gets or sets the rules that judge a host down.</summary>
    public HostHealthOptions Options { get; set; } = new();

    /// <summary>Gets or sets the metrics hosts going down are counted on; none in bare tests.</summary>
    public SchedulerMetrics? Metrics { get; set; }

    /// <summary>
    /// Learns from an attempt what the host's health is (see <see cref="HostCircuit"/>). Returns <see langword="true"/>
    /// when a failure at the target through a proxy is contradicted by a recent answer through another one: then it is
    /// that proxy's matter with this host, and the host is not charged. <paramref name="giveUp"/> is set when the host has
    /// been down longer than <see cref="HostHealthOptions.MaxWait"/> with requests queued: they are to fail.
    /// </summary>
    public bool Learn(HostState host, ProxyNode? proxy, ResponseClass outcome, AttemptVerdict verdict, long now, out string? giveUp)
    {
        giveUp = null;
        switch (outcome)
        {
            case ResponseClass.Success or ResponseClass.Blocked or ResponseClass.Throttled:
                // The host answered (to this proxy, at least): it is up.
                if (host.Circuit is { } up)
                {
                    var since = up.DownSince;
                    if (up.OnAnswer(proxy, now))
                    {
                        Log.HostRecovered(_logger, host.Key.ToString(), _time.GetElapsedTime(since, now).TotalMilliseconds);
                    }
                }
                else if (host.Circuit is null && proxy is not null && _pool!.ServingCount > 1)
                {
                    // Remember who reached the host only where another proxy's failure could be weighed against it.
                    (host.Circuit = new HostCircuit()).OnAnswer(proxy, now);
                }

                return false;
            case ResponseClass.TargetFailure:
            case ResponseClass.ProxyFailure when verdict.Blame == AttemptBlame.ProxyAndHost:
                break;
            default:
                return false;
        }

        if (verdict.Blame is not (AttemptBlame.Host or AttemptBlame.ProxyAndHost))
        {
            return false;
        }

        if (verdict.Kind == FailureKind.TargetStatus)
        {
            // The host answered, with an error status: it is reachable. Retries, Retry-After and the adaptive limit
            // deal with it; the circuit is for a host that does not answer (timeouts, resets, refusals).
            return false;
        }

        var circuit = host.Circuit ??= new HostCircuit();
        if (proxy is not null && circuit.Contradicts(proxy, now, _contradictionWindowTicks))
        {
            return true;
        }

        var wasDown = circuit.IsDown;
        var downSince = circuit.DownSince;
        var toConvince = proxy is null || _pool is null ? 1 : Math.Min(2, Math.Max(1, _pool.ServingCount));
        if (!circuit.OnFailure(proxy, verdict.Kind, now, Options, toConvince, _toTicks))
        {
            return false;
        }

        var pause = circuit.Break(Options);
        host.NextStart = Math.Max(host.NextStart, circuit.DownUntil);
        var kind = AttemptVerdict.Describe(verdict.Kind);
        if (!wasDown)
        {
            Metrics?.HostsDown.Add(1);
            Log.HostDown(_logger, host.Key.ToString(), circuit.Streak, kind,
                proxy is null ? "direct" : circuit.ManyProxies ? "several proxies" : "the only proxy able to serve it", pause.TotalMilliseconds);
            return false;
        }

        Log.HostProbeFailed(_logger, host.Key.ToString(), kind, pause.TotalMilliseconds);
        if (Options.MaxWait != Timeout.InfiniteTimeSpan && host.Count > 0 && _time.GetElapsedTime(downSince, now) >= Options.MaxWait)
        {
            giveUp = $"Host {host.Key} has been down for {_time.GetElapsedTime(downSince, now).TotalSeconds:0} s (its attempts {kind}; HostHealth:MaxWait is {Options.MaxWait.TotalSeconds:0.###} s); next probe in {pause.TotalSeconds:0.#} s.";
        }

        return false;
    }
}
