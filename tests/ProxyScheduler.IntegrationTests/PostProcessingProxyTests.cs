using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler.Processing;
using ProxyScheduler.Proxies;
using ProxyScheduler.Testing;

namespace ProxyScheduler.IntegrationTests;

/// <summary>The post-processing stage through real proxies (tinyproxy, microsocks) on loopback, with a target server of its own.</summary>
public sealed class PostProcessingProxyTests(TargetServerFixture fixture) : IClassFixture<TargetServerFixture>, IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _servers = [];
    private ServiceProvider? _provider;

    private TargetServer Server => fixture.Server;

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Stops every server the test started (by process id), also when the test failed.</summary>
    public async Task DisposeAsync()
    {
        if (_provider is not null)
        {
            await _provider.DisposeAsync();
        }

        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }
    }

    private async Task<T> StartAsync<T>(Func<Task<T>> start)
        where T : IAsyncDisposable
    {
        var server = await start();
        _servers.Add(server);
        return server;
    }

    private IRequestScheduler CreateSut(IEnumerable<ProxyEndpoint> proxies, Action<ProxySchedulerOptions> configure)
    {
        var collection = new ServiceCollection();
        collection.AddProxyScheduler(configure).AddProxies(proxies);
        _provider = collection.BuildServiceProvider();
        return _provider.GetRequiredService<IRequestScheduler>();
    }

    [SkippableFact]
    public async Task PostProcessing_ThroughTinyproxyAndMicrosocks_HoldsAtMostCapacity_AndProcessesWhatEachProxyFetched()
    {
        RealServer.Require("tinyproxy");
        RealServer.Require("microsocks");
        var auth = await StartAsync(() => ExternalServer.StartTinyproxyAsync("alice", "s3cret", bindAddress: "127.0.0.3"));
        var socks = await StartAsync(() => ExternalServer.StartMicrosocksAsync("bob", "pa55", bindAddress: "127.0.0.2"));
        var addressOf = new Dictionary<string, string>
        {
            [ProxyEndpoint.Parse($"http://alice:s3cret@127.0.0.1:{auth.Port}").Id] = "127.0.0.3",
            [ProxyEndpoint.Parse($"socks5://bob:pa55@127.0.0.1:{socks.Port}").Id] = "127.0.0.2",
        };
        var sut = CreateSut(
            [ProxyEndpoint.Parse($"http://alice:s3cret@127.0.0.1:{auth.Port}"), ProxyEndpoint.Parse($"socks5://bob:pa55@127.0.0.1:{socks.Port}")],
            o =>
            {
                o.MaxConcurrency = 16;
                o.DefaultHost.MaxConcurrency = 4;
            });
        var hosts = Server.Hosts.Take(4).ToList();
        Server.ResetCounters();
        using var gate = new SemaphoreSlim(0);
        var processed = 0;
        var pipeline = sut
            .WithPostProcessor((response, ct) =>
            {
                gate.Wait(ct);
                Interlocked.Increment(ref processed);
                return System.Text.Encoding.ASCII.GetString(response.Body.Span);
            })
            .WithOptions(o =>
            {
                o.MaxDegreeOfParallelism = 2;
                o.Capacity = 5;
            });
        long Received() => hosts.Sum(h => Server.Counter(h).Received);

        var run = pipeline.ProcessAllAsync(Enumerable.Range(0, 120).Select(i => new ScheduledRequest(new Uri(hosts[i % hosts.Count], $"whoami?i={i}")))).ToListAsync().AsTask();
        await Eventually.TrueAsync(() => Received() == 5 && sut.GetSnapshot().InFlight == 0, "five responses fetched through the proxies, then dispatching stops");
        Received().Should().Be(5);
        gate.Release(1_000);
        var results = await run.WaitAsync(TimeSpan.FromSeconds(60));

        results.Should().HaveCount(120).And.OnlyContain(r => r.Succeeded);
        results.Should().OnlyContain(r => r.Value == addressOf[r.Response!.Proxy!.Id], "each body was processed as fetched through the proxy the item names");
        results.Select(r => r.Value).Distinct().Should().BeEquivalentTo(["127.0.0.2", "127.0.0.3"]);
        processed.Should().Be(120);
    }
}
