using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ProxyScheduler.Testing;

namespace ProxyScheduler.Demo;

/// <summary>What a site of the demo world is like.</summary>
internal enum SiteKind
{
    Fast,
    Slow,
    Strict,
    Blocking,
    Large,
    Shop,
    Secure,
}

/// <summary>One virtual host of the world: its own port, its temperament, and what the server counted.</summary>
internal sealed class Site(string name, SiteKind kind)
{
    public string Name { get; } = name;

    public SiteKind Kind { get; } = kind;

    public Uri Uri { get; set; } = null!;

    public string Authority => $"127.0.0.1:{Uri.Port}";

    public HostCounter Counter { get; set; } = null!;

    public (int Min, int Max) LatencyMs { get; init; } = (2, 15);

    public int PageKb { get; init; } = 8;

    /// <summary>Gets the site's own limiter: past it, 429 with <c>Retry-After</c>.</summary>
    public HostLimit? Allowance { get; init; }

    /// <summary>Gets the client addresses (proxies' outgoing addresses) it answers 403.</summary>
    public HashSet<string> BlockedClients { get; } = [];

    public int Throttled;

    public int Refused;
}

/// <summary>One proxy of the world: a real in-process forward proxy, or a port where nothing listens.</summary>
internal sealed class WorldProxy(string name, string kind, string url, ForwardProxyServer? server)
{
    public string Name { get; } = name;

    public string Kind { get; } = kind;

    /// <summary>Gets the proxy's URL as the scheduler is given it (with credentials for the one that needs them).</summary>
    public string Url { get; } = url;

    public ForwardProxyServer? Server { get; } = server;

    public IPAddress? OutgoingAddress => Server?.Behavior.OutgoingAddress;
}

/// <summary>
/// The demo's embedded world on 127.0.0.1: one Kestrel server with about 20 virtual hosts (one port each) of different
/// temperaments, and about a dozen real forward proxies (HTTP forward and CONNECT), healthy, slow, dead, flaky, and one
/// that requires credentials. Every host counts the requests it works on at once; no host ever sees a
/// <c>Proxy-Authorization</c> header (counted if it does).
/// </summary>
internal sealed class DemoWorld : IAsyncDisposable
{
    public const string ProxyUser = "demo-user";
    public const string ProxyPassword = "demo-Pa55";

    private readonly WebApplication _app;
    private readonly Dictionary<int, Site> _byPort = [];
    private int _leakedProxyAuthorization;

    private DemoWorld(WebApplication app, IReadOnlyList<Site> sites, IReadOnlyList<WorldProxy> proxies)
    {
        _app = app;
        Sites = sites;
        Proxies = proxies;
    }

    public IReadOnlyList<Site> Sites { get; }

    /// <summary>Gets the self-signed certificate of the HTTPS sites, made for this run and trusted by this run only.</summary>
    public X509Certificate2 Certificate { get; private init; } = null!;

    public IReadOnlyList<WorldProxy> Proxies { get; }

    /// <summary>Gets the requests that reached a host with a <c>Proxy-Authorization</c> header (must stay 0).</summary>
    public int LeakedProxyAuthorization => Volatile.Read(ref _leakedProxyAuthorization);

    public int GlobalMaxInFlight => Volatile.Read(ref _globalMax);

    private int _globalMax;
    private int _globalInFlight;

