using System.ComponentModel.DataAnnotations;

namespace ProxyScheduler.Redis;

/// <summary>Options of distributed mode (<c>ProxyScheduler:Redis</c>).</summary>
public sealed class RedisOptions
{
    /// <summary>Gets or sets the StackExchange.Redis configuration string (<c>host:port,password=...</c>); not needed when a connection is given.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? Configuration { get; set; }

    /// <summary>
    /// Gets or sets the prefix of every key and channel, so that several deployments (or runs) share one Redis without
    /// seeing each other.
    /// </summary>
    /// <value>The default value is <c>proxyscheduler:</c>.</value>
    [Required]
    [RegularExpression(@"^[A-Za-z0-9:_\-\.\{\}]{1,100}$")]
    public string KeyPrefix { get; set; } = "proxyscheduler:";

    /// <summary>
    /// Gets or sets how long a share of a host's limit (a lease) lives without renewal: a worker that dies holds its
    /// shares no longer than this. Workers renew their leases every third of it.
    /// </summary>
    /// <value>The default value is 10 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan LeaseTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets or sets how long a worker keeps shares it does not use before giving them back (saves a round trip when
    /// work comes back at once). Shares others wait for go back at once.
    /// </summary>
    /// <value>The default value is 1 second.</value>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan ShareLinger { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets what workers do while Redis cannot be reached.</summary>
    /// <value>The default value is <see cref="RedisUnavailablePolicy.Pause"/>.</value>
    public RedisUnavailablePolicy WhenUnavailable { get; set; } = RedisUnavailablePolicy.Pause;

    /// <summary>Gets or sets, for <see cref="RedisUnavailablePolicy.FallbackToLocal"/>, the share of each host's limit a worker uses alone.</summary>
    /// <value>The default value is 0.25.</value>
    [Range(0.01, 1.0)]
    public double FallbackShare { get; set; } = 0.25;

    /// <summary>
    /// Gets or sets, for <see cref="RedisUnavailablePolicy.Pause"/>, how long requests wait for Redis before they fail
    /// with <see cref="RequestFailureReason.CoordinationUnavailable"/>.
    /// </summary>
    /// <value>The default value is 30 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan UnavailableTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets this worker's name in Redis (lease owners); a unique name is made when none is set. A running worker
    /// holds its name in Redis: a second worker started under the same name (which would share the first one's leases and
    /// exceed the fleet's limits) waits one <see cref="LeaseTtl"/> for a crashed predecessor's hold to lapse, and then, if
    /// the name is still held, refuses all work: its requests fail with <see cref="RequestFailureReason.CoordinationUnavailable"/>
    /// and a message naming the WorkerId, and a critical log entry (event 3007) is written.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: machine name, process id and a random suffix.</value>
    [RegularExpression(@"^[A-Za-z0-9_\-\.]{1,100}$")]
    public string? WorkerId { get; set; }
}
