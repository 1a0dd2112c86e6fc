using ProxyScheduler.Classification;

namespace ProxyScheduler.Politeness.Internal;

/// <summary>The effective, validated limits of one host, and the classifier of its responses.</summary>
internal sealed record HostSettings(int MaxConcurrency, TimeSpan MinDelay, TimeSpan MaxJitter, IResponseClassifier Classifier)
{
    public bool HasDelay => MinDelay > TimeSpan.Zero || MaxJitter > TimeSpan.Zero;

    /// <summary>Gets the rate limit in starts per second; <see langword="null"/> for none.</summary>
    public double? StartsPerSecond { get; init; }

    /// <summary>Gets the token bucket's size.</summary>
    public int Burst { get; init; } = 1;

    /// <summary>Gets a value indicating whether the host's concurrency and pacing adapt to its answers (<see cref="AdaptiveLimit"/>).</summary>
    public bool Adaptive { get; init; }

    /// <summary>Gets the longest host pause a <c>Retry-After</c> imposes; zero ignores it.</summary>
    public TimeSpan MaxRetryAfter { get; init; } = SchedulerDefaults.MaxRetryAfter;
}