    public static async Task<DemoWorld> StartAsync()
    {
        var sites = new List<Site>();
        for (var i = 1; i <= 6; i++)
        {
            sites.Add(new Site($"fast-{i}", SiteKind.Fast));
        }

        for (var i = 1; i <= 2; i++)
        {
            // HTTPS: proxies carry these through CONNECT tunnels.
            sites.Add(new Site($"secure-{i}", SiteKind.Secure));
        }

        for (var i = 1; i <= 3; i++)
        {
            sites.Add(new Site($"slow-{i}", SiteKind.Slow) { LatencyMs = (150, 450) });
        }

        for (var i = 1; i <= 3; i++)
        {
            // Its own rule: 2 at once and 20 a second; past that, 429 with Retry-After: 1.
            sites.Add(new Site($"strict-{i}", SiteKind.Strict) { LatencyMs = (20, 40), Allowance = new HostLimit(perSecond: 20, burst: 4, maxInFlight: 2, workMs: 0) });
        }

        for (var i = 1; i <= 2; i++)
        {
            sites.Add(new Site($"guarded-{i}", SiteKind.Blocking));
        }

        for (var i = 1; i <= 2; i++)
        {
            sites.Add(new Site($"large-{i}", SiteKind.Large) { PageKb = 512, LatencyMs = (10, 30) });
        }

        for (var i = 1; i <= 2; i++)
        {
            sites.Add(new Site($"shop-{i}", SiteKind.Shop) { LatencyMs = (5, 25) });
        }

        // Proxies: outgoing addresses 127.0.0.11.. so that hosts can tell them apart.
        var proxies = new List<WorldProxy>();
        ForwardProxyServer Start(int n, ForwardProxyBehavior behavior) =>
            new(behavior with { OutgoingAddress = IPAddress.Parse($"127.0.0.{10 + n}") });
        for (var n = 1; n <= 6; n++)
        {
            var server = Start(n, new ForwardProxyBehavior());
            proxies.Add(new WorldProxy($"healthy-{n}", "healthy", $"http://127.0.0.1:{server.Port}", server));
        }

        for (var n = 7; n <= 8; n++)
        {
            var server = Start(n, new ForwardProxyBehavior { Latency = TimeSpan.FromMilliseconds(300) });
            proxies.Add(new WorldProxy($"slow-{n - 6}", "slow (+300 ms)", $"http://127.0.0.1:{server.Port}", server));
        }

        proxies.Add(new WorldProxy("dead-1", "dead (refuses)", $"http://127.0.0.1:{ExternalServer.FreePort()}", null));
        proxies.Add(new WorldProxy("dead-2", "dead (refuses)", $"http://127.0.0.1:{ExternalServer.FreePort()}", null));
        var flaky = Start(11, new ForwardProxyBehavior { ResetRate = 0.3 });
        proxies.Add(new WorldProxy("flaky", "flaky (resets 30 %)", $"http://127.0.0.1:{flaky.Port}", flaky));
        var secured = Start(12, new ForwardProxyBehavior { UserName = ProxyUser, Password = ProxyPassword });
        proxies.Add(new WorldProxy("auth", "requires credentials", $"http://{ProxyUser}:{ProxyPassword}@127.0.0.1:{secured.Port}", secured));

        // The guarded sites refuse two healthy proxies' addresses.
        foreach (var site in sites.Where(s => s.Kind == SiteKind.Blocking))
        {
            site.BlockedClients.Add(proxies[0].OutgoingAddress!.ToString());
            site.BlockedClients.Add(proxies[1].OutgoingAddress!.ToString());
        }

        var certificate = CreateCertificate();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxConcurrentConnections = null;
            kestrel.AddServerHeader = false;
            foreach (var site in sites)
            {
                kestrel.Listen(IPAddress.Loopback, 0, listen =>
                {
                    if (site.Kind == SiteKind.Secure)
                    {
                        listen.UseHttps(certificate);
                    }
                });
            }
        });
        var app = builder.Build();
        DemoWorld? world = null;
        app.Run(context => world!.HandleAsync(context));
        world = new DemoWorld(app, sites, proxies) { Certificate = certificate };
        await app.StartAsync().ConfigureAwait(false);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Select(a => new Uri(a)).ToList();
        var http = new Queue<int>(addresses.Where(a => a.Scheme == Uri.UriSchemeHttp).Select(a => a.Port).Order());
        var https = new Queue<int>(addresses.Where(a => a.Scheme == Uri.UriSchemeHttps).Select(a => a.Port).Order());
        foreach (var site in sites)
        {
            var secure = site.Kind == SiteKind.Secure;
            var port = (secure ? https : http).Dequeue();
            site.Uri = new Uri($"{(secure ? "https" : "http")}://127.0.0.1:{port}/");
            site.Counter = new HostCounter(port);
            world._byPort[port] = site;
        }

        return world;
    }

    /// <summary>Trusts the world's own certificate (by thumbprint) besides what the system trusts.</summary>
    public bool ValidateCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        errors == SslPolicyErrors.None
        || (certificate is not null && string.Equals(certificate.GetCertHashString(HashAlgorithmName.SHA256), Certificate.GetCertHashString(HashAlgorithmName.SHA256), StringComparison.Ordinal));

    public async ValueTask DisposeAsync()
    {
        foreach (var proxy in Proxies)
        {
            if (proxy.Server is { } server)
            {
                await server.DisposeAsync().ConfigureAwait(false);
            }
        }

        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        Certificate.Dispose();
    }

    private static X509Certificate2 CreateCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=ProxyScheduler demo world", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), password: null);
    }

    private async Task HandleAsync(HttpContext context)
    {
        if (!_byPort.TryGetValue(context.Connection.LocalPort, out var site))
        {
            context.Response.StatusCode = 404;
            return;
        }

        if (context.Request.Headers.ContainsKey("Proxy-Authorization"))
        {
            Interlocked.Increment(ref _leakedProxyAuthorization);
        }

        var aborted = context.RequestAborted;
        site.Counter.Enter();
        UpdateMax(Interlocked.Increment(ref _globalInFlight));
        var admitted = false;
        try
        {
            if (site.BlockedClients.Contains(context.Connection.RemoteIpAddress?.ToString() ?? string.Empty))
            {
                Interlocked.Increment(ref site.Refused);
                context.Response.StatusCode = 403;
                await context.Response.WriteAsync("Access denied: your address is blocked", aborted).ConfigureAwait(false);
                return;
            }

            if (site.Allowance is { } allowance && !(admitted = allowance.TryEnter()))
            {
                Interlocked.Increment(ref site.Throttled);
                context.Response.StatusCode = 429;
                context.Response.Headers.RetryAfter = "1";
                await context.Response.WriteAsync("Too many requests", aborted).ConfigureAwait(false);
                return;
            }

            var (min, max) = site.LatencyMs;
            await Task.Delay(Random.Shared.Next(min, max + 1), aborted).ConfigureAwait(false);
            var page = TargetServer.Json(site.PageKb);
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = page.Length;
            await context.Response.Body.WriteAsync(page, aborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client went away.
        }
        finally
        {
            site.Allowance?.Leave(admitted);
            Interlocked.Decrement(ref _globalInFlight);
            site.Counter.Exit();
        }
    }

    private void UpdateMax(int now)
    {
        for (var max = Volatile.Read(ref _globalMax); now > max; max = Volatile.Read(ref _globalMax))
        {
            if (Interlocked.CompareExchange(ref _globalMax, now, max) == max)
            {
                return;
            }
        }
    }
}
