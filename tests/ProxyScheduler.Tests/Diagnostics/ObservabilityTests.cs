using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using ProxyScheduler.Proxies;
using ProxyScheduler.Tests.TestSupport;

namespace ProxyScheduler.Tests.Diagnostics;

/// <summary>The log events, per-host gauges, snapshot fields and health check of issue 7, on fake time.</summary>
public sealed class ObservabilityTests
{
    private const string SessionKey = "customer-4711-secret-session";
    private static readonly Uri A = new("http://a.test/");
    private static readonly Uri B = new("http://b.test/");

    private static void WithFakeLogging(IProxySchedulerBuilder b) =>
        b.Services.AddLogging(l => l.SetMinimumLevel(LogLevel.Trace)).AddFakeLogging();

    private static FakeLogRecord[] Logs(IServiceProvider services, string eventName) =>
        [.. services.GetFakeLogCollector().GetSnapshot().Where(r => r.Id.Name == eventName)];

    [Fact]
    public async Task RetryAfter_PausingAHost_IsLoggedAtInformation_WithTheHostAndTheDelay()
    {
        using var sut = new TestScheduler(o => o.Retry.MaxRetries = 0, build: WithFakeLogging);
        sut.Handler.Responder = _ => FakeHandler.Response(HttpStatusCode.TooManyRequests, configure: r => r.Headers.RetryAfter = new(TimeSpan.FromSeconds(30)));

        await sut.Scheduler.SendAsync(new ScheduledRequest(new Uri(A, "page?token=abc")));

        var provider = ResolveProvider(sut);
        var paused = Logs(provider, "HostPaused").Should().ContainSingle().Subject;
        paused.Level.Should().Be(LogLevel.Information);
        paused.Message.Should().Contain("a.test:80").And.Contain("30000 ms");
        paused.Message.Should().NotContain("token", "the log names the host, not the URI");
    }

    [Fact]
    public async Task AdaptiveLimit_ABurstOf429s_IsLoggedAsOneDecrease_AndIncreasesAtDebug()
    {
        using var sut = new TestScheduler(o =>
        {
            o.Retry.MaxRetries = 0;
            o.DefaultHost.MaxConcurrency = 16;
            o.DefaultHost.Adaptive = true;
            o.DefaultHost.MaxRetryAfter = TimeSpan.Zero;
        }, build: WithFakeLogging);
        var provider = ResolveProvider(sut);

        // Grow from 2 with good answers, then answer every attempt in flight with 429.
        sut.Handler.Responder = _ => FakeHandler.Response(HttpStatusCode.OK);
        for (var i = 0; i < 6; i++)
        {
            await sut.Scheduler.SendAsync(new ScheduledRequest(new Uri(A, $"?ok={i}")));
        }

        Logs(provider, "AdaptiveLimitIncreased").Should().NotBeEmpty().And.OnlyContain(r => r.Level == LogLevel.Debug);
        var limit = sut.Scheduler.GetSnapshot().Hosts.Single().ConcurrencyLimit;
        limit.Should().BeGreaterThan(4);

        sut.Handler.Responder = null;
        var burst = Enumerable.Range(0, limit).Select(i => sut.Scheduler.SendAsync(new ScheduledRequest(new Uri(A, $"?burst={i}")))).ToList();
        await Eventually.TrueAsync(() => sut.Handler.InFlight == limit, "the whole limit is in flight");
        while (sut.Handler.TryNext(out var pending))
        {
            pending.Respond(HttpStatusCode.TooManyRequests);
        }

        await Task.WhenAll(burst);
        var decreased = Logs(provider, "AdaptiveLimitDecreased").Should().ContainSingle("a burst of 429s from attempts in flight is one signal").Subject;
        decreased.Level.Should().Be(LogLevel.Information);
        decreased.Message.Should().Contain("a.test:80").And.Contain("throttled").And.Contain($"{limit} -> {sut.Scheduler.GetSnapshot().Hosts.Single().ConcurrencyLimit}");
    }

