namespace ProxyScheduler.Processing;

/// <summary>
/// How a post-processing run uses the cores and how much it may hold. Bound from <c>ProxyScheduler:PostProcessing</c>
/// as the default of every pipeline; a pipeline may override them.
/// </summary>
public sealed class PostProcessingOptions
{
    /// <summary>
    /// Gets or sets how many responses are processed at once: the number of the stage's workers. Default:
    /// <see cref="Environment.ProcessorCount"/>. It is independent of the scheduler's I/O concurrency.
    /// </summary>
    public int? MaxDegreeOfParallelism { get; set; }

    /// <summary>
    /// Gets or sets the most responses a run holds at once: being fetched, waiting for a worker, being processed, or
    /// processed and waiting for the consumer. When they are all taken, the scheduler dispatches no new request of
    /// the run until one is done (back-pressure), so the bodies in memory never exceed
    /// <c>Capacity × MaxResponseBodySize</c>, however long the source. It also bounds the run's requests in flight.
    /// Default: the scheduler's <see cref="ProxySchedulerOptions.MaxConcurrency"/> plus twice the degree of
    /// parallelism, so a run can use every connection and still have work queued for each worker. At least
    /// <see cref="MaxDegreeOfParallelism"/>.
    /// </summary>
    public int? Capacity { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether results are yielded in the order of the source rather than as they
    /// complete (the default). A slow item then holds back the items after it, up to <see cref="ReorderWindow"/>.
    /// </summary>
    public bool PreserveInputOrder { get; set; }

    /// <summary>
    /// Gets or sets, with <see cref="PreserveInputOrder"/>, how far past the oldest unfinished item the run may read
    /// the source: the most items read but not yet yielded. Default: 1024.
    /// </summary>
    public int ReorderWindow { get; set; } = Internal.PostProcessingDefaults.ReorderWindow;

    internal PostProcessingOptions Clone()
    {
        var copy = new PostProcessingOptions();
        CopyTo(copy);
        return copy;
    }

    /// <summary>Copies every setting onto <paramref name="target"/>.</summary>
    internal void CopyTo(PostProcessingOptions target)
    {
        target.MaxDegreeOfParallelism = MaxDegreeOfParallelism;
        target.Capacity = Capacity;
        target.PreserveInputOrder = PreserveInputOrder;
        target.ReorderWindow = ReorderWindow;
    }
}
