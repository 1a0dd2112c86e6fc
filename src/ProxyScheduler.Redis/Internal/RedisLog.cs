using Microsoft.Extensions.Logging;

namespace ProxyScheduler.Redis.Internal;

/// <summary>Log events of distributed mode (3001–3007). Hosts as host:port; never a connection string, a password or a session key.</summary>
internal static partial class RedisLog
{
    [LoggerMessage(EventId = 3001, EventName = "RedisStarted", Level = LogLevel.Information, Message = "Distributed mode on Redis: worker {WorkerId}, key prefix {KeyPrefix}")]
    public static partial void Started(ILogger logger, string workerId, string keyPrefix);

    [LoggerMessage(EventId = 3002, EventName = "RedisUnavailable", Level = LogLevel.Error, Message = "Redis is unavailable ({ErrorType}: {Error}); policy {Policy} applies until it answers again")]
    public static partial void Unavailable(ILogger logger, RedisUnavailablePolicy policy, string errorType, string error);

    [LoggerMessage(EventId = 3003, EventName = "RedisRecovered", Level = LogLevel.Warning, Message = "Redis answers again after {Seconds:0.0} s; the fleet's shares replace local ones")]
    public static partial void Recovered(ILogger logger, double seconds);

    [LoggerMessage(EventId = 3004, EventName = "LeasesLost", Level = LogLevel.Warning, Message = "{Count} share(s) of host {Host} expired before they were renewed; fewer attempts start to it")]
    public static partial void LeasesLost(ILogger logger, string host, int count);

    [LoggerMessage(EventId = 3005, EventName = "CoordinationTimeout", Level = LogLevel.Error, Message = "{Count} request(s) to {Host} failed: Redis stayed unavailable past the timeout")]
    public static partial void RequestsFailed(ILogger logger, string host, int count);

    [LoggerMessage(EventId = 3007, EventName = "WorkerIdInUse", Level = LogLevel.Critical, Message = "Another running worker uses the WorkerId {WorkerId} under the key prefix {KeyPrefix}; this worker refuses all work. Give each worker its own WorkerId, or leave it unset")]
    public static partial void WorkerIdInUse(ILogger logger, string workerId, string keyPrefix);

    [LoggerMessage(EventId = 3006, EventName = "CoordinatorLoopFailed", Level = LogLevel.Error, Message = "The Redis coordinator's loop failed; it goes on")]
    public static partial void LoopFailed(ILogger logger, Exception exception);
}
