namespace ProxyScheduler.Scheduling.Internal;

/// <summary>The effective, validated limits of one host.</summary>
internal sealed record HostSettings(int MaxConcurrency, TimeSpan MinDelay, TimeSpan MaxJitter)
{
    public bool HasDelay => MinDelay > TimeSpan.Zero || MaxJitter > TimeSpan.Zero;
}
