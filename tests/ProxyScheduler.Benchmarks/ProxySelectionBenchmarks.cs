using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ProxyScheduler.Classification;
using ProxyScheduler.Diagnostics.Internal;
using ProxyScheduler.Dispatch;
using ProxyScheduler.Politeness.Internal;
using ProxyScheduler.Proxies;
using ProxyScheduler.Proxies.Internal;

namespace ProxyScheduler.Benchmarks;

/// <summary>
/// Lease and release of a proxy through the dispatcher (host permit + proxy permit + global permit, then the release
/// with its health update) from pools of 100, 10,000 and 100,000 proxies, against the same dispatch without a proxy;
/// and the same for 1,000 sticky sessions, each bound to its proxy.
/// </summary>
[MemoryDiagnoser]
#pragma warning disable CA1001 // BenchmarkDotNet disposes through [GlobalCleanup].
public class ProxySelectionBenchmarks
{
    private Dispatcher _direct = null!;
    private Dispatcher _proxied = null!;
    private ProxyScheduler.Proxies.Sessions.SessionState[] _sessions = null!;
    private SchedulerMetrics _metrics = null!;
    private HostKey[] _hosts = null!;
    private int _next;

    [Params(100, 10_000, 100_000)]
    public int Proxies { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var options = new ProxySchedulerOptions { MaxConcurrency = 64, DefaultHost = new HostOptions { MaxConcurrency = 8 } };
        options.ProxyPool.MaxProxies = Proxies;
        _metrics = new SchedulerMetrics(null);
        var pool = new ProxyPool(options.ProxyPool, new PowerOfTwoChoicesSelector(), TimeProvider.System,
            new ProxyIdentityRegistry(new OptionsCache<HttpClientFactoryOptions>()), NullLogger.Instance, _metrics);
        _direct = new Dispatcher(64, new HostSettingsResolver(options), TimeProvider.System);
        _proxied = new Dispatcher(64, new HostSettingsResolver(options), TimeProvider.System, pool,
            new ProxyScheduler.Proxies.Sessions.Internal.SessionBinder(new ProxyScheduler.Proxies.Sessions.SessionOptions { IdleTimeout = TimeSpan.FromDays(1), Lifetime = TimeSpan.FromDays(1) }, TimeProvider.System));
        _sessions = [.. Enumerable.Range(0, 1_000).Select(i => new ProxyScheduler.Proxies.Sessions.SessionState($"session-{i}", TimeProvider.System.GetUtcNow()))];
        _proxied.UpdateProxies(Enumerable.Range(0, Proxies).Select(i => new ProxyEndpoint(ProxyScheme.Http, $"10.{i / 65536 % 256}.{i / 256 % 256}.{i % 256}", 8080)));
        _hosts = [.. Enumerable.Range(0, 50).Select(i => new HostKey($"h{i}.test", 80))];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _direct.Dispose();
        _proxied.Dispose();
        _metrics.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void Direct_AcquireRelease()
    {
        _direct.Release(Completed(_direct.AcquireAsync(_hosts[_next++ % _hosts.Length], 0, ProxyRequirement.Direct, null, CancellationToken.None)));
    }

    [Benchmark]
    public void Proxy_LeaseRelease()
    {
        _proxied.Release(Completed(_proxied.AcquireAsync(_hosts[_next++ % _hosts.Length], 0, null, null, CancellationToken.None)), ResponseClass.Success, 1000);
    }

    /// <summary>A sticky session's lease: its bound proxy (checked for expiry, health and blocks) instead of a selection.</summary>
    [Benchmark]
    public void Session_LeaseRelease()
    {
        var session = _sessions[_next % _sessions.Length];
        var lease = Completed(_proxied.AcquireAsync(_hosts[_next++ % _hosts.Length], 0, null, null, session, CancellationToken.None));
        _proxied.Release(lease, ResponseClass.Success, 1000, session);
    }

    private static AttemptPermit Completed(ValueTask<AttemptPermit> pending) =>
        pending.IsCompletedSuccessfully ? pending.Result : throw new InvalidOperationException("Every permit is free here: the lease must be granted at once.");
}
