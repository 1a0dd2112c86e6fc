using ProxyScheduler;
using ProxyScheduler.Classification;
using ProxyScheduler.Proxies;
using ProxyScheduler.Proxies.Internal;
using ProxyScheduler.Proxies.Sessions;
using ProxyScheduler.Proxies.Sessions.Internal;

#pragma warning disable IDE0130 // Namespace does not match folder structure: DI entry points live in the DI namespace.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Configuration methods of <see cref="IProxySchedulerBuilder"/>.</summary>
public static class ProxySchedulerBuilderExtensions
{
    /// <summary>Configures the scheduler's options.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Configures the options.</param>
    /// <returns>The builder.</returns>
    public static IProxySchedulerBuilder Configure(this IProxySchedulerBuilder builder, Action<ProxySchedulerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.Configure(configure);
        return builder;
    }

    /// <summary>
    /// Overrides the limits of the hosts matching <paramref name="pattern"/>: <c>example.com</c>,
    /// <c>*.example.com</c>, an IP address, each optionally with <c>:port</c>. Settings not set here are inherited
    /// from <see cref="ProxySchedulerOptions.DefaultHost"/>. Calling it again for the same pattern adds to the
    /// earlier settings.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="pattern">The host pattern.</param>
    /// <param name="configure">Configures the host's limits.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException"><paramref name="pattern"/> is not a valid host pattern.</exception>
    public static IProxySchedulerBuilder ConfigureHost(this IProxySchedulerBuilder builder, string pattern, Action<HostOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        _ = HostPattern.Parse(pattern, nameof(pattern));
        builder.Services.Configure<ProxySchedulerOptions>(options =>
        {
            if (!options.Hosts.TryGetValue(pattern, out var host) || host is null)
            {
                host = new HostOptions();
                options.Hosts[pattern] = host;
            }

            configure(host);
        });
        return builder;
    }

    /// <summary>Adds proxies to the pool, parsed from URIs or list lines (<c>http://user:pass@host:port</c>, <c>host:port:user:pass</c>, ...).</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="proxies">The proxies, one per string; blank strings and <c>#</c> comments are skipped.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="FormatException">An entry is not a proxy; the message gives its position and a redacted copy.</exception>
    public static IProxySchedulerBuilder AddProxies(this IProxySchedulerBuilder builder, params string[] proxies)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(proxies);
        return builder.AddProxies(ProxyEndpoint.ParseList(proxies));
    }

    /// <summary>Adds proxies to the pool.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="proxies">The proxies.</param>
    /// <returns>The builder.</returns>
    public static IProxySchedulerBuilder AddProxies(this IProxySchedulerBuilder builder, IEnumerable<ProxyEndpoint> proxies)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(proxies);
        var list = proxies.ToList();
        if (list.Any(static p => p is null))
        {
            throw new ArgumentException("The proxy list contains a null entry.", nameof(proxies));
        }

        return builder.AddProxyProvider(new StaticProxyProvider(list));
    }

    /// <summary>
    /// Adds the proxies listed in a file (one a line, any format <see cref="ProxyEndpoint.Parse"/> accepts, <c>#</c>
    /// comments), re-read when the file changes: new proxies join, removed ones drain and leave. Replace the file
    /// atomically (write elsewhere, then rename); a version that fails to parse is rejected and logged, and the pool keeps
    /// the previous list. The file must exist and parse when the scheduler starts.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="path">The file's path.</param>
    /// <returns>The builder.</returns>
    public static IProxySchedulerBuilder AddProxyFile(this IProxySchedulerBuilder builder, string path)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        builder.Services.AddSingleton<IProxyProvider>(_ => new FileProxyProvider(path));
        return builder;
    }

    /// <summary>
    /// Adds a gateway proxy: one endpoint whose exit identity is chosen by parameters in the user name (or password),
    /// rendered per session and per requested tags (such as <c>country</c>) from the provider's preset. Requests without a
    /// session or tags use the gateway's rotating identity; each session gets its own rendered identity, with its own
    /// connection pool and health, rotated before the provider's session lifetime ends.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Configures the gateway.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">The gateway's settings are invalid; the message names the setting, never a secret.</exception>
    /// <exception cref="FormatException">A template is malformed.</exception>
    public static IProxySchedulerBuilder AddGatewayProxy(this IProxySchedulerBuilder builder, Action<GatewayProxyOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new GatewayProxyOptions();
        configure(options);
        var gateway = new GatewayDefinition(options);
        return builder.AddProxyProvider(new StaticProxyProvider([gateway.CreateEndpoint(null, null)]));
    }

    /// <summary>Adds a source of proxies.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="provider">The provider.</param>
    /// <returns>The builder.</returns>
    public static IProxySchedulerBuilder AddProxyProvider(this IProxySchedulerBuilder builder, IProxyProvider provider)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(provider);
        builder.Services.AddSingleton(provider);
        return builder;
    }

    /// <summary>Adds a source of proxies, created from DI.</summary>
    /// <typeparam name="TProvider">The provider type.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IProxySchedulerBuilder AddProxyProvider<TProvider>(this IProxySchedulerBuilder builder)
        where TProvider : class, IProxyProvider
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<IProxyProvider, TProvider>();
        return builder;
    }

    /// <summary>Registers a proxy selection strategy, chosen by its name in <see cref="ProxyPoolOptions.Selector"/>.</summary>
    /// <typeparam name="TSelector">The selector type.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IProxySchedulerBuilder AddProxySelector<TSelector>(this IProxySchedulerBuilder builder)
        where TSelector : class, IProxySelector
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<IProxySelector, TSelector>();
        return builder;
    }

    /// <summary>Registers a response classifier, chosen by its name in <see cref="ClassificationOptions.Classifier"/> or <see cref="HostOptions.Classifier"/>.</summary>
    /// <typeparam name="TClassifier">The classifier type.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IProxySchedulerBuilder AddResponseClassifier<TClassifier>(this IProxySchedulerBuilder builder)
        where TClassifier : class, IResponseClassifier
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<IResponseClassifier, TClassifier>();
        return builder;
    }
}
