using Microsoft.Extensions.Logging;

namespace ProxyScheduler.Politeness.Internal;

/// <summary>Log events of host pacing (Retry-After pauses, adaptive limits). Hosts are logged as host:port.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1004, EventName = "HostPaused", Level = LogLevel.Information,
        Message = "Host {Host} answered with Retry-After: no attempt starts to it, through any proxy, for {DelayMs} ms")]
    public static partial void HostPaused(ILogger logger, string host, double delayMs);

    [LoggerMessage(EventId = 1005, EventName = "AdaptiveLimitDecreased", Level = LogLevel.Information,
        Message = "Host {Host} pushed back ({Signal}): concurrency limit {OldLimit} -> {Limit}, pacing {Rate:0.##} starts/s")]
    public static partial void AdaptiveLimitDecreased(ILogger logger, string host, string signal, int oldLimit, int limit, double rate);

    [LoggerMessage(EventId = 1006, EventName = "AdaptiveLimitIncreased", Level = LogLevel.Debug,
        Message = "Host {Host} answers well: concurrency limit {OldLimit} -> {Limit}")]
    public static partial void AdaptiveLimitIncreased(ILogger logger, string host, int oldLimit, int limit);
}
