using System.Buffers;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler.Processing.Internal;
using ProxyScheduler.Scheduling.Internal;

namespace ProxyScheduler.Processing;

/// <summary>
/// Requests through the scheduler, then their responses through a chain of processors on the post-processing stage:
/// <see cref="PostProcessingOptions.MaxDegreeOfParallelism"/> workers fed through a bounded channel, with
/// back-pressure on the scheduler. Immutable: <see cref="Then{TNext}(IParallelPostProcessor{TResult, TNext})"/> and
/// <see cref="WithOptions"/> return new pipelines; one pipeline may run any number of times, also at once.
/// </summary>
/// <typeparam name="TResult">The result of the last processor.</typeparam>
/// <example>
/// <code>
/// await foreach (var item in scheduler.WithPostProcessor(new ProductParser()).ProcessAllAsync(requests, ct))
/// {
///     if (item.Succeeded) Save(item.Value);
/// }
/// </code>
/// </example>
#pragma warning disable RS0026 // Both ProcessAllAsync overloads take an optional token, as SendAllAsync's do.
public sealed class PostProcessingPipeline<TResult>
{
    private readonly SchedulerCore _scheduler;
    private readonly ProcessingChain<TResult> _chain;
    private readonly PostProcessingSettings _settings;
    private readonly IServiceScopeFactory? _scopes;
    private ArrayPool<byte>? _bodies;

    internal PostProcessingPipeline(SchedulerCore scheduler, ProcessingChain<TResult> chain, PostProcessingSettings settings, IServiceScopeFactory? scopes)
    {
        if (chain.UsesScope && scopes is null)
        {
            throw new InvalidOperationException("A processor resolved per item needs the service provider's scopes.");
        }

        _scheduler = scheduler;
        _chain = chain;
        _settings = settings;
        _scopes = scopes;
    }

    /// <summary>Gets the number of workers: how many responses are processed at once.</summary>
    public int MaxDegreeOfParallelism => _settings.MaxDegreeOfParallelism;

    /// <summary>Gets the most responses a run holds at once (see <see cref="PostProcessingOptions.Capacity"/>).</summary>
    public int Capacity => _settings.Capacity;

    /// <summary>Gets a value indicating whether results are yielded in the order of the source.</summary>
    public bool PreserveInputOrder => _settings.PreserveInputOrder;

    /// <summary>Gets the most items read but not yet yielded, in input order.</summary>
    public int ReorderWindow => _settings.ReorderWindow;

    /// <summary>Gets the number of processors in the chain.</summary>
    public int Steps => _chain.Length;

    /// <summary>Adds a processor after the last one; it runs on the same worker, with the same response, right after it.</summary>
    /// <typeparam name="TNext">The new result.</typeparam>
    /// <param name="processor">The processor.</param>
    /// <returns>A new pipeline.</returns>
    public PostProcessingPipeline<TNext> Then<TNext>(IParallelPostProcessor<TResult, TNext> processor)
    {
        ArgumentNullException.ThrowIfNull(processor);
        return Then(ProcessorSource<IParallelPostProcessor<TResult, TNext>>.Fixed(processor));
    }

    /// <summary>Adds a synchronous step after the last one.</summary>
    /// <typeparam name="TNext">The new result.</typeparam>
    /// <param name="process">Turns the last result (and the response) into the new result.</param>
    /// <returns>A new pipeline.</returns>
    public PostProcessingPipeline<TNext> Then<TNext>(Func<TResult, ScheduledResponse, CancellationToken, TNext> process)
    {
        ArgumentNullException.ThrowIfNull(process);
        return Then<TNext>(new DelegateProcessor<TResult, TNext>(process));
    }

    /// <summary>
    /// Returns a pipeline with the same processors and other options. The options this pipeline was given are the
    /// starting point; the ones left unset keep their defaults (so a new degree of parallelism moves the default capacity).
    /// </summary>
    /// <param name="configure">Changes the options.</param>
    /// <returns>A new pipeline.</returns>
    /// <exception cref="ArgumentException">An option is out of range; the message names it.</exception>
    public PostProcessingPipeline<TResult> WithOptions(Action<PostProcessingOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var options = _settings.Source.Clone();
        configure(options);
        return new PostProcessingPipeline<TResult>(_scheduler, _chain, PostProcessingSettings.Resolve(options, _scheduler.MaxConcurrency, nameof(configure)), _scopes);
    }

    /// <summary>
    /// Sends the requests and processes their responses, yielding one item per request: in completion order, or in
    /// input order with <see cref="PreserveInputOrder"/>. The source is read only as the run has room, a failed
    /// request or a throwing processor fails its item only, and every response body is read into a pooled buffer
    /// (the connection goes back to its pool at once) that returns to the pool when its item is processed.
    /// </summary>
    /// <param name="requests">The requests.</param>
    /// <param name="cancellationToken">
    /// Cancels the run: no request is dispatched and no response processed any more, requests in flight are aborted,
    /// processors see their token canceled, and the enumeration ends with <see cref="OperationCanceledException"/> once
    /// every request has ended (its slots free) and every processor has returned. Leaving the loop early does the same.
    /// </param>
    /// <returns>The items.</returns>
    public IAsyncEnumerable<ProcessedResult<TResult>> ProcessAllAsync(IAsyncEnumerable<ScheduledRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        _scheduler.ThrowIfDisposed();
        return RunAsync(requests, cancellationToken);
    }

    /// <inheritdoc cref="ProcessAllAsync(IAsyncEnumerable{ScheduledRequest}, CancellationToken)"/>
    public IAsyncEnumerable<ProcessedResult<TResult>> ProcessAllAsync(IEnumerable<ScheduledRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        return ProcessAllAsync(SchedulerCore.ToAsync(requests, cancellationToken), cancellationToken);
    }

    /// <summary>Each enumeration is a run of its own.</summary>
    private async IAsyncEnumerable<ProcessedResult<TResult>> RunAsync(IAsyncEnumerable<ScheduledRequest> requests, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var run = new PostProcessingRun<TResult>(_scheduler, _chain, _settings, _scopes, Bodies);
        await foreach (var item in run.RunAsync(requests, cancellationToken).ConfigureAwait(false))
        {
            yield return item;
        }
    }

    /// <summary>Returns this pipeline with another pool for its bodies (the tests count what is rented and returned).</summary>
    internal PostProcessingPipeline<TResult> WithBodyPool(ArrayPool<byte> pool) =>
        new(_scheduler, _chain, _settings, _scopes) { _bodies = pool };

    internal PostProcessingPipeline<TNext> Then<TNext>(ProcessorSource<IParallelPostProcessor<TResult, TNext>> source) =>
        new(_scheduler, new NextStep<TResult, TNext>(_chain, source), _settings, _scopes);

    /// <summary>
    /// Gets the pool of the pipeline's bodies: one per pipeline, holding up to <see cref="Capacity"/> buffers of a size,
    /// so that successive runs reuse the buffers of the ones before.
    /// </summary>
    private ArrayPool<byte> Bodies
    {
        get
        {
            if (_bodies is null)
            {
                var largest = (int)Math.Min(_scheduler.MaxResponseBodySize, 1 << 30);
                Interlocked.CompareExchange(ref _bodies, ArrayPool<byte>.Create(largest, _settings.Capacity), null);
            }

            return _bodies;
        }
    }
}
#pragma warning restore RS0026
