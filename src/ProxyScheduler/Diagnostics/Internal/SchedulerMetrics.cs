using System.Diagnostics.Metrics;

namespace ProxyScheduler.Diagnostics.Internal;

/// <summary>
/// The scheduler's instruments on the <c>ProxyScheduler</c> meter. Proxies appear only by their opaque id; hosts, URIs,
/// credentials and session keys never become tags.
/// </summary>
internal sealed class SchedulerMetrics : IDisposable
{
    public const string MeterName = "ProxyScheduler";

    /// <summary>The bucket boundaries of the duration histograms: those of the OpenTelemetry HTTP conventions (<c>http.client.request.duration</c>), and longer ones for queueing and retries.</summary>
    private static readonly InstrumentAdvice<double> Seconds = new()
    {
        HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60, 300],
    };

    private readonly Meter _meter;
    private readonly bool _ownsMeter;

    public SchedulerMetrics(IMeterFactory? factory)
    {
        if (factory is not null)
        {
            _meter = factory.Create(MeterName);
        }
        else
        {
            _meter = new Meter(MeterName);
            _ownsMeter = true;
        }

        Attempts = _meter.CreateCounter<long>("proxyscheduler.attempts", "{attempt}", "Attempts ended, by proxy id (or direct) and response class.");
        ProxyStateChanges = _meter.CreateCounter<long>("proxyscheduler.proxy.state_changes", "{change}", "Proxies quarantined, reanimated, retired or drained, by proxy id and new state.");
        ProxyQuarantines = _meter.CreateCounter<long>("proxyscheduler.proxy.quarantines", "{quarantine}", "Proxies put in quarantine, by proxy id.");
        HostsDown = _meter.CreateCounter<long>("proxyscheduler.hosts.marked_down", "{host}", "Hosts judged down (their attempts failed through several proxies or directly); no host tag.");
        ProxyPairFailures = _meter.CreateCounter<long>("proxyscheduler.proxy.pair_failures", "{failure}", "Target failures through a proxy that other proxies' answers from the same host charge to that proxy with that host, by proxy id.");
        ProxyBlocks = _meter.CreateCounter<long>("proxyscheduler.proxy.blocks", "{block}", "Blocks of a proxy by a host, by proxy id.");
        RequestsStarted = _meter.CreateCounter<long>("proxyscheduler.requests.started", "{request}", "Requests admitted, by HTTP method.");
        RequestsCompleted = _meter.CreateCounter<long>("proxyscheduler.requests.completed", "{request}", "Requests ended, by outcome (response, failed, canceled), status code and error type.");
        RequestDuration = _meter.CreateHistogram("proxyscheduler.request.duration", "s", "Time from a request's submission to its end, queueing, retries and redirects included.", tags: null, Seconds);
        AttemptDuration = _meter.CreateHistogram("proxyscheduler.attempt.duration", "s", "Time of one attempt, from its dispatch to its buffered body, by proxy id (or direct) and response class.", tags: null, Seconds);
        Retries = _meter.CreateCounter<long>("proxyscheduler.retries", "{retry}", "Retries scheduled, by the response class of the attempt retried.");
        SessionRebinds = _meter.CreateCounter<long>("proxyscheduler.session.rebinds", "{rebind}", "Sessions moved to another proxy identity.");
        ProcessingDuration = _meter.CreateHistogram("proxyscheduler.postprocessing.duration", "s", "Time a post-processing chain took for one response, by status.", tags: null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });
    }

    public Counter<long> RequestsStarted { get; }

    public Counter<long> RequestsCompleted { get; }

    public Histogram<double> RequestDuration { get; }

    public Histogram<double> AttemptDuration { get; }

    public Counter<long> Retries { get; }

    public Counter<long> SessionRebinds { get; }

    public Histogram<double> ProcessingDuration { get; }

    /// <summary>Registers the gauges read from the scheduler's state when a collector asks (queue, in flight, proxies by state, post-processing backlog).</summary>
    public void Observe(Func<(int Queued, int InFlight)> counts, Func<IEnumerable<Measurement<int>>> proxiesByState, Func<int> processingBacklog)
    {
        _meter.CreateObservableGauge("proxyscheduler.queue.depth", () => counts().Queued, "{request}", "Attempts waiting in the host queues.");
        _meter.CreateObservableGauge("proxyscheduler.requests.in_flight", () => counts().InFlight, "{attempt}", "Attempts in flight.");
        _meter.CreateObservableGauge("proxyscheduler.proxies", proxiesByState, "{proxy}", "Proxies of the pool, by state (healthy, quarantined, retired, draining).");
        _meter.CreateObservableGauge("proxyscheduler.postprocessing.queue.depth", processingBacklog, "{response}", "Responses fetched and waiting for a post-processing worker, over all runs.");
    }

    /// <summary>Registers the per-host gauges of the allow-listed hosts (<see cref="ProxySchedulerOptions.PerHostMetrics"/>), tagged with <c>server.address</c> and <c>server.port</c>.</summary>
    public void ObserveHosts(Func<HostGauge, IEnumerable<Measurement<int>>> measure)
    {
        _meter.CreateObservableGauge("proxyscheduler.host.queue.depth", () => measure(HostGauge.QueueDepth), "{request}", "Attempts waiting for the host, per allow-listed host.");
        _meter.CreateObservableGauge("proxyscheduler.host.requests.in_flight", () => measure(HostGauge.InFlight), "{attempt}", "Attempts in flight to the host, per allow-listed host.");
        _meter.CreateObservableGauge("proxyscheduler.host.is_down", () => measure(HostGauge.IsDown), "{host}", "1 while the host is judged down (its circuit open or probing), per allow-listed host.");
        _meter.CreateObservableGauge("proxyscheduler.host.concurrency.limit", () => measure(HostGauge.ConcurrencyLimit), "{attempt}", "The host's concurrency limit now (the adaptive one when it adapts), per allow-listed host.");
    }

    public Counter<long> Attempts { get; }

    public Counter<long> ProxyStateChanges { get; }

    public Counter<long> ProxyQuarantines { get; }

    public Counter<long> ProxyBlocks { get; }

    public Counter<long> HostsDown { get; }

    public Counter<long> ProxyPairFailures { get; }

    /// <summary>Registers the gauges of what requests wait for: hosts down, requests waiting for a proxy.</summary>
    public void ObserveWaits(Func<(int HostsDown, int WaitingForProxy)> waits)
    {
        _meter.CreateObservableGauge("proxyscheduler.hosts.down", () => waits().HostsDown, "{host}", "Hosts judged down now.");
        _meter.CreateObservableGauge("proxyscheduler.requests.waiting_for_proxy", () => waits().WaitingForProxy, "{request}", "Requests waiting because no proxy able to serve them is available (quarantined, blocked or retired), not merely busy.");
    }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
