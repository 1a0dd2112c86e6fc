using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ProxyScheduler.Classification;
using ProxyScheduler.Processing;
using ProxyScheduler.Proxies;
using ProxyScheduler.Testing;

namespace ProxyScheduler.IntegrationTests;

/// <summary>
/// The proxy pool through real proxies on loopback: tinyproxy (HTTP, one with basic auth) and microsocks (SOCKS5, with
/// credentials), each binding its outgoing connections to its own loopback address, so the Kestrel target's
/// <c>/whoami</c> tells which proxy a request came through (127.0.0.1 would mean it went out directly).
/// </summary>
public sealed class ProxyPoolIntegrationTests(TargetServerFixture fixture) : IClassFixture<TargetServerFixture>, IAsyncLifetime
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

    private IRequestScheduler CreateSut(IEnumerable<ProxyEndpoint> proxies, Action<ProxySchedulerOptions> configure, Action<IServiceCollection>? services = null)
    {
        var collection = new ServiceCollection();
        services?.Invoke(collection);
        collection.AddProxyScheduler(configure).AddProxies(proxies);
        _provider = collection.BuildServiceProvider();
        return _provider.GetRequiredService<IRequestScheduler>();
    }

    [SkippableFact]
    public async Task SendAll_ThroughTwoTinyproxiesAndMicrosocks_EveryRequestComesThroughAProxyItNames()
    {
        RealServer.Require("tinyproxy");
        RealServer.Require("microsocks");
        var auth = await StartAsync(() => ExternalServer.StartTinyproxyAsync("alice", "s3cret", bindAddress: "127.0.0.3"));
        var open = await StartAsync(() => ExternalServer.StartTinyproxyAsync(bindAddress: "127.0.0.4"));
        var socks = await StartAsync(() => ExternalServer.StartMicrosocksAsync("bob", "pa55", bindAddress: "127.0.0.2"));
        var addressOf = new Dictionary<string, string>
        {
            [ProxyEndpoint.Parse($"http://alice:s3cret@127.0.0.1:{auth.Port}").Id] = "127.0.0.3",
            [ProxyEndpoint.Parse($"127.0.0.1:{open.Port}").Id] = "127.0.0.4",
            [ProxyEndpoint.Parse($"socks5://bob:pa55@127.0.0.1:{socks.Port}").Id] = "127.0.0.2",
        };
        var sut = CreateSut(
            [ProxyEndpoint.Parse($"http://alice:s3cret@127.0.0.1:{auth.Port}"), ProxyEndpoint.Parse($"127.0.0.1:{open.Port}"), ProxyEndpoint.Parse($"socks5://bob:pa55@127.0.0.1:{socks.Port}")],
            o =>
            {
                o.MaxConcurrency = 24;
                o.DefaultHost.MaxConcurrency = 4;
                o.ProxyPool.MaxConcurrencyPerProxy = 8;
            });
        var hosts = Server.Hosts.Take(6).ToList();

        var outcomes = await sut.SendAllAsync(Enumerable.Range(0, 300).Select(i => new ScheduledRequest(new Uri(hosts[i % hosts.Count], "whoami")))).ToListAsync();

        outcomes.Should().HaveCount(300).And.OnlyContain(o => o.Response != null && o.Response.StatusCode == HttpStatusCode.OK);
        foreach (var response in outcomes.Select(o => o.Response!))
        {
            response.ReadBodyAsString().Should().Be(addressOf[response.Proxy!.Id], "the target saw the request come from the proxy the response names");
        }

        outcomes.Select(o => o.Response!.ReadBodyAsString()).Distinct().Should().BeEquivalentTo(["127.0.0.2", "127.0.0.3", "127.0.0.4"], "every proxy took a share");
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

    [SkippableFact]
    public async Task StickySessions_ThroughThreeTinyproxies_EachSessionKeepsItsExitAddress()
    {
        RealServer.Require("tinyproxy");
        var proxies = new List<ProxyEndpoint>();
        foreach (var bind in new[] { "127.0.0.2", "127.0.0.3", "127.0.0.4" })
        {
            var server = await StartAsync(() => ExternalServer.StartTinyproxyAsync(bindAddress: bind));
            proxies.Add(ProxyEndpoint.Parse($"127.0.0.1:{server.Port}"));
        }

        var sut = CreateSut(proxies, o =>
        {
            o.MaxConcurrency = 32;
            o.DefaultHost.MaxConcurrency = 8;
        });
        var hosts = Server.Hosts.Skip(26).Take(3).ToList();
        var requests = Enumerable.Range(0, 20 * 25).Select(i => new ScheduledRequest(new Uri(hosts[i % hosts.Count], "whoami")) { SessionKey = $"session-{i % 20}", State = i % 20 });

        var outcomes = await sut.SendAllAsync(requests).ToListAsync();

        outcomes.Should().HaveCount(500).And.OnlyContain(o => o.Response != null && o.Response.StatusCode == HttpStatusCode.OK);
        var sessions = outcomes.GroupBy(o => (int)o.Request!.State!).ToDictionary(g => g.Key, g => g.Select(o => o.Response!).ToList());
        var exits = sessions.ToDictionary(s => s.Key, s => s.Value.Select(r => r.ReadBodyAsString()).Distinct().ToList());
        exits.Should().HaveCount(20);
        foreach (var (session, responses) in sessions)
        {
            // Under load tinyproxy now and then drops a connection: that proxy failure moves the session (and says so).
            exits[session].Count.Should().BeLessThanOrEqualTo(1 + responses.Count(r => r.SessionRebound),
                $"session {session} changed its exit address only where a response reports a rebind");
            if (responses.Any(r => r.SessionRebound))
            {
                responses.Should().Contain(r => r.ProxiesTried.Count > 1,
                    "a session moves only after one of its attempts failed at its proxy (no expiry is configured here)");
            }
        }

        exits.Values.Select(a => a[0]).Distinct().Count().Should().BeGreaterThan(1, "sessions are spread over the proxies");
    }

    [SkippableFact]
    public async Task Send_TinyproxyWithWrongPassword_IsAProxyFailure_AndNothingReachesTheTarget()
    {
        RealServer.Require("tinyproxy");
        var auth = await StartAsync(() => ExternalServer.StartTinyproxyAsync("alice", "s3cret"));
        var sut = CreateSut([ProxyEndpoint.Parse($"http://alice:wrong@127.0.0.1:{auth.Port}")], o => o.ProxyPool.QuarantineAfter = 100);
        // An https target makes the proxy open a tunnel (CONNECT), which tinyproxy refuses with 407. (On plain http,
        // tinyproxy 1.11 answers a wrong password with 401 and WWW-Authenticate, which no classifier can tell apart
        // from the target's own 401; see docs/proxies.md.)
        var target = new Uri($"https://127.0.0.1:{Server.Hosts[7].Port}/whoami");
        var before = Server.Counter(Server.Hosts[7]).Received;

        var failure = await FluentActions.Awaiting(() => sut.SendAsync(new ScheduledRequest(target))).Should().ThrowAsync<RequestFailedException>();

        failure.Which.Reason.Should().BeOneOf(RequestFailureReason.ProxyFailure, RequestFailureReason.ProxiesUnavailable);
        failure.Which.ProxiesTried.Should().ContainSingle();
        Server.Counter(Server.Hosts[7]).Received.Should().Be(before, "the proxy refused it, and nothing went out directly");
        sut.GetSnapshot().Proxies.Single().ConsecutiveFailures.Should().Be(1, "407 (tinyproxy says 401 with Proxy-Authenticate on plain HTTP) counts against the proxy");
    }

    [SkippableFact]
    public async Task SendAll_ProxyKilledMidRun_TrafficMovesOff_NoRequestLost_NoneSentDirectly()
    {
        RealServer.Require("tinyproxy");
        RealServer.Require("microsocks");
        var victim = await StartAsync(() => ExternalServer.StartTinyproxyAsync(bindAddress: "127.0.0.3"));
        var survivor = await StartAsync(() => ExternalServer.StartTinyproxyAsync(bindAddress: "127.0.0.4"));
        var socks = await StartAsync(() => ExternalServer.StartMicrosocksAsync(bindAddress: "127.0.0.2"));
        var victimProxy = ProxyEndpoint.Parse($"127.0.0.1:{victim.Port}");
        var sut = CreateSut(
            [victimProxy, ProxyEndpoint.Parse($"127.0.0.1:{survivor.Port}"), ProxyEndpoint.Parse($"socks5://127.0.0.1:{socks.Port}")],
            o =>
            {
                o.MaxConcurrency = 16;
                o.DefaultHost.MaxConcurrency = 4;
                o.AttemptTimeout = TimeSpan.FromSeconds(5);
                o.ProxyPool.QuarantineBaseDelay = TimeSpan.FromMinutes(5);
            });
        var hosts = Server.Hosts.Skip(10).Take(5).ToList();
        foreach (var host in hosts)
        {
            Server.SetLatency(host, 2, 10);
        }

        var outcomes = new List<RequestOutcome>();
        var requests = Enumerable.Range(0, 600).Select(i => new ScheduledRequest(new Uri(hosts[i % hosts.Count], $"?i={i}")) { State = i });
        await foreach (var outcome in sut.SendAllAsync(requests))
        {
            outcomes.Add(outcome);
            if (outcomes.Count == 150)
            {
                victim.Kill();
            }
        }

        outcomes.Should().HaveCount(600);
        outcomes.Select(o => (int)o.Request!.State!).Should().OnlyHaveUniqueItems();
        outcomes.Where(o => o.Exception is not null).Should().BeEmpty("every request is retried on a live proxy");
        outcomes.Should().OnlyContain(o => o.Response!.Proxy != null, "no request was sent directly");
        var after = outcomes.Skip(300).Count(o => o.Response!.Proxy!.Id == victimProxy.Id);
        after.Should().Be(0, "traffic moved off the dead proxy");
        sut.GetSnapshot().Proxies.Single(p => p.Id == victimProxy.Id).State.Should().Be(ProxyHealthState.Quarantined);
    }

    [SkippableFact]
    public async Task FaultInjection_RefuseHangResetBadGateway_BlockAndThrottle_EveryRequestEnds()
    {
        RealServer.Require("tinyproxy");
        var good = await StartAsync(() => ExternalServer.StartTinyproxyAsync(bindAddress: "127.0.0.3"));
        var other = await StartAsync(() => ExternalServer.StartTinyproxyAsync(bindAddress: "127.0.0.4"));
        var third = await StartAsync(() => ExternalServer.StartTinyproxyAsync(bindAddress: "127.0.0.5"));
        var hang = await StartAsync(() => Task.FromResult(new FaultyProxy(ProxyFault.Hang)));
        var reset = await StartAsync(() => Task.FromResult(new FaultyProxy(ProxyFault.ResetMidBody)));
        var badGateway = await StartAsync(() => Task.FromResult(new FaultyProxy(ProxyFault.BadGateway)));
        var goodProxy = ProxyEndpoint.Parse($"127.0.0.1:{good.Port}");
        var otherProxy = ProxyEndpoint.Parse($"127.0.0.1:{other.Port}");
        var thirdProxy = ProxyEndpoint.Parse($"127.0.0.1:{third.Port}");
        var bad = new[]
        {
            ProxyEndpoint.Parse($"127.0.0.1:{FaultyProxy.RefusingPort()}"),
            ProxyEndpoint.Parse($"127.0.0.1:{hang.Port}"),
            ProxyEndpoint.Parse($"127.0.0.1:{reset.Port}"),
            ProxyEndpoint.Parse($"127.0.0.1:{badGateway.Port}"),
        };
        // Two proxies the shop does not block, not one: a request that met a transient failure of one (tinyproxy can
        // drop a reused keep-alive connection under load) does not try it again, and must not be left with proxies
        // that are all quarantined for minutes.
        var sut = CreateSut(bad.Append(goodProxy).Append(otherProxy).Append(thirdProxy), o =>
        {
            o.MaxConcurrency = 16;
            o.DefaultHost.MaxConcurrency = 4;
            o.AttemptTimeout = TimeSpan.FromSeconds(2);
            o.Retry.MaxRetries = 1;
            o.Retry.MaxProxyRetries = 6;
            // Two failures in a row, not one: a good tinyproxy may once drop a reused keep-alive connection under load,
            // and a five-minute quarantine of the only unblocked proxy would leave the shop's requests waiting.
            o.ProxyPool.QuarantineAfter = 2;
            o.ProxyPool.QuarantineBaseDelay = TimeSpan.FromMinutes(5);
            o.ProxyPool.OutageThreshold = 1.0;
        });
        var shop = Server.Hosts[20];
        var news = Server.Hosts[21];
        var throttled = Server.Hosts[22];
        var requests = Enumerable.Range(0, 120).Select(i => new ScheduledRequest(i % 2 == 0 ? new Uri(shop, "block-from/127.0.0.3") : new Uri(news, "whoami")))
            .Append(new ScheduledRequest(new Uri(throttled, "status/429?retryAfter=1")));

        var ended = new System.Collections.Concurrent.ConcurrentQueue<RequestOutcome>();
        var run = Task.Run(async () =>
        {
            await foreach (var outcome in sut.SendAllAsync(requests))
            {
                ended.Enqueue(outcome);
            }
        });
        if (await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(60))) != run)
        {
            Assert.Fail($"{ended.Count} of 121 requests ended within 60 s; proxies: {string.Join("; ", sut.GetSnapshot().Proxies.Select(p => $"{p} failures in a row {p.ConsecutiveFailures}"))}");
        }

        var outcomes = ended.ToList();
        outcomes.Should().HaveCount(121, "every request ends");
        var responses = outcomes.Select(o => o.Response).Where(r => r is not null).Select(r => r!).ToList();
        outcomes.Where(o => o.Response is null).Should().BeEmpty("two good proxies remain, and failures are retried on them");
        responses.Where(r => r.RequestUri.Port == shop.Port).Should().OnlyContain(r => r.StatusCode == HttpStatusCode.OK && (r.Proxy!.Id == otherProxy.Id || r.Proxy.Id == thirdProxy.Id),
            "the shop blocks the good proxy with 403, so its requests end through the other ones");
        responses.Where(r => r.RequestUri.Port == news.Port).Select(r => r.ReadBodyAsString()).Should().Contain("127.0.0.3", "the proxy blocked by the shop keeps serving the news site")
            .And.OnlyContain(a => a == "127.0.0.3" || a == "127.0.0.4" || a == "127.0.0.5", "nothing went out directly");
        var snapshot = sut.GetSnapshot().Proxies.ToDictionary(p => p.Id);
        foreach (var dead in bad)
        {
            var p = snapshot[dead.Id];
            p.State.Should().Be(ProxyHealthState.Quarantined,
                $"{dead} failed and was quarantined (attempts {p.Attempts}, answered {p.Answered}, proxy's {p.ProxyFailures}, pair {p.PairFailures}, host's {p.HostFailures}: {string.Join(", ", p.FailuresByKind.Select(k => $"{k.Value} {k.Key}"))})");
        }

        snapshot[goodProxy.Id].State.Should().Be(ProxyHealthState.Healthy);
        snapshot[goodProxy.Id].ConsecutiveFailures.Should().Be(0, "a block is the host's matter with this proxy, not a proxy failure");
        var throttledResponse = responses.Single(r => r.RequestUri.Port == throttled.Port);
        throttledResponse.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        throttledResponse.Class.Should().Be(ResponseClass.Throttled);
        snapshot[throttledResponse.Proxy!.Id].ConsecutiveFailures.Should().Be(0, "a 429 is never charged to a proxy");
        snapshot[throttledResponse.Proxy.Id].State.Should().Be(ProxyHealthState.Healthy);
    }

    [SkippableFact]
    public async Task RunWithCredentialedProxies_LogsMetricTagsExceptionsAndSnapshots_CarryNoSecret()
    {
        RealServer.Require("tinyproxy");
        RealServer.Require("microsocks");
        var auth = await StartAsync(() => ExternalServer.StartTinyproxyAsync("aliceUSER", "s3cretPASS", bindAddress: "127.0.0.3"));
        var socks = await StartAsync(() => ExternalServer.StartMicrosocksAsync("bobUSER", "pa55PASS", bindAddress: "127.0.0.2"));
        string[] secrets = ["aliceUSER", "s3cretPASS", "bobUSER", "pa55PASS", "carolUSER", "wr0ngPASS", "daveUSER", "d4vePASS"];
        var proxies = new[]
        {
            ProxyEndpoint.Parse($"http://aliceUSER:s3cretPASS@127.0.0.1:{auth.Port}"),
            ProxyEndpoint.Parse($"socks5://bobUSER:pa55PASS@127.0.0.1:{socks.Port}"),
            ProxyEndpoint.Parse($"http://carolUSER:wr0ngPASS@127.0.0.1:{auth.Port}"),
            ProxyEndpoint.Parse($"127.0.0.1:{FaultyProxy.RefusingPort()}:daveUSER:d4vePASS"),
        };
        var logs = new CapturingLoggerProvider();
        using var metrics = new MetricTagCapture();
        var sut = CreateSut(proxies, o =>
        {
            o.ProxyPool.QuarantineAfter = 1;
            o.ProxyPool.QuarantineBaseDelay = TimeSpan.FromMilliseconds(50);
            o.ProxyPool.RetireAfter = 1;
            o.ProxyPool.OutageThreshold = 1.0;
        }, services => services.AddLogging(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(logs)));

        var outcomes = await sut.SendAllAsync(Enumerable.Range(0, 60).Select(i => new ScheduledRequest(new Uri(Server.Hosts[25], i % 3 == 0 ? "status/502" : "whoami")))).ToListAsync();
        var failures = new List<string>();
        foreach (var proxy in proxies)
        {
            try
            {
                await sut.SendAsync(new ScheduledRequest(new Uri(Server.Hosts[25], "whoami")) { Proxy = ProxyRequirement.Parse("missing=tag") });
            }
            catch (RequestFailedException ex)
            {
                failures.Add(ex.ToString());
            }

            failures.Add(proxy.ToString());
        }

        var text = string.Join('\n', logs.Lines.Concat(metrics.Tags).Concat(failures)
            .Concat(outcomes.Select(o => o.Exception?.ToString() ?? o.Response!.ToString() + o.Response.Proxy))
            .Concat(sut.GetSnapshot().Proxies.Select(p => p.ToString() + p.Address)));

        logs.Lines.Should().Contain(l => l.Contains("quarantined", StringComparison.Ordinal), "the run did log proxy events");
        metrics.Tags.Should().Contain(t => t.StartsWith("proxy.id=px-", StringComparison.Ordinal), "the run did record metric tags by opaque id");
        foreach (var secret in secrets)
        {
            text.Should().NotContain(secret, "credentials never appear in logs, metric tags, exception messages or ToString()");
        }
    }
}
