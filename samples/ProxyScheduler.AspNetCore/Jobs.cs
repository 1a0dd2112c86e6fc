using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using ProxyScheduler.Processing;

namespace ProxyScheduler.AspNetCore;

/// <summary>The body of <c>POST /jobs</c>.</summary>
/// <param name="Urls">The absolute http(s) URLs to fetch.</param>
/// <param name="SessionKey">A session key for every request of the job (one proxy identity for the whole job); never echoed back or logged.</param>
/// <param name="Priority">The priority of the job's requests (higher first).</param>
public sealed record JobRequest(IReadOnlyList<string>? Urls, string? SessionKey = null, int Priority = 0);

/// <summary>A job's state.</summary>
public enum JobStatus
{
    /// <summary>Waiting for a runner.</summary>
    Queued,

    /// <summary>Its requests are being sent.</summary>
    Running,

    /// <summary>Every request has a result.</summary>
    Completed,

    /// <summary>Canceled (<c>DELETE /jobs/{id}</c> or shutdown) before it completed; the results so far are kept.</summary>
    Canceled,
}

/// <summary>What became of one URL of a job.</summary>
public sealed record JobItemResult(
    long Index,
    string Url,
    ProcessedResultStatus Status,
    int? StatusCode,
    int Attempts,
    string? ProxyId,
    bool SessionRebound,
    double ElapsedMs,
    int Bytes,
    PageSummary? Page,
    string? Error);

/// <summary>One job: its URLs, its progress and its results. Thread-safe.</summary>
public sealed class Job : IDisposable
{
    private readonly List<JobItemResult> _results = [];
    private readonly CancellationTokenSource _cancel = new();

    public Job(Guid id, IReadOnlyList<Uri> urls, string? sessionKey, int priority, DateTimeOffset submittedAt)
    {
        Id = id;
        Urls = urls;
        SessionKey = sessionKey;
        Priority = priority;
        SubmittedAt = submittedAt;
    }

    public Guid Id { get; }

    public IReadOnlyList<Uri> Urls { get; }

    public string? SessionKey { get; }

    public int Priority { get; }

    public DateTimeOffset SubmittedAt { get; }

    public DateTimeOffset? StartedAt { get; private set; }

    public DateTimeOffset? FinishedAt { get; private set; }

    public JobStatus Status { get; private set; }

    public bool IsFinished => Status is JobStatus.Completed or JobStatus.Canceled;

    public CancellationToken Token => _cancel.Token;

    public void Cancel()
    {
        lock (_results)
        {
            if (!IsFinished)
            {
                _cancel.Cancel();
            }
        }
    }

    /// <summary>Releases the job's cancellation source (the store does, when it forgets a finished job).</summary>
    public void Dispose()
    {
        lock (_results)
        {
            _cancel.Dispose();
        }
    }

    public void Start(DateTimeOffset now)
    {
        lock (_results)
        {
            Status = JobStatus.Running;
            StartedAt = now;
        }
    }

    public void Add(JobItemResult result)
    {
        lock (_results)
        {
            _results.Add(result);
        }
    }

    public void Finish(JobStatus status, DateTimeOffset now)
    {
        lock (_results)
        {
            Status = status;
            FinishedAt = now;
        }
    }

    /// <summary>A consistent view for <c>GET /jobs/{id}</c>: progress, counts and the results in URL order. The session key is left out.</summary>
    public object ToView(bool includeResults)
    {
        lock (_results)
        {
            var succeeded = _results.Count(r => r.Status == ProcessedResultStatus.Succeeded);
            return new
            {
                Id,
                Status,
                SubmittedAt,
                StartedAt,
                FinishedAt,
                Total = Urls.Count,
                Done = _results.Count,
                Succeeded = succeeded,
                Failed = _results.Count - succeeded,
                Results = includeResults ? _results.OrderBy(r => r.Index).ToList() : null,
            };
        }
    }
}

