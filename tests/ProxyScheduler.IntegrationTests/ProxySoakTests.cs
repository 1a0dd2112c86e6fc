using System.Net;
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler.Proxies;
using ProxyScheduler.Testing;

namespace ProxyScheduler.IntegrationTests;

/// <summary>
/// A bounded soak through real and broken proxies at once: three tinyproxies, a hanging proxy, one that resets
/// mid-body, a refused port; sessions, 429s, 403s, deadlines, and single requests cancelled at random. Every request must
/// end exactly once and every slot must be free at the end.
/// </summary>
public sealed class ProxySoakTests(TargetServerFixture fixture) : IClassFixture<TargetServerFixture>, IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _servers = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }
    }

    [SkippableFact]
    public async Task MixedFaults_EveryRequestEndsOnce_AndEverySlotIsFreeAfterwards()
    {
        RealServer.Require("tinyproxy");
        var proxies = new List<ProxyEndpoint>();
        foreach (var bind in new[] { "127.0.0.2", "127.0.0.3", "127.0.0.4" })
        {
            var server = await ExternalServer.StartTinyproxyAsync(bindAddress: bind);
            _servers.Add(server);
            proxies.Add(ProxyEndpoint.Parse($"127.0.0.1:{server.Port}"));
        }

        foreach (var fault in new[] { ProxyFault.Hang, ProxyFault.ResetMidBody })
        {
            var faulty = new FaultyProxy(fault);
            _servers.Add(faulty);
            proxies.Add(ProxyEndpoint.Parse($"127.0.0.1:{faulty.Port}"));
        }

        proxies.Add(ProxyEndpoint.Parse($"127.0.0.1:{FaultyProxy.RefusingPort()}"));
        var services = new ServiceCollection();
        services.AddProxyScheduler(o =>
        {
            o.MaxConcurrency = 48;
            o.DefaultHost.MaxConcurrency = 6;
            o.AttemptTimeout = TimeSpan.FromSeconds(2);
            o.ProxyPool.QuarantineBaseDelay = TimeSpan.FromSeconds(1);
            o.ProxyPool.QuarantineMaxDelay = TimeSpan.FromSeconds(4);
            o.ProxyPool.BlockBaseDuration = TimeSpan.FromSeconds(2);
            o.ProxyPool.OutageThreshold = 1.0;
            o.Sessions.MinDelay = TimeSpan.FromMilliseconds(5);
        }).AddProxies(proxies);
        await using var provider = services.BuildServiceProvider();
        var sut = provider.GetRequiredService<IRequestScheduler>();
        var hosts = fixture.Server.Hosts.Skip(10).Take(8).ToList();
        var requests = Enumerable.Range(0, 3000).Select(i => new ScheduledRequest(new Uri(hosts[i % hosts.Count],
            i % 7 == 0 ? "status/429?retryAfter=0" : i % 29 == 0 ? "block-from/127.0.0.2" : "whoami"))
        {
            SessionKey = i % 3 == 0 ? $"s{i % 40}" : null,
            Deadline = TimeSpan.FromSeconds(15),
            State = i,
        });

        var outcomes = await sut.SendAllAsync(requests).ToListAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(90));
        var random = new Random(7);
        var singles = await Task.WhenAll(Enumerable.Range(0, 300).Select(async i =>
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(random.Next(1, 80)));
            try
            {
                var response = await sut.SendAsync(new ScheduledRequest(new Uri(hosts[i % hosts.Count], "whoami")) { SessionKey = $"c{i % 10}" }, cancel.Token);
                return response.StatusCode == HttpStatusCode.OK ? "ok" : "other";
            }
            catch (OperationCanceledException)
            {
                return "canceled";
            }
            catch (RequestFailedException ex)
            {
                return ex.Reason.ToString();
            }
        })).WaitAsync(TimeSpan.FromSeconds(60));

        outcomes.Should().HaveCount(3000);
        outcomes.Select(o => (int)o.Request!.State!).Should().OnlyHaveUniqueItems("every request ends exactly once");
        outcomes.Count(o => o.Response?.StatusCode == HttpStatusCode.OK).Should().BeGreaterThan(2000, "three good proxies carry the load past the broken ones");
        outcomes.Where(o => o.Response?.StatusCode == HttpStatusCode.OK && o.Request!.RequestUri.AbsolutePath == "/whoami")
            .Select(o => o.Response!.ReadBodyAsString()).Should().OnlyContain(a => a != "127.0.0.1", "nothing went out directly");
        singles.Should().HaveCount(300);
        await Eventually.TrueAsync(() => sut.GetSnapshot() is { Pending: 0, Queued: 0, InFlight: 0 }, "every slot is free");
        sut.GetSnapshot().Proxies.Sum(p => p.InFlight).Should().Be(0);
    }
}
