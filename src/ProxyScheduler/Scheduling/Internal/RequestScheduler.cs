using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using ProxyScheduler.Classification;
using ProxyScheduler.Diagnostics.Internal;
using ProxyScheduler.Dispatch;
using ProxyScheduler.Execution;
using ProxyScheduler.Fleet;
using ProxyScheduler.Politeness.Internal;
using ProxyScheduler.Proxies;
using ProxyScheduler.Proxies.Internal;
using ProxyScheduler.Proxies.Sessions.Internal;
using ProxyScheduler.Transport.Internal;

namespace ProxyScheduler.Scheduling.Internal;

/// <summary>
/// The scheduler's front door: validates and admits requests up to <see cref="ProxySchedulerOptions.QueueLimit"/>
/// (robots.txt first, when obeyed), hands each to the <see cref="RequestExecutor"/> (which runs its attempts under the
/// <see cref="Dispatcher"/>'s permits), runs batches, and answers snapshots. It also composes the parts from the options
/// and the registered components; the parts keep their own state.
/// </summary>
#pragma warning disable RS0026 // Implements IRequestScheduler.
internal sealed class RequestScheduler : IRequestScheduler, IDisposable
#pragma warning restore RS0026
{
    private readonly Dispatcher _dispatcher;
    private readonly SchedulerMetrics _metrics;
    private readonly ProxySource? _proxySource;
    private readonly SessionResolver _sessions;

    public RequestScheduler(ProxySchedulerOptions options, IHttpMessageHandlerFactory handlerFactory, TimeProvider time, ILoggerFactory loggerFactory)
        : this(options, handlerFactory, time, loggerFactory, SchedulerComponents.Empty)
    {
    }

    /// <exception cref="InvalidOperationException">A named selector or classifier is not registered, or a proxy source cannot be read at start.</exception>
    public RequestScheduler(ProxySchedulerOptions options, IHttpMessageHandlerFactory handlerFactory, TimeProvider time, ILoggerFactory loggerFactory, SchedulerComponents components)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handlerFactory);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ArgumentNullException.ThrowIfNull(components);

        var logger = loggerFactory.CreateLogger("ProxyScheduler");
        _metrics = new SchedulerMetrics(components.MeterFactory);
        var classifiers = new Dictionary<string, IResponseClassifier>(StringComparer.OrdinalIgnoreCase);
        foreach (var classifier in components.Classifiers)
        {
            classifiers[classifier.Name] = classifier;
        }

        var providers = components.Providers.ToList();
        if (options.Proxies.Count > 0 && components.Registry is not null && !providers.Any(static p => p is ConfigurationProxyProvider))
        {
            providers.Add(new StaticProxyProvider(ProxyEndpoint.ParseList(options.Proxies)));
        }

        providers.RemoveAll(p => p is ConfigurationProxyProvider && options.Proxies.Count == 0);
        ProxyPool? pool = null;
        if (providers.Count > 0)
        {
            var registry = components.Registry ?? throw new InvalidOperationException("Proxies need the scheduler's transport registry; register the scheduler with AddProxyScheduler.");
            pool = new ProxyPool(options.ProxyPool, ResolveSelector(options.ProxyPool.Selector, components.Selectors), time, registry, loggerFactory.CreateLogger("ProxyScheduler.Proxies"), _metrics);
        }

        var sessionStore = components.SessionStore ?? new InMemorySessionStore(options.Sessions.MaxSessions);
        _dispatcher = new Dispatcher(options.MaxConcurrency, new HostSettingsResolver(options, classifiers), time, pool,
            pool is null ? null : new SessionBinder(options.Sessions, time, _metrics, loggerFactory.CreateLogger("ProxyScheduler.Sessions"), sessionStore as ISessionBindingObserver),
            logger)
        {
            HostHealth = options.HostHealth,
            Metrics = _metrics,
            MaxWaitForProxy = options.ProxyPool.MaxWaitForProxy,
        };
        components.Fleet?.Attach(_dispatcher);
        if (pool is not null)
        {
            _proxySource = new ProxySource(providers, _dispatcher.UpdateProxies, loggerFactory.CreateLogger("ProxyScheduler.Proxies"));
        }

        _sessions = new SessionResolver(options.Sessions, sessionStore, pool is not null, time);
        Core = new SchedulerCore(options, _dispatcher, _sessions, _metrics, time);
        var failures = new FailureTranslator(logger, () => Core.IsDisposed);
        var attempts = new AttemptRunner(_dispatcher, new HttpTransport(handlerFactory), _sessions, failures, _metrics, time, options.MaxResponseBodySize, options.MaxRedirects > 0);
        var retry = new RetryPolicy(options.Retry, _dispatcher, time, _metrics, logger);
        Core.Executor = new RequestExecutor(attempts, retry, failures, _dispatcher, _sessions, options, _metrics, logger, time, Core.DisposalToken);
        if (options.Robots is { Enabled: true } robots)
        {
            var executor = Core.Executor;
            var disposal = Core.DisposalToken;
            Core.Robots = new RobotsPolicy(robots, time, options.AttemptTimeout,
                async request => (await executor.ExecuteAsync(request, null, 0, null, -1, disposal).ConfigureAwait(false))!,
                _dispatcher.SetCrawlDelay);
        }

        _metrics.Observe(
            () =>
            {
                var counts = _dispatcher.GetCounts();
                return (counts.Queued, counts.InFlight);
            },
            ProxiesByState,
            () => Core.ProcessingBacklog);
        _metrics.ObserveWaits(() =>
        {
            var waits = _dispatcher.GetWaits();
            return (waits.HostsDown, waits.WaitingForProxy);
        });
        if (options.PerHostMetrics.Count > 0)
        {
            _metrics.ObserveHosts(_dispatcher.MeasureHosts);
        }
    }

    /// <summary>Gets the parts batches and post-processing runs work with.</summary>
    internal SchedulerCore Core { get; }

    public int QueueLimit => Core.QueueLimit;

    /// <summary>Gets a value indicating whether proxies are configured (a pool exists, even if it is empty now).</summary>
    public bool UsesProxies => _dispatcher.HasPool;

    public Task<ScheduledResponse> SendAsync(ScheduledRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        RequestValidator.Validate(request, nameof(request));
        Core.ValidateSessionKey(request, nameof(request));
        ObjectDisposedException.ThrowIf(Core.IsDisposed, this);
        return SendCoreAsync(request, cancellationToken);
    }

    public IAsyncEnumerable<RequestOutcome> SendAllAsync(IAsyncEnumerable<ScheduledRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        ObjectDisposedException.ThrowIf(Core.IsDisposed, this);
        return RunBatchAsync(requests, cancellationToken);
    }

    public IAsyncEnumerable<RequestOutcome> SendAllAsync(IEnumerable<ScheduledRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        return SendAllAsync(SchedulerCore.ToAsync(requests, cancellationToken), cancellationToken);
    }

    public SchedulerSnapshot GetSnapshot()
    {
        var hosts = _dispatcher.GetHostSnapshots(out var queued, out var inFlight);
        var waits = _dispatcher.GetWaits();
        return new SchedulerSnapshot(Core.QueueLimit - Core.Admission.CurrentCount, queued, inFlight, _dispatcher.GlobalLimit, hosts)
        {
            Proxies = _dispatcher.GetProxySnapshots(),
            Sessions = _sessions.Count,
            HostsDown = waits.HostsDown,
            WaitingForProxy = waits.WaitingForProxy,
            WaitingForProxyReason = waits.WaitingForProxy > 0 ? waits.ProxyExplanation : null,
        };
    }

    public void Dispose()
    {
        if (Core.IsDisposed)
        {
            return;
        }

        Core.Dispose();
        _proxySource?.Dispose();
        _dispatcher.Dispose();
        _metrics.Dispose();
    }

    /// <summary>Each enumeration of <see cref="SendAllAsync(IAsyncEnumerable{ScheduledRequest}, CancellationToken)"/> is a batch of its own.</summary>
    private async IAsyncEnumerable<RequestOutcome> RunBatchAsync(IAsyncEnumerable<ScheduledRequest> requests, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var outcome in new BatchRun(Core, requests).RunAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return outcome;
        }
    }

    private async Task<ScheduledResponse> SendCoreAsync(ScheduledRequest request, CancellationToken cancellationToken)
    {
        if (Core.Robots?.RulesFor(request) is { } robots)
        {
            // Before admission: the fetch of a robots.txt needs no slot of the caller's, so many requests waiting for
            // one never hold up the fetch.
            if (Core.Robots.Check(request, await robots.WaitAsync(cancellationToken).ConfigureAwait(false)) is { } refusal)
            {
                throw refusal;
            }
        }

        await Core.Admission.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return (await Core.Executor.ExecuteAsync(request, null, 0, null, -1, cancellationToken).ConfigureAwait(false))!;
        }
        finally
        {
            Core.Admission.Release();
        }
    }

    private IEnumerable<System.Diagnostics.Metrics.Measurement<int>> ProxiesByState() =>
        _dispatcher.GetProxySnapshots()
            .GroupBy(static p => p.State)
            .Select(static g => new System.Diagnostics.Metrics.Measurement<int>(g.Count(), new KeyValuePair<string, object?>("state", g.Key.ToString().ToLowerInvariant())));

    private static IProxySelector ResolveSelector(string name, IEnumerable<IProxySelector> registered)
    {
        IProxySelector[] builtIn = [new PowerOfTwoChoicesSelector(), new RoundRobinSelector(), new LeastInFlightSelector(), new RandomSelector()];
        var all = registered.Concat(builtIn).ToList();
        return all.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? throw new InvalidOperationException(
                $"ProxyScheduler:ProxyPool:Selector names the proxy selector '{name}', which is not registered (available: {string.Join(", ", all.Select(static s => s.Name).Distinct(StringComparer.OrdinalIgnoreCase))}).");
    }
}
