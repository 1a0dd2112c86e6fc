namespace ProxyScheduler.Processing;

/// <summary>
/// The base of a synchronous, CPU-bound processor: the form to use for parsing and extracting. The stage's worker calls
/// <see cref="Process"/> on its own thread; nothing is allocated for the call.
/// </summary>
/// <typeparam name="TResult">The result of processing one response.</typeparam>
public abstract class ParallelPostProcessor<TResult> : IParallelPostProcessor<TResult>
{
    /// <inheritdoc/>
    public ValueTask<TResult> ProcessAsync(ScheduledResponse response, CancellationToken cancellationToken) =>
        new(Process(response, cancellationToken));

    /// <summary>Processes one response.</summary>
    /// <param name="response">The response; copy what you keep of <see cref="ScheduledResponse.Body"/>.</param>
    /// <param name="cancellationToken">Canceled when the run is canceled or abandoned; check it in long loops.</param>
    /// <returns>The result.</returns>
    protected abstract TResult Process(ScheduledResponse response, CancellationToken cancellationToken);
}

/// <summary>The base of a synchronous later step of a chain (see <see cref="ParallelPostProcessor{TResult}"/>).</summary>
/// <typeparam name="TInput">The result of the step before.</typeparam>
/// <typeparam name="TResult">The result of this step.</typeparam>
public abstract class ParallelPostProcessor<TInput, TResult> : IParallelPostProcessor<TInput, TResult>
{
    /// <inheritdoc/>
    public ValueTask<TResult> ProcessAsync(TInput input, ScheduledResponse response, CancellationToken cancellationToken) =>
        new(Process(input, response, cancellationToken));

    /// <summary>Processes the result of the step before.</summary>
    /// <param name="input">The result of the step before.</param>
    /// <param name="response">The response; copy what you keep of <see cref="ScheduledResponse.Body"/>.</param>
    /// <param name="cancellationToken">Canceled when the run is canceled or abandoned; check it in long loops.</param>
    /// <returns>The result.</returns>
    protected abstract TResult Process(TInput input, ScheduledResponse response, CancellationToken cancellationToken);
}
