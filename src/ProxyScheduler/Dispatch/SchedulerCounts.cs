namespace ProxyScheduler.Dispatch;

/// <summary>Global counts read under the dispatcher's lock.</summary>
internal readonly record struct SchedulerCounts(int Queued, int InFlight);
