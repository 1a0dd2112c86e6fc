namespace ProxyScheduler.Processing.Internal;

/// <summary>Defaults and bounds of <see cref="PostProcessingOptions"/>, and the check shared by the options validator and the pipeline.</summary>
internal static class PostProcessingDefaults
{
    public const int ReorderWindow = 1024;
    public const int MaxDegreeOfParallelismUpperBound = 1024;
    public const int CapacityUpperBound = 1_000_000;
    public const int ReorderWindowUpperBound = 10_000_000;

    /// <summary>Adds an error to <paramref name="errors"/> for each bad setting, each naming it as <paramref name="prefix"/> + its name.</summary>
    public static void Validate(PostProcessingOptions options, string prefix, List<string> errors)
    {
        if (options.MaxDegreeOfParallelism is { } dop and (< 1 or > MaxDegreeOfParallelismUpperBound))
        {
            errors.Add($"{prefix}MaxDegreeOfParallelism ({dop}) must be between 1 and {MaxDegreeOfParallelismUpperBound}.");
        }

        if (options.Capacity is { } capacity)
        {
            if (capacity is < 1 or > CapacityUpperBound)
            {
                errors.Add($"{prefix}Capacity ({capacity}) must be between 1 and {CapacityUpperBound}.");
            }
            else if (capacity < (options.MaxDegreeOfParallelism ?? Environment.ProcessorCount))
            {
                errors.Add($"{prefix}Capacity ({capacity}) must be at least {prefix}MaxDegreeOfParallelism ({options.MaxDegreeOfParallelism ?? Environment.ProcessorCount}); otherwise workers can never all be busy.");
            }
        }

        if (options.ReorderWindow is < 1 or > ReorderWindowUpperBound)
        {
            errors.Add($"{prefix}ReorderWindow ({options.ReorderWindow}) must be between 1 and {ReorderWindowUpperBound}.");
        }
    }
}
