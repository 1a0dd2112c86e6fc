using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Time.Testing;
using ProxyScheduler.Proxies;
using ProxyScheduler.Proxies.Internal;
using ProxyScheduler.Transport.Internal;

namespace ProxyScheduler.Tests.TestSupport;

/// <summary>
/// A scheduler with a proxy pool whose proxy clients answer in-process: every proxy identity's primary handler is
/// replaced by a handler that calls <see cref="Behavior"/> with the proxy's id, and counts per proxy and per host.
/// Direct requests go to <see cref="Direct"/>. Fake time.
/// </summary>
public sealed class ProxyTestScheduler : IDisposable
{
    private readonly ServiceProvider _provider;
    private readonly ConcurrentDictionary<string, int[]> _proxyInFlight = new();
    private readonly ConcurrentDictionary<string, int[]> _hostInFlight = new();

    public ProxyTestScheduler(IEnumerable<ProxyEndpoint> proxies, Action<ProxySchedulerOptions>? configure = null, Action<IProxySchedulerBuilder>? build = null)
    {
        Time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(Time);
        var builder = services.AddProxyScheduler(o =>
        {
            o.Retry.UseJitter = false;
            o.Retry.BaseDelay = TimeSpan.Zero;
            configure?.Invoke(o);
        }).AddProxies(proxies);
        build?.Invoke(builder);
        services.AddHttpClient(TransportClientNames.Direct).ConfigurePrimaryHttpMessageHandler(() => Direct);
        services.ConfigureAll<HttpClientFactoryOptions>(o => o.HttpMessageHandlerBuilderActions.Add(b =>
        {
            if (b.Name is { } name && name.StartsWith(ProxyIdentityRegistry.ClientNamePrefix, StringComparison.Ordinal))
            {
                b.PrimaryHandler = new RouterHandler(this, name[ProxyIdentityRegistry.ClientNamePrefix.Length..]);
            }
        }));
        _provider = services.BuildServiceProvider();
        Scheduler = _provider.GetRequiredService<IRequestScheduler>();
    }

    public FakeTimeProvider Time { get; }

    public IRequestScheduler Scheduler { get; }

    public FakeHandler Direct { get; } = new() { Responder = _ => FakeHandler.Response(HttpStatusCode.OK, "direct") };

    /// <summary>Gets or sets how a proxy answers: (proxy id, request) to a response; throw to fail at the proxy.</summary>
    public Func<string, HttpRequestMessage, Task<HttpResponseMessage>> Behavior { get; set; } =
        static (_, _) => Task.FromResult(FakeHandler.Response(HttpStatusCode.OK));

    public ConcurrentQueue<(string ProxyId, Uri Uri)> Sent { get; } = new();

    public int MaxInFlightOfProxy(string id) => _proxyInFlight.TryGetValue(id, out var c) ? Volatile.Read(ref c[1]) : 0;

    public int MaxInFlightOfHost(string host) => _hostInFlight.TryGetValue(host, out var c) ? Volatile.Read(ref c[1]) : 0;

    public int SentThrough(string id) => Sent.Count(s => s.ProxyId == id);

    public ProxySnapshot Proxy(string id) => Scheduler.GetSnapshot().Proxies.Single(p => p.Id == id);

    /// <summary>Gets the user name of the identity <paramref name="id"/> (a rendered gateway credential, for instance).</summary>
    public string? UserNameOf(string id) =>
        Get<ProxyIdentityRegistry>().TryGet(ProxyIdentityRegistry.ClientNamePrefix + id, out var endpoint) ? endpoint.UserName : null;

    public T Get<T>()
        where T : notnull => _provider.GetRequiredService<T>();

    public void Dispose() => _provider.Dispose();

    private static void Enter(int[] counter)
    {
        var now = Interlocked.Increment(ref counter[0]);
        int max;
        while (now > (max = Volatile.Read(ref counter[1])) && Interlocked.CompareExchange(ref counter[1], now, max) != max)
        {
        }
    }

    private sealed class RouterHandler(ProxyTestScheduler owner, string proxyId) : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            owner.Sent.Enqueue((proxyId, request.RequestUri!));
            var p = owner._proxyInFlight.GetOrAdd(proxyId, static _ => new int[2]);
            var h = owner._hostInFlight.GetOrAdd(request.RequestUri!.Host, static _ => new int[2]);
            Enter(p);
            Enter(h);
            try
            {
                return await owner.Behavior(proxyId, request).WaitAsync(cancellationToken);
            }
            finally
            {
                Interlocked.Decrement(ref p[0]);
                Interlocked.Decrement(ref h[0]);
            }
        }
    }
}
