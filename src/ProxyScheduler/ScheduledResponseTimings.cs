namespace ProxyScheduler;

/// <summary>How long a request waited and ran, measured on the scheduler's <see cref="TimeProvider"/>.</summary>
public readonly struct ScheduledResponseTimings
{
    /// <summary>Initializes a new instance of the <see cref="ScheduledResponseTimings"/> struct.</summary>
    /// <param name="queued">The total time the attempts waited for a dispatch.</param>
    /// <param name="lastAttempt">The duration of the last attempt.</param>
    /// <param name="total">The time from submission to completion.</param>
    public ScheduledResponseTimings(TimeSpan queued, TimeSpan lastAttempt, TimeSpan total)
    {
        Queued = queued;
        LastAttempt = lastAttempt;
        Total = total;
    }

    /// <summary>Gets the total time the request's attempts waited in host queues for a dispatch.</summary>
    public TimeSpan Queued { get; }

    /// <summary>Gets the duration of the last attempt, from its dispatch to its buffered response.</summary>
    public TimeSpan LastAttempt { get; }

    /// <summary>Gets the time from submission to completion, retries, backoff and redirects included.</summary>
    public TimeSpan Total { get; }
}
