using Microsoft.Extensions.Logging;

namespace ProxyScheduler.Proxies.Internal;

/// <summary>Log events of the proxy pool. Proxies are named by their opaque id only.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 2001, EventName = "ProxyQuarantined", Level = LogLevel.Warning,
        Message = "Proxy {ProxyId} quarantined for {DelayMs} ms after {Failures} failure(s) in a row (quarantine {Quarantines} in a row)")]
    public static partial void ProxyQuarantined(ILogger logger, string proxyId, double delayMs, int failures, int quarantines);

    [LoggerMessage(EventId = 2002, EventName = "ProxyReanimated", Level = LogLevel.Information,
        Message = "Proxy {ProxyId} passed its probe and rejoins the pool")]
    public static partial void ProxyReanimated(ILogger logger, string proxyId);

    [LoggerMessage(EventId = 2003, EventName = "ProxyRetired", Level = LogLevel.Warning,
        Message = "Proxy {ProxyId} retired after {Quarantines} quarantines in a row; it takes no more traffic")]
    public static partial void ProxyRetired(ILogger logger, string proxyId, int quarantines);

    [LoggerMessage(EventId = 2004, EventName = "ProxyBlocked", Level = LogLevel.Debug,
        Message = "Proxy {ProxyId} blocked by {Host} for {DurationMs} ms (block {Blocks} in a row)")]
    public static partial void ProxyBlocked(ILogger logger, string proxyId, string host, double durationMs, int blocks);

    [LoggerMessage(EventId = 2005, EventName = "OutageStarted", Level = LogLevel.Error,
        Message = "Proxy outage: {Quarantined} of {Active} proxies are quarantined; dispatch through proxies pauses (probes only) and no proxy is retired")]
    public static partial void OutageStarted(ILogger logger, int quarantined, int active);

    [LoggerMessage(EventId = 2006, EventName = "OutageEnded", Level = LogLevel.Information,
        Message = "Proxy outage over: {Quarantined} of {Active} proxies are quarantined; dispatch resumes")]
    public static partial void OutageEnded(ILogger logger, int quarantined, int active);

    [LoggerMessage(EventId = 2007, EventName = "ProxiesUpdated", Level = LogLevel.Information,
        Message = "Proxy pool updated: {Added} added, {Removed} draining, {Total} listed")]
    public static partial void ProxiesUpdated(ILogger logger, int added, int removed, int total);

    [LoggerMessage(EventId = 2008, EventName = "ProxyListRejected", Level = LogLevel.Error,
        Message = "Proxy source {Source} could not be read; the pool keeps its current proxies: {Error}")]
    public static partial void ProxyListRejected(ILogger logger, string source, string error);

    [LoggerMessage(EventId = 2009, EventName = "ProxyDrained", Level = LogLevel.Information,
        Message = "Proxy {ProxyId} left the pool")]
    public static partial void ProxyDrained(ILogger logger, string proxyId);

    [LoggerMessage(EventId = 2010, EventName = "StateCallbackFailed", Level = LogLevel.Error,
        Message = "The OnProxyStateChanged callback failed for proxy {ProxyId}")]
    public static partial void StateCallbackFailed(ILogger logger, Exception exception, string proxyId);

    [LoggerMessage(EventId = 2011, EventName = "SessionRebound", Level = LogLevel.Debug,
        Message = "A session leaves proxy {ProxyId} ({Reason}); its next request gets a new proxy identity")]
    public static partial void SessionRebound(ILogger logger, string proxyId, string reason);
}
