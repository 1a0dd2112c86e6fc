using System.ComponentModel.DataAnnotations;

namespace ProxyScheduler.AspNetCore;

/// <summary>Limits of the job service (<c>Jobs</c> in appsettings.json), validated at start-up.</summary>
public sealed class JobOptions
{
    /// <summary>Gets or sets the most URLs one job may hold.</summary>
    [Range(1, 1_000_000)]
    public int MaxUrlsPerJob { get; set; } = 10_000;

    /// <summary>Gets or sets the most jobs kept (queued, running or finished); the oldest finished job is forgotten past it.</summary>
    [Range(1, 100_000)]
    public int MaxJobs { get; set; } = 200;

    /// <summary>Gets or sets how many jobs run at once (their requests share the scheduler's limits either way).</summary>
    [Range(1, 1_000)]
    public int MaxRunningJobs { get; set; } = 4;
}