    [Fact]
    public async Task SessionRebind_IsLogged_WithTheProxyIdAndReason_NeverTheSessionKeyOrCredentials()
    {
        var pool = new[] { ProxyEndpoint.Parse("http://alice:hunter2@10.0.1.1:8080"), ProxyEndpoint.Parse("http://bob:swordfish@10.0.2.1:8080") };
        using var sut = new ProxyTestScheduler(pool, o => o.Sessions.MaxUses = 1, b => WithFakeLogging(b));
        var provider = sut.Get<IServiceProvider>();

        var first = await sut.Scheduler.SendAsync(new ScheduledRequest(A) { SessionKey = SessionKey });
        var second = await sut.Scheduler.SendAsync(new ScheduledRequest(A) { SessionKey = SessionKey });

        second.SessionRebound.Should().BeTrue();
        var rebound = Logs(provider, "SessionRebound").Should().ContainSingle().Subject;
        rebound.Level.Should().Be(LogLevel.Debug);
        rebound.Message.Should().Contain(first.Proxy!.Id).And.Contain("binding expired");
        var everything = string.Join('\n', provider.GetFakeLogCollector().GetSnapshot().Select(r => r.Message + " " + string.Join(",", r.StructuredState ?? [])));
        everything.Should().NotContain(SessionKey).And.NotContain("hunter2").And.NotContain("swordfish").And.NotContain("alice");
    }

    [Fact]
    public async Task PerHostGauges_AreOffByDefault_AndCoverOnlyAllowListedHosts()
    {
        using (var off = new TestScheduler(build: b => b.Services.AddMetrics()))
        {
            var factory = ResolveProvider(off).GetRequiredService<IMeterFactory>();
            var published = new List<string>();
            using var listener = new MeterListener
            {
                InstrumentPublished = (i, _) =>
                {
                    if (ReferenceEquals(i.Meter.Scope, factory))
                    {
                        published.Add(i.Name);
                    }
                },
            };
            listener.Start();
            published.Should().Contain("proxyscheduler.queue.depth").And.NotContain(n => n.StartsWith("proxyscheduler.host.", StringComparison.Ordinal));
        }

        using var sut = new TestScheduler(o =>
        {
            o.PerHostMetrics.Add("a.test");
            o.DefaultHost.MaxConcurrency = 2;
        }, build: b => b.Services.AddMetrics());
        var meterFactory = ResolveProvider(sut).GetRequiredService<IMeterFactory>();
        using var inFlight = new MetricCollector<int>(meterFactory, "ProxyScheduler", "proxyscheduler.host.requests.in_flight");
        using var queued = new MetricCollector<int>(meterFactory, "ProxyScheduler", "proxyscheduler.host.queue.depth");
        using var limit = new MetricCollector<int>(meterFactory, "ProxyScheduler", "proxyscheduler.host.concurrency.limit");

        var sends = Enumerable.Range(0, 5).Select(i => sut.Scheduler.SendAsync(new ScheduledRequest(new Uri(A, $"?a={i}"))))
            .Concat(Enumerable.Range(0, 3).Select(i => sut.Scheduler.SendAsync(new ScheduledRequest(new Uri(B, $"?b={i}"))))).ToList();
        await Eventually.TrueAsync(() => sut.Handler.InFlight == 4, "two per host in flight");

        inFlight.RecordObservableInstruments();
        queued.RecordObservableInstruments();
        limit.RecordObservableInstruments();
        var inFlightNow = inFlight.GetMeasurementSnapshot().Should().ContainSingle("b.test is not on the allow-list").Subject;
        inFlightNow.Value.Should().Be(2);
        inFlightNow.Tags["server.address"].Should().Be("a.test");
        inFlightNow.Tags["server.port"].Should().Be(80);
        queued.GetMeasurementSnapshot().Should().ContainSingle().Which.Value.Should().Be(3);
        limit.GetMeasurementSnapshot().Should().ContainSingle().Which.Value.Should().Be(2);

        while (sends.Any(s => !s.IsCompleted))
        {
            while (sut.Handler.TryNext(out var pending))
            {
                pending.Respond(HttpStatusCode.OK);
            }

            await Task.Yield();
        }

        await Task.WhenAll(sends);
    }

