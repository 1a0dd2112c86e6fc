using ProxyScheduler.Classification;

namespace ProxyScheduler.Scheduling.Internal;

/// <summary>The effective, validated limits of one host, and the classifier of its responses.</summary>
internal sealed record HostSettings(int MaxConcurrency, TimeSpan MinDelay, TimeSpan MaxJitter, IResponseClassifier Classifier)
{
    public bool HasDelay => MinDelay > TimeSpan.Zero || MaxJitter > TimeSpan.Zero;
}
