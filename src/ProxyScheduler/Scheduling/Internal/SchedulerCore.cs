using System.Runtime.CompilerServices;
using ProxyScheduler.Diagnostics.Internal;
using ProxyScheduler.Dispatch;
using ProxyScheduler.Execution;
using ProxyScheduler.Politeness.Internal;
using ProxyScheduler.Processing;
using ProxyScheduler.Proxies.Sessions.Internal;

namespace ProxyScheduler.Scheduling.Internal;

/// <summary>
/// The parts of one scheduler that its batches (<see cref="BatchRun"/>) and post-processing runs work with: admission,
/// the dispatcher, the executor, robots.txt, and the scheduler's lifetime. Built once by <see cref="RequestScheduler"/>;
/// the parts keep their own state, the core only holds them together and owns the admission semaphore and disposal.
/// </summary>
internal sealed class SchedulerCore : IDisposable
{
    private readonly CancellationTokenSource _disposeCts = new();
    private readonly SessionResolver _sessions;
    private readonly IReadOnlyList<Proxies.Sessions.GatewayPreset> _sessionKeyPresets;
    private readonly SchedulerMetrics _metrics;
    private int _processingBacklog;
    private volatile bool _disposed;

    public SchedulerCore(ProxySchedulerOptions options, Dispatcher dispatcher, SessionResolver sessions, SchedulerMetrics metrics, TimeProvider time)
    {
        Dispatcher = dispatcher;
        _sessions = sessions;
        _metrics = metrics;
        Time = time;
        QueueLimit = options.QueueLimit;
        Admission = new SemaphoreSlim(options.QueueLimit, options.QueueLimit);
        MaxResponseBodySize = options.MaxResponseBodySize;
        ProcessingDefaults = (options.PostProcessing ?? new PostProcessingOptions()).Clone();
        _sessionKeyPresets = dispatcher.HasPool ? dispatcher.SessionKeyPresets() : [];
    }

    /// <summary>Gets the dispatcher.</summary>
    public Dispatcher Dispatcher { get; }

    /// <summary>Gets the executor of admitted requests (set once, when the scheduler is composed).</summary>
    public RequestExecutor Executor { get; set; } = null!;

    /// <summary>Gets the robots.txt gate, when robots.txt is obeyed.</summary>
    public RobotsPolicy? Robots { get; set; }

    /// <summary>Gets the admission semaphore: at most <see cref="QueueLimit"/> requests are admitted at once.</summary>
    public SemaphoreSlim Admission { get; }

    public int QueueLimit { get; }

    /// <summary>Gets the scheduler's clock.</summary>
    public TimeProvider Time { get; }

    /// <summary>Gets the global concurrency limit.</summary>
    public int MaxConcurrency => Dispatcher.GlobalLimit;

    /// <summary>Gets the largest response body read.</summary>
    public long MaxResponseBodySize { get; }

    /// <summary>Gets the options post-processing pipelines start from.</summary>
    public PostProcessingOptions ProcessingDefaults { get; }

    /// <summary>Gets a token that is canceled when the scheduler is disposed.</summary>
    public CancellationToken DisposalToken => _disposeCts.Token;

    /// <summary>Gets a value indicating whether the scheduler was disposed.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>Gets the number of responses waiting for a post-processing worker, over all runs.</summary>
    public int ProcessingBacklog => Volatile.Read(ref _processingBacklog);

    /// <summary>The core of the library's scheduler behind <paramref name="scheduler"/>, which the post-processing stage needs.</summary>
    /// <exception cref="ArgumentException">It is another implementation of <see cref="IRequestScheduler"/>.</exception>
    public static SchedulerCore From(IRequestScheduler scheduler, string paramName)
    {
        ArgumentNullException.ThrowIfNull(scheduler, paramName);
        return (scheduler as RequestScheduler)?.Core ?? throw new ArgumentException(
            $"Post-processing needs the scheduler registered by AddProxyScheduler (it holds back dispatching when processing falls behind); {scheduler.GetType().Name} is another implementation of IRequestScheduler.",
            paramName);
    }

    /// <summary>The requests of a synchronous sequence, one at a time, checking <paramref name="cancellationToken"/> between them.</summary>
    public static async IAsyncEnumerable<ScheduledRequest> ToAsync(IEnumerable<ScheduledRequest> requests, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var request in requests)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return request;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    public void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>Queues the first attempt of an admitted request without starting its execution (see <see cref="DeferredWaiter"/>).</summary>
    /// <exception cref="ObjectDisposedException">The scheduler was disposed.</exception>
    public void EnqueueFirstAttempt(DeferredWaiter waiter, ScheduledRequest request)
    {
        waiter.Requirement = request.Proxy;
        if (_sessions.Resolve(request, request.HostKey, out _) is { } session)
        {
            waiter.Session = session;
            waiter.SessionRebindsAtQueue = session.Rebinds;
        }

        if ((request.Deadline ?? Executor.Deadline) is { } deadline)
        {
            waiter.DeadlineAt = Time.GetTimestamp() + Time.ToTimestampTicks(deadline);
        }

        Dispatcher.Enqueue(waiter, request.HostKey, request.Priority);
    }

    /// <summary>
    /// Checks a session key against the rules of gateways that send it as their session id: a gateway silently ignores an
    /// id it does not understand, so a bad one fails at once (the message names the rule, never the key).
    /// </summary>
    /// <exception cref="ArgumentException">The key breaks a gateway's session id rules.</exception>
    public void ValidateSessionKey(ScheduledRequest request, string paramName)
    {
        if (request.SessionKey is not { } key || _sessionKeyPresets.Count == 0)
        {
            return;
        }

        foreach (var preset in _sessionKeyPresets)
        {
            if (preset.ValidateSessionId(key) is { } problem)
            {
                throw new ArgumentException($"The request's SessionKey is sent as the gateway's session id, and {problem}", paramName);
            }
        }
    }

    /// <summary>Counts responses waiting for a post-processing worker (over all runs), for the backlog gauge.</summary>
    public void AddProcessingBacklog(int delta) => Interlocked.Add(ref _processingBacklog, delta);

    /// <summary>Records one post-processing chain's duration.</summary>
    public void RecordProcessing(TimeSpan duration, string status) =>
        _metrics.ProcessingDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("status", status));

    /// <summary>Marks the scheduler disposed and cancels what runs; the caller then disposes the dispatcher.</summary>
    public void Dispose()
    {
        _disposed = true;
        _disposeCts.Cancel();
    }
}