    [Fact]
    public async Task ProxyInstruments_MoveInAScriptedRun_QuarantinesBlocksRebindsAndStates()
    {
        var pool = Enumerable.Range(1, 3).Select(i => ProxyEndpoint.Parse($"http://u{i}:pw{i}@10.0.{i}.1:8080")).ToArray();
        using var sut = new ProxyTestScheduler(pool, o =>
        {
            o.ProxyPool.QuarantineAfter = 1;
            o.ProxyPool.Selector = "RoundRobin"; // every proxy gets its turn with each host: no run without a block
            o.Sessions.MaxUses = 1;
            o.Retry.MaxRetries = 0;
        }, b => b.Services.AddMetrics());
        var factory = sut.Get<IMeterFactory>();
        using var quarantines = new MetricCollector<long>(factory, "ProxyScheduler", "proxyscheduler.proxy.quarantines");
        using var changes = new MetricCollector<long>(factory, "ProxyScheduler", "proxyscheduler.proxy.state_changes");
        using var blocks = new MetricCollector<long>(factory, "ProxyScheduler", "proxyscheduler.proxy.blocks");
        using var rebinds = new MetricCollector<long>(factory, "ProxyScheduler", "proxyscheduler.session.rebinds");
        using var states = new MetricCollector<int>(factory, "ProxyScheduler", "proxyscheduler.proxies");
        var ids = sut.Scheduler.GetSnapshot().Proxies.Select(p => p.Id).ToArray();
        var (dead, blocked) = (ids[0], ids[1]);
        sut.Behavior = (id, request) =>
            id == dead ? Task.FromException<HttpResponseMessage>(new HttpRequestException(HttpRequestError.ConnectionError, "refused (fake)"))
            : id == blocked && request.RequestUri!.Host == "b.test" ? Task.FromResult(FakeHandler.Response(HttpStatusCode.Forbidden))
            : Task.FromResult(FakeHandler.Response(HttpStatusCode.OK));

        // Each proxy gets a request to each host (round robin over A, B, B); then one session sends twice (MaxUses 1: one rebind).
        for (var i = 0; i < 12; i++)
        {
            await sut.Scheduler.SendAsync(new ScheduledRequest(new Uri(i % 3 == 0 ? A : B, $"?i={i}")));
        }

        await sut.Scheduler.SendAsync(new ScheduledRequest(A) { SessionKey = SessionKey });
        await sut.Scheduler.SendAsync(new ScheduledRequest(A) { SessionKey = SessionKey });
        states.RecordObservableInstruments();

        quarantines.GetMeasurementSnapshot().Should().ContainSingle().Which.Tags["proxy.id"].Should().Be(dead);
        changes.GetMeasurementSnapshot().Should().Contain(m => Equals(m.Tags["proxy.id"], dead) && Equals(m.Tags["state"], "quarantined"));
        blocks.GetMeasurementSnapshot().Should().NotBeEmpty().And.OnlyContain(m => Equals(m.Tags["proxy.id"], blocked));
        rebinds.GetMeasurementSnapshot().Sum(m => m.Value).Should().Be(1);
        var byState = states.GetMeasurementSnapshot().ToDictionary(m => (string)m.Tags["state"]!, m => m.Value);
        byState["quarantined"].Should().Be(1);
        byState["healthy"].Should().Be(2);
        var tags = quarantines.GetMeasurementSnapshot().Concat(changes.GetMeasurementSnapshot()).Concat(blocks.GetMeasurementSnapshot())
            .SelectMany(m => m.Tags.Values).Select(v => v?.ToString() ?? string.Empty);
        tags.Should().NotContain(v => v.Contains("pw", StringComparison.Ordinal) || v.Contains("10.0.", StringComparison.Ordinal) || v.Contains(SessionKey, StringComparison.Ordinal));
    }

    [Fact]
    public void PerHostMetrics_WithABadPattern_FailsAtStartUp_NamingTheEntry()
    {
        var services = new ServiceCollection();
        services.AddProxyScheduler(o => o.PerHostMetrics.Add("https://a.test/path"));
        using var provider = services.BuildServiceProvider();

        var act = () => provider.GetRequiredService<IRequestScheduler>();

        act.Should().Throw<Microsoft.Extensions.Options.OptionsValidationException>().WithMessage("*PerHostMetrics:0*not a valid host pattern*");
    }

