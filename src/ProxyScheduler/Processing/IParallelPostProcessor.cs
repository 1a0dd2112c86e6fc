namespace ProxyScheduler.Processing;

/// <summary>
/// Turns one response into a result on the post-processing stage: CPU-bound work (parsing, extracting, structuring)
/// that runs on the stage's own workers, as many at once as its degree of parallelism, apart from the requests in flight.
/// </summary>
/// <typeparam name="TResult">The result of processing one response.</typeparam>
/// <remarks>
/// <para>
/// For work that only computes, derive from <see cref="ParallelPostProcessor{TResult}"/> and implement its synchronous
/// <c>Process</c>: a worker runs it start to end on its own thread, with no state machine and no thread hop. Implement
/// this interface directly only when the processing must await something (a cache, a lock, a decompression stream);
/// the worker then waits for it, so it still counts against the degree of parallelism. Send no HTTP requests from a
/// processor: requests belong to the scheduler, which limits and schedules them.
/// </para>
/// <para>
/// <see cref="ScheduledResponse.Body"/> is a pooled buffer that goes back to its pool when the item is done: keep what
/// you need of it in the result (strings, arrays, objects), never the memory itself. One instance may process several
/// responses at once unless it is registered per item (see <c>AddPostProcessor</c>), so a shared instance must be
/// thread-safe. Throwing fails this item only; observe the cancellation token in long loops so that a
/// canceled run ends promptly.
/// </para>
/// </remarks>
#pragma warning disable CA1711 // "PostProcessor" is the name of the design card; the suffix is not about collections.
public interface IParallelPostProcessor<TResult>
#pragma warning restore CA1711
{
    /// <summary>Processes one response.</summary>
    /// <param name="response">The response, with its body still buffered.</param>
    /// <param name="cancellationToken">Canceled when the run is canceled or abandoned.</param>
    /// <returns>The result.</returns>
    ValueTask<TResult> ProcessAsync(ScheduledResponse response, CancellationToken cancellationToken);
}

/// <summary>
/// A later step of a chain of processors: turns the result of the step before (and the same response) into a new
/// result, on the same worker, right after it. See <see cref="IParallelPostProcessor{TResult}"/> for the rules.
/// </summary>
/// <typeparam name="TInput">The result of the step before.</typeparam>
/// <typeparam name="TResult">The result of this step.</typeparam>
public interface IParallelPostProcessor<in TInput, TResult>
{
    /// <summary>Processes the result of the step before.</summary>
    /// <param name="input">The result of the step before.</param>
    /// <param name="response">The response, with its body still buffered.</param>
    /// <param name="cancellationToken">Canceled when the run is canceled or abandoned.</param>
    /// <returns>The result.</returns>
    ValueTask<TResult> ProcessAsync(TInput input, ScheduledResponse response, CancellationToken cancellationToken);
}
