using Microsoft.Extensions.Logging;

namespace ProxyScheduler.Dispatch;

/// <summary>Log events of the dispatcher (host pauses, adaptive limits, host circuits, waits for proxies). Hosts are logged as host:port, never a URI or a credential.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1007, EventName = "HostDown", Level = LogLevel.Warning,
        Message = "Host {Host} is down: {Failures} attempts in a row failed ({Kind}) through {Via}; no attempt starts to it for {BreakMs} ms, then one probe")]
    public static partial void HostDown(ILogger logger, string host, int failures, string kind, string via, double breakMs);

    [LoggerMessage(EventId = 1008, EventName = "HostProbeFailed", Level = LogLevel.Information,
        Message = "Host {Host} is still down ({Kind}): next probe in {BreakMs} ms")]
    public static partial void HostProbeFailed(ILogger logger, string host, string kind, double breakMs);

    [LoggerMessage(EventId = 1009, EventName = "HostRecovered", Level = LogLevel.Information,
        Message = "Host {Host} answers again after {DownMs} ms down")]
    public static partial void HostRecovered(ILogger logger, string host, double downMs);

    [LoggerMessage(EventId = 1010, EventName = "HostUnavailableFailed", Level = LogLevel.Warning,
        Message = "Host {Host} stayed down longer than HostHealth:MaxWait: {Count} queued requests failed with HostUnavailable")]
    public static partial void HostUnavailableFailed(ILogger logger, string host, int count);

    [LoggerMessage(EventId = 1011, EventName = "WaitingForProxies", Level = LogLevel.Warning,
        Message = "{Count} requests wait for a proxy: {Explanation}")]
    public static partial void WaitingForProxies(ILogger logger, int count, string explanation);
}
