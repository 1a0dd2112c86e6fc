using ProxyScheduler.Processing.Internal;
using ProxyScheduler.Scheduling.Internal;

namespace ProxyScheduler.Processing;

/// <summary>Builds post-processing pipelines on a scheduler.</summary>
public static class PostProcessingSchedulerExtensions
{
    /// <summary>
    /// Starts a pipeline whose first processor is <paramref name="processor"/>, with the scheduler's
    /// <see cref="ProxySchedulerOptions.PostProcessing"/> options (change them with
    /// <see cref="PostProcessingPipeline{TResult}.WithOptions"/>).
    /// </summary>
    /// <typeparam name="TResult">The processor's result.</typeparam>
    /// <param name="scheduler">The scheduler, as registered by <c>AddProxyScheduler</c>.</param>
    /// <param name="processor">The processor; it runs on several workers at once, so it must be thread-safe.</param>
    /// <returns>The pipeline.</returns>
    /// <exception cref="ArgumentException"><paramref name="scheduler"/> is not the library's scheduler (a decorator or a substitute).</exception>
    public static PostProcessingPipeline<TResult> WithPostProcessor<TResult>(this IRequestScheduler scheduler, IParallelPostProcessor<TResult> processor)
    {
        ArgumentNullException.ThrowIfNull(processor);
        var own = SchedulerCore.From(scheduler, nameof(scheduler));
        return new PostProcessingPipeline<TResult>(
            own,
            new FirstStep<TResult>(ProcessorSource<IParallelPostProcessor<TResult>>.Fixed(processor)),
            PostProcessingSettings.Resolve(own.ProcessingDefaults, own.MaxConcurrency, nameof(scheduler)),
            null);
    }

    /// <summary>Starts a pipeline whose first processor is the synchronous <paramref name="process"/>.</summary>
    /// <typeparam name="TResult">The result.</typeparam>
    /// <param name="scheduler">The scheduler, as registered by <c>AddProxyScheduler</c>.</param>
    /// <param name="process">Turns a response into a result; it runs on several workers at once.</param>
    /// <returns>The pipeline.</returns>
    /// <exception cref="ArgumentException"><paramref name="scheduler"/> is not the library's scheduler.</exception>
    public static PostProcessingPipeline<TResult> WithPostProcessor<TResult>(this IRequestScheduler scheduler, Func<ScheduledResponse, CancellationToken, TResult> process)
    {
        ArgumentNullException.ThrowIfNull(process);
        return scheduler.WithPostProcessor(new DelegateProcessor<TResult>(process));
    }
}
