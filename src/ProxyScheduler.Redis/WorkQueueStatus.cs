namespace ProxyScheduler.Redis;

/// <summary>The counts of a work queue.</summary>
/// <param name="Added">Entries ever added.</param>
/// <param name="Completed">Entries with a recorded outcome (dead-lettered ones included).</param>
/// <param name="Pending">Entries delivered to a worker and not acknowledged yet.</param>
/// <param name="DeadLettered">Entries moved to the dead-letter stream after too many deliveries.</param>
/// <param name="Duplicates">Outcomes not recorded because the entry already had one (work done twice after a claim).</param>
public sealed record WorkQueueStatus(long Added, long Completed, long Pending, long DeadLettered, long Duplicates)
{
    /// <summary>Gets a value indicating whether every entry added has a recorded outcome.</summary>
    public bool IsDrained => Completed >= Added;
}