    [Fact]
    public async Task Snapshot_CountsSessions_AndScoresProxies()
    {
        var pool = new[] { ProxyEndpoint.Parse("http://10.0.1.1:8080"), ProxyEndpoint.Parse("http://10.0.2.1:8080") };
        using var sut = new ProxyTestScheduler(pool, o => o.ProxyPool.QuarantineAfter = 1);
        var bad = sut.Scheduler.GetSnapshot().Proxies[0].Id;
        sut.Behavior = (id, _) => id == bad
            ? Task.FromException<HttpResponseMessage>(new HttpRequestException(HttpRequestError.ConnectionError, "refused (fake)"))
            : Task.FromResult(FakeHandler.Response(HttpStatusCode.OK));

        for (var i = 0; i < 6; i++)
        {
            await sut.Scheduler.SendAsync(new ScheduledRequest(new Uri(A, $"?i={i}")) { SessionKey = $"s{i % 3}" });
        }

        // Until the pool has tried the bad proxy (its first failure quarantines it; the request goes on through the other).
        for (var i = 0; i < 50 && sut.Proxy(bad).State != ProxyHealthState.Quarantined; i++)
        {
            await sut.Scheduler.SendAsync(new ScheduledRequest(new Uri(A, $"?more={i}")));
        }

        var snapshot = sut.Scheduler.GetSnapshot();
        snapshot.Sessions.Should().Be(3);
        snapshot.Proxies.Single(p => p.Id != bad).Score.Should().BeGreaterThan(0.5).And.BeLessThanOrEqualTo(1);
        snapshot.Proxies.Single(p => p.Id == bad).Should().Match<ProxySnapshot>(p => p.State == ProxyHealthState.Quarantined && p.Score == 0, "a quarantined proxy scores 0");
    }

    [Fact]
    public async Task HealthCheck_IsHealthy_ThenDegraded_ThenUnhealthy_AsProxiesFail()
    {
        var pool = Enumerable.Range(1, 4).Select(i => ProxyEndpoint.Parse($"http://u{i}:pw{i}@10.0.{i}.1:8080")).ToArray();
        using var sut = new ProxyTestScheduler(pool, o =>
        {
            o.ProxyPool.QuarantineAfter = 1;
            o.ProxyPool.WhenUnavailable = ProxyUnavailableBehavior.FailFast;
            o.Retry.MaxRetries = 0;
        }, b => b.AddHealthCheck(configure: h => h.DegradedBelow = 0.75));
        var health = sut.Get<HealthCheckService>();
        var ids = sut.Scheduler.GetSnapshot().Proxies.Select(p => p.Id).ToList();
        var dead = new HashSet<string>();
        sut.Behavior = (id, _) => dead.Contains(id)
            ? Task.FromException<HttpResponseMessage>(new HttpRequestException(HttpRequestError.ConnectionError, "refused (fake)"))
            : Task.FromResult(FakeHandler.Response(HttpStatusCode.OK));

        (await health.CheckHealthAsync()).Status.Should().Be(HealthStatus.Healthy);

        async Task KillAsync(int count)
        {
            dead.UnionWith(ids.Take(count));
            for (var i = 0; i < 40 && sut.Scheduler.GetSnapshot().Proxies.Count(p => p.State == ProxyHealthState.Quarantined) < count; i++)
            {
                try
                {
                    await sut.Scheduler.SendAsync(new ScheduledRequest(new Uri(A, $"?k={count}-{i}")));
                }
                catch (RequestFailedException)
                {
                    // Every proxy tried failed: what this test is after.
                }
            }
        }

        await KillAsync(2);
        var degraded = await health.CheckHealthAsync();
        degraded.Status.Should().Be(HealthStatus.Degraded, "2 of 4 healthy is below 75 %");
        var entry = degraded.Entries["proxyscheduler"];
        entry.Description.Should().Contain("2 of 4 proxies healthy");
        entry.Data["proxies.quarantined"].Should().Be(2);

        await KillAsync(4);
        var unhealthy = await health.CheckHealthAsync();
        unhealthy.Status.Should().Be(HealthStatus.Unhealthy, "no proxy can serve");
        var text = string.Join('\n', unhealthy.Entries.Values.Select(e => e.Description + string.Join(",", e.Data)));
        text.Should().NotContain("pw1").And.NotContain("10.0.1.1", "the check reports counts, not addresses");
    }

    [Fact]
    public async Task HealthCheck_WithoutProxies_IsHealthy_AndBadThresholdsFailAtRegistration()
    {
        using var sut = new TestScheduler(build: b => b.AddHealthCheck());
        var result = await ResolveProvider(sut).GetRequiredService<HealthCheckService>().CheckHealthAsync();
        result.Status.Should().Be(HealthStatus.Healthy);
        result.Entries["proxyscheduler"].Description.Should().Contain("No proxy pool");

        var act = () => new ServiceCollection().AddProxyScheduler().AddHealthCheck(configure: h => h.DegradedBelow = 1.5);
        act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*DegradedBelow*'proxyscheduler'*between 0 and 1*");
    }

    private static IServiceProvider ResolveProvider(TestScheduler sut) => sut.Services;
}