/// <summary>The jobs of the service, bounded by <see cref="JobOptions.MaxJobs"/>, fed to the runner through a queue.</summary>
public sealed class JobStore
{
    private readonly ConcurrentDictionary<Guid, Job> _jobs = new();
    private readonly Channel<Job> _queue = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleWriter = false });
    private readonly IOptions<JobOptions> _options;
    private readonly object _lock = new();

    public JobStore(IOptions<JobOptions> options) => _options = options;

    public ChannelReader<Job> Queue => _queue.Reader;

    public Job? Find(Guid id) => _jobs.GetValueOrDefault(id);

    public IEnumerable<Job> All => _jobs.Values.OrderBy(j => j.SubmittedAt);

    /// <summary>Adds a job and queues it; <see langword="false"/> when the store is full of unfinished jobs.</summary>
    public bool TryAdd(Job job)
    {
        lock (_lock)
        {
            if (_jobs.Count >= _options.Value.MaxJobs)
            {
                var oldest = _jobs.Values.Where(j => j.IsFinished).OrderBy(j => j.FinishedAt).FirstOrDefault();
                if (oldest is null)
                {
                    return false;
                }

                _jobs.TryRemove(oldest.Id, out _);
                oldest.Dispose();
            }

            _jobs[job.Id] = job;
        }

        return _queue.Writer.TryWrite(job);
    }
}

/// <summary>
/// Runs queued jobs in the background, <see cref="JobOptions.MaxRunningJobs"/> at a time, each through the registered
/// post-processing pipeline (fetch through the scheduler, then <see cref="PageSummarizer"/> on the CPU workers).
/// </summary>
public sealed partial class JobRunner : BackgroundService
{
    private readonly JobStore _store;
    private readonly PostProcessingPipeline<PageSummary> _pipeline;
    private readonly IOptions<JobOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<JobRunner> _logger;

    public JobRunner(JobStore store, PostProcessingPipeline<PageSummary> pipeline, IOptions<JobOptions> options, TimeProvider time, ILogger<JobRunner> logger)
    {
        _store = store;
        _pipeline = pipeline;
        _options = options;
        _time = time;
        _logger = logger;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, _options.Value.MaxRunningJobs).Select(_ => RunLoopAsync(stoppingToken)));

    private async Task RunLoopAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var job in _store.Queue.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                await RunAsync(job, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private async Task RunAsync(Job job, CancellationToken stoppingToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(job.Token, stoppingToken);
        job.Start(_time.GetUtcNow());
        LogJobStarted(_logger, job.Id, job.Urls.Count);
        var requests = job.Urls.Select(u => new ScheduledRequest(u) { SessionKey = job.SessionKey, Priority = job.Priority });
        try
        {
            await foreach (var item in _pipeline.ProcessAllAsync(requests, linked.Token).ConfigureAwait(false))
            {
                job.Add(ToResult(job, item));
            }

            job.Finish(JobStatus.Completed, _time.GetUtcNow());
            LogJobFinished(_logger, job.Id, JobStatus.Completed);
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            job.Finish(JobStatus.Canceled, _time.GetUtcNow());
            LogJobFinished(_logger, job.Id, JobStatus.Canceled);
        }
    }

    private static JobItemResult ToResult(Job job, ProcessedResult<PageSummary> item)
    {
        var response = item.Response;
        var error = item.Exception switch
        {
            null => null,
            RequestFailedException failed => $"{failed.Reason}: {failed.Message}",
            var ex => $"{ex.GetType().Name}: {ex.Message}",
        };
        return new JobItemResult(
            item.Index,
            Redact(job.Urls[(int)item.Index]),
            item.Status,
            response is null ? null : (int)response.StatusCode,
            response?.Attempts ?? (item.Exception as RequestFailedException)?.Attempts ?? 0,
            response?.Proxy?.Id,
            response?.SessionRebound ?? false,
            response?.Timings.Total.TotalMilliseconds ?? 0,
            response?.BodyLength ?? 0,
            item.Value,
            error);
    }

    /// <summary>A submitted URL as <c>/jobs/{id}</c> shows it: no user information, and every query value masked (<c>?token=***</c>).</summary>
    internal static string Redact(Uri url)
    {
        var text = url.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);
        if (url.Query.Length <= 1)
        {
            return text;
        }

        var keys = url.Query[1..].Split('&', StringSplitOptions.RemoveEmptyEntries).Select(pair => pair.Split('=', 2)[0] + "=***");
        return text + "?" + string.Join('&', keys);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Job {JobId} started with {Count} URLs")]
    private static partial void LogJobStarted(ILogger logger, Guid jobId, int count);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Job {JobId} ended: {Status}")]
    private static partial void LogJobFinished(ILogger logger, Guid jobId, JobStatus status);
}
