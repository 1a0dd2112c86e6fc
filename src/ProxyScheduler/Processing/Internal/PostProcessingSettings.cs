namespace ProxyScheduler.Processing.Internal;

/// <summary>
/// The settings of a pipeline, checked and with every default resolved, taken when the pipeline is built; <see cref="Source"/>
/// keeps the options as given (unset ones unset), so that a change of one recomputes the defaults that follow from it.
/// </summary>
internal sealed record PostProcessingSettings(int MaxDegreeOfParallelism, int Capacity, bool PreserveInputOrder, int ReorderWindow, PostProcessingOptions Source)
{
    /// <summary>Resolves <paramref name="options"/> against the scheduler's concurrency.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message names it.</exception>
    public static PostProcessingSettings Resolve(PostProcessingOptions options, int schedulerConcurrency, string paramName)
    {
        var errors = new List<string>();
        PostProcessingDefaults.Validate(options, "PostProcessingOptions.", errors);
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors), paramName);
        }

        var dop = options.MaxDegreeOfParallelism ?? Environment.ProcessorCount;
        var capacity = options.Capacity ?? (int)Math.Min(PostProcessingDefaults.CapacityUpperBound, schedulerConcurrency + (2L * dop));
        return new PostProcessingSettings(dop, capacity, options.PreserveInputOrder, options.ReorderWindow, options.Clone());
    }
}
