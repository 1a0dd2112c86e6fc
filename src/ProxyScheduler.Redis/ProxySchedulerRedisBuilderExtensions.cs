using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ProxyScheduler.Fleet;
using ProxyScheduler.Redis;
using ProxyScheduler.Redis.Internal;
using StackExchange.Redis;

#pragma warning disable IDE0130 // Namespace does not match folder structure: DI entry points live in the DI namespace.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Distributed mode: <c>builder.UseRedis(...)</c>.</summary>
public static class ProxySchedulerRedisBuilderExtensions
{
    /// <summary>
    /// Shares the scheduler's per-host limits, Retry-After pauses and proxy health with every worker that uses the same
    /// Redis and <see cref="RedisOptions.KeyPrefix"/>: the combined requests in flight of all workers to a host stay
    /// within that host's <c>MaxConcurrency</c>. Connects with <paramref name="configuration"/> (a StackExchange.Redis
    /// configuration string such as <c>127.0.0.1:6379</c>).
    /// </summary>
    /// <param name="builder">The scheduler's builder.</param>
    /// <param name="configuration">The Redis configuration string.</param>
    /// <returns>The builder.</returns>
    public static IProxySchedulerBuilder UseRedis(this IProxySchedulerBuilder builder, string configuration) => UseRedis(builder, configuration, static _ => { });

    /// <summary>As <see cref="UseRedis(IProxySchedulerBuilder, string)"/>, with options.</summary>
    /// <param name="builder">The scheduler's builder.</param>
    /// <param name="configuration">The Redis configuration string.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The builder.</returns>
    public static IProxySchedulerBuilder UseRedis(this IProxySchedulerBuilder builder, string configuration, Action<RedisOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(configuration);
        return AddCore(builder, o =>
        {
            o.Configuration = configuration;
            configure(o);
        }, null);
    }

    /// <summary>As <see cref="UseRedis(IProxySchedulerBuilder, string)"/>, on the application's own connection (which it keeps owning).</summary>
    /// <param name="builder">The scheduler's builder.</param>
    /// <param name="connection">The connection.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The builder.</returns>
    public static IProxySchedulerBuilder UseRedis(this IProxySchedulerBuilder builder, IConnectionMultiplexer connection, Action<RedisOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(configure);
        return AddCore(builder, configure, connection);
    }

    /// <summary>As <see cref="UseRedis(IProxySchedulerBuilder, string)"/>, with the options bound from a configuration section (conventionally <c>ProxyScheduler:Redis</c>, whose <c>Configuration</c> key is the connection string).</summary>
    /// <param name="builder">The scheduler's builder.</param>
    /// <param name="section">The configuration section.</param>
    /// <returns>The builder.</returns>
    public static IProxySchedulerBuilder UseRedis(this IProxySchedulerBuilder builder, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(section);
        builder.Services.AddOptions<RedisOptions>().Bind(section);
        return AddCore(builder, static _ => { }, null);
    }

    /// <summary>
    /// Adds the fleet's shared work queue on Redis Streams (<see cref="RedisWorkQueue"/>, resolved from the container):
    /// producers add requests with <see cref="RedisWorkQueue.AddAsync"/>, workers run <see cref="RedisWorkQueue.RunAsync"/>.
    /// Call after <c>UseRedis</c>.
    /// </summary>
    /// <param name="builder">The scheduler's builder.</param>
    /// <param name="configure">Sets the queue's options.</param>
    /// <returns>The builder.</returns>
    public static IProxySchedulerBuilder AddRedisWorkQueue(this IProxySchedulerBuilder builder, Action<RedisWorkQueueOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        if (!builder.Services.Any(static d => d.ServiceType == typeof(RedisFleetCoordinator)))
        {
            throw new InvalidOperationException("AddRedisWorkQueue needs UseRedis first.");
        }

        builder.Services.AddOptions<RedisWorkQueueOptions>().Configure(configure).Validate(
            static o => !string.IsNullOrWhiteSpace(o.Name) && !string.IsNullOrWhiteSpace(o.Group) && o.MaxDeliveries >= 1 && o.MaxInFlight >= 1 && o.ClaimIdle > TimeSpan.Zero,
            "ProxyScheduler:Redis:WorkQueue needs a Name and a Group, MaxDeliveries and MaxInFlight of at least 1, and a positive ClaimIdle.").ValidateOnStart();
        builder.Services.TryAddSingleton(static sp => new RedisWorkQueue(
            sp.GetRequiredService<ProxyScheduler.IRequestScheduler>(),
            sp.GetRequiredService<RedisConnection>(),
            sp.GetRequiredService<RedisFleetCoordinator>(),
            sp.GetRequiredService<IOptions<RedisOptions>>(),
            sp.GetRequiredService<IOptions<RedisWorkQueueOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance));
        return builder;
    }

    private static IProxySchedulerBuilder AddCore(IProxySchedulerBuilder builder, Action<RedisOptions> configure, IConnectionMultiplexer? connection)
    {
        var services = builder.Services;
        if (services.Any(static d => d.ServiceType == typeof(IFleetCoordinator)))
        {
            throw new InvalidOperationException("UseRedis was already called for this service collection.");
        }

        services.AddOptions<RedisOptions>().Configure(configure).ValidateOnStart();
        services.AddSingleton(new ProxyScheduler.DependencyInjection.Internal.ConfigurationSectionOwner("Redis")); // ProxyScheduler:Redis is read here
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisOptions>, RedisOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => connection is not null
            ? new RedisConnection(connection)
            : new RedisConnection(sp.GetRequiredService<IOptions<RedisOptions>>().Value.Configuration!));
        services.AddSingleton(sp => new RedisFleetCoordinator(
            sp.GetRequiredService<IOptions<RedisOptions>>(),
            sp.GetRequiredService<RedisConnection>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance,
            sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.AddSingleton<IFleetCoordinator>(static sp => sp.GetRequiredService<RedisFleetCoordinator>());
        services.Replace(ServiceDescriptor.Singleton<ProxyScheduler.Proxies.Sessions.ISessionStore>(static sp => new RedisSessionStore(
            sp.GetRequiredService<RedisConnection>(),
            sp.GetRequiredService<RedisFleetCoordinator>(),
            sp.GetRequiredService<IOptions<RedisOptions>>().Value.KeyPrefix,
            sp.GetRequiredService<IOptions<ProxyScheduler.ProxySchedulerOptions>>().Value.Sessions)));
        if (connection is null)
        {
            services.AddSingleton<IValidateOptions<RedisOptions>>(new ConnectionRequired());
        }

        return builder;
    }

    private sealed class ConnectionRequired : IValidateOptions<RedisOptions>
    {
        public ValidateOptionsResult Validate(string? name, RedisOptions options) =>
            string.IsNullOrWhiteSpace(options.Configuration)
                ? ValidateOptionsResult.Fail("ProxyScheduler:Redis:Configuration must be set (a StackExchange.Redis configuration string such as '127.0.0.1:6379').")
                : ValidateOptionsResult.Success;
    }
}
