namespace ProxyScheduler.Redis;

/// <summary>Options of the shared work queue on Redis Streams (<see cref="RedisWorkQueue"/>).</summary>
public sealed class RedisWorkQueueOptions
{
    /// <summary>Gets or sets the queue's name (its keys are <c>{KeyPrefix}queue:{Name}:…</c>).</summary>
    /// <value>The default value is <c>work</c>.</value>
    public string Name { get; set; } = "work";

    /// <summary>Gets or sets the consumer group every worker of the fleet joins.</summary>
    /// <value>The default value is <c>workers</c>.</value>
    public string Group { get; set; } = "workers";

    /// <summary>Gets or sets how long an entry delivered to a worker may stay unacknowledged before another worker claims it (the first worker died or hangs).</summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan ClaimIdle { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets the most deliveries of one entry; past it the entry goes to the dead-letter stream with its outcome recorded as dead-lettered.</summary>
    /// <value>The default value is 5.</value>
    public int MaxDeliveries { get; set; } = 5;

    /// <summary>Gets or sets the most entries one worker processes at once (the scheduler's own limits apply within them).</summary>
    /// <value>The default value is 256.</value>
    public int MaxInFlight { get; set; } = 256;

    /// <summary>Gets or sets a value indicating whether each recorded outcome is also added to the results stream (<c>…:results</c>).</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool WriteResults { get; set; } = true;
}
