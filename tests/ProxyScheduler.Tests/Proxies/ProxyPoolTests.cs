using System.Net;
using ProxyScheduler.Classification;
using ProxyScheduler.Proxies;
using ProxyScheduler.Tests.TestSupport;

namespace ProxyScheduler.Tests.Proxies;

public sealed class ProxyPoolTests
{
    private static readonly ProxyEndpoint P1 = ProxyEndpoint.Parse("http://10.0.1.1:8080");
    private static readonly ProxyEndpoint P2 = ProxyEndpoint.Parse("http://10.0.2.1:8080");
    private static readonly ProxyEndpoint P3 = ProxyEndpoint.Parse("http://10.0.3.1:8080");

    private static ProxyTestScheduler CreateSut(IEnumerable<ProxyEndpoint>? proxies = null, Action<ProxySchedulerOptions>? configure = null) =>
        new(proxies ?? [P1, P2, P3], configure);

    private static Task<HttpResponseMessage> Refused() =>
        Task.FromException<HttpResponseMessage>(new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused (fake)"));

    [Fact]
    public async Task SendAsync_WithProxies_GoesThroughAProxyAndReportsIt()
    {
        using var sut = CreateSut();

        var response = await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"));

        response.Proxy.Should().NotBeNull();
        response.ProxiesTried.Should().Equal(response.Proxy!.Id);
        response.Class.Should().Be(ResponseClass.Success);
        sut.Direct.Count.Should().Be(0, "a proxied request never goes out directly");
        sut.Sent.Should().ContainSingle().Which.ProxyId.Should().Be(response.Proxy.Id);
    }

    [Fact]
    public async Task SendAsync_DirectRequirement_GoesDirectOnly()
    {
        using var sut = CreateSut();

        var response = await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { Proxy = ProxyRequirement.Direct });

        response.Proxy.Should().BeNull();
        sut.Direct.Count.Should().Be(1);
        sut.Sent.Should().BeEmpty();
    }

    [Fact]
    public async Task SendAsync_TagRequirement_UsesOnlyMatchingProxies_AndAnUnmetOneFailsAtOnce()
    {
        var de = new ProxyEndpoint(ProxyScheme.Http, "10.0.9.1", 8080) { Tags = new Dictionary<string, string> { ["country"] = "DE" } };
        using var sut = CreateSut([P1, P2, de]);

        for (var i = 0; i < 20; i++)
        {
            var response = await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { Proxy = ProxyRequirement.WithTag("country", "de") });
            response.Proxy!.Id.Should().Be(de.Id);
        }

        var failure = await FluentActions.Awaiting(() => sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { Proxy = ProxyRequirement.Parse("country=fr") }))
            .Should().ThrowAsync<RequestFailedException>();
        failure.Which.Reason.Should().Be(RequestFailureReason.NoMatchingProxy);
        failure.Which.Message.Should().Contain("country=fr");
        sut.Direct.Count.Should().Be(0);
    }

    [Fact]
    public async Task SendAsync_ProxyFailure_RetriedAtOnceOnADifferentProxy()
    {
        using var sut = CreateSut();
        sut.Behavior = (id, _) => id == P1.Id || id == P2.Id ? Refused() : Task.FromResult(FakeHandler.Response(HttpStatusCode.OK));

        for (var i = 0; i < 10; i++)
        {
            var response = await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"));
            response.Proxy!.Id.Should().Be(P3.Id);
            response.ProxiesTried.Should().OnlyHaveUniqueItems("a retry never goes back to a proxy that failed the request");
            response.ProxiesTried[^1].Should().Be(P3.Id);
        }
    }

    [Fact]
    public async Task SendAsync_EveryProxyRefuses_TriesEachOnce_TheSameProxyWouldFailTheSameWay()
    {
        using var sut = CreateSut(configure: o => o.ProxyPool.QuarantineAfter = 100);
        sut.Behavior = (_, _) => Refused();

        var failure = await FluentActions.Awaiting(() => sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/")))
            .Should().ThrowAsync<RequestFailedException>();

        failure.Which.Reason.Should().Be(RequestFailureReason.ProxyFailure);
        failure.Which.Message.Should().Contain("ConnectionError");
        failure.Which.ProxiesTried.Should().BeEquivalentTo([P1.Id, P2.Id, P3.Id], "a proxy's own failure (refused) is retried on untried proxies only");
        sut.Direct.Count.Should().Be(0, "no failure ever sends proxied traffic directly");
    }

    // "Transient errors through proxies get one attempt per proxy" (issue 16): a reset at the target is retried up to
    // Retry:MaxRetries, on untried proxies first, then on the least recently failed one.
    [Fact]
    public async Task TransientErrorsThroughProxiesGetOneAttemptPerProxy_NoLonger_ResetsUseRetryMaxRetries()
    {
        using var sut = CreateSut(configure: o =>
        {
            o.Retry.MaxRetries = 4;
            o.HostHealth.FailureThreshold = 0; // the retries alone, not the host circuit
        });
        var attempts = 0;
        sut.Behavior = (_, _) => Interlocked.Increment(ref attempts) <= 4
            ? throw new HttpRequestException(HttpRequestError.ResponseEnded, "The response ended prematurely.")
            : Task.FromResult(FakeHandler.Response(HttpStatusCode.OK));

        var response = await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"));

        response.StatusCode.Should().Be(HttpStatusCode.OK, "the fifth attempt (the fourth retry) succeeds");
        response.Attempts.Should().Be(5);
        var tried = response.ProxiesTried;
        tried.Take(3).Should().BeEquivalentTo([P1.Id, P2.Id, P3.Id], "untried proxies come first");
        tried.Skip(3).Should().Equal(tried.Take(2), "then the least recently failed ones serve again");
    }

    [Fact]
    public async Task ProxyFailures_QuarantineAfterThreshold_ThenOneProbeAfterBackoffReanimates()
    {
        using var sut = CreateSut([P1, P2], o =>
        {
            o.ProxyPool.Selector = "RoundRobin"; // P2C would rightly avoid P1 after its first failure
            o.ProxyPool.QuarantineAfter = 2;
            o.ProxyPool.QuarantineBaseDelay = TimeSpan.FromSeconds(10);
        });
        var p1Down = true;
        sut.Behavior = (id, _) => id == P1.Id && p1Down ? Refused() : Task.FromResult(FakeHandler.Response(HttpStatusCode.OK));

        for (var i = 0; i < 30 && sut.Proxy(P1.Id).State == ProxyHealthState.Healthy; i++)
        {
            (await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"))).Proxy!.Id.Should().Be(P2.Id);
        }

        var quarantined = sut.Proxy(P1.Id);
        quarantined.State.Should().Be(ProxyHealthState.Quarantined);
        quarantined.ReanimationAt.Should().BeOnOrAfter(sut.Time.GetUtcNow() + TimeSpan.FromSeconds(8)).And.BeOnOrBefore(sut.Time.GetUtcNow() + TimeSpan.FromSeconds(12));
        var sentToP1 = sut.SentThrough(P1.Id);

        for (var i = 0; i < 20; i++)
        {
            await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"));
        }

        sut.SentThrough(P1.Id).Should().Be(sentToP1, "a quarantined proxy gets no traffic before its reanimation time");

        p1Down = false;
        sut.Time.Advance(TimeSpan.FromSeconds(13));
        var probe = await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"));

        probe.Proxy!.Id.Should().Be(P1.Id, "the first attempt after the backoff is the quarantined proxy's probe");
        sut.Proxy(P1.Id).State.Should().Be(ProxyHealthState.Healthy);
        sut.Proxy(P1.Id).Quarantines.Should().Be(0);
    }

    [Fact]
    public async Task FailedProbes_DoubleTheQuarantine_ThenRetire_WithAnEvent()
    {
        var events = new List<ProxyStateChangedArguments>();
        using var sut = CreateSut([P1, P2], o =>
        {
            o.ProxyPool.QuarantineAfter = 1;
            o.ProxyPool.RetireAfter = 3;
            o.ProxyPool.QuarantineBaseDelay = TimeSpan.FromSeconds(10);
            o.ProxyPool.OnProxyStateChanged = a =>
            {
                lock (events)
                {
                    events.Add(a);
                }

                return default;
            };
        });
        sut.Behavior = (id, _) => id == P1.Id ? Refused() : Task.FromResult(FakeHandler.Response(HttpStatusCode.OK));

        while (sut.Proxy(P1.Id).State == ProxyHealthState.Healthy)
        {
            await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"));
        }

        var delays = new List<TimeSpan>();
        for (var round = 0; round < 10 && sut.Proxy(P1.Id).State == ProxyHealthState.Quarantined; round++)
        {
            var snapshot = sut.Proxy(P1.Id);
            delays.Add(snapshot.ReanimationAt!.Value - sut.Time.GetUtcNow());
            sut.Time.Advance(delays[^1] + TimeSpan.FromMilliseconds(1));
            var sent = sut.SentThrough(P1.Id);
            await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"));
            sut.SentThrough(P1.Id).Should().Be(sent + 1, "exactly one probe goes to the proxy after each backoff");
        }

        sut.Proxy(P1.Id).State.Should().Be(ProxyHealthState.Retired);
        delays.Should().HaveCount(3);
        delays[1].Should().BeGreaterThan(delays[0] * 1.3, "each quarantine in a row doubles (±20 % jitter)");
        delays[2].Should().BeGreaterThan(delays[1] * 1.3);
        await Eventually.TrueAsync(() => { lock (events) { return events.Any(e => e.Current == ProxyHealthState.Retired && e.ProxyId == P1.Id); } }, "a retirement raises the event");

        var before = sut.SentThrough(P1.Id);
        sut.Time.Advance(TimeSpan.FromHours(1));
        for (var i = 0; i < 10; i++)
        {
            await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"));
        }

        sut.SentThrough(P1.Id).Should().Be(before, "a retired proxy takes no traffic");
    }

    [Fact]
    public async Task Blocked_ByOneHost_KeepsServingOthers_AndIsRetestedAfterTheBlockDecays()
    {
        using var sut = CreateSut([P1, P2], o => o.ProxyPool.BlockBaseDuration = TimeSpan.FromMinutes(1));
        sut.Behavior = (id, request) => Task.FromResult(id == P1.Id && request.RequestUri!.Host == "shop.test"
            ? FakeHandler.Response(HttpStatusCode.Forbidden, "blocked")
            : FakeHandler.Response(HttpStatusCode.OK));

        for (var i = 0; i < 20; i++)
        {
            (await sut.Scheduler.SendAsync(new ScheduledRequest("http://shop.test/"))).StatusCode.Should().Be(HttpStatusCode.OK);
        }

        var blocks = sut.Sent.Count(s => s.ProxyId == P1.Id && s.Uri.Host == "shop.test");
        blocks.Should().Be(1, "after its block, P1 gets no more attempts to that host");
        for (var i = 0; i < 40; i++)
        {
            await sut.Scheduler.SendAsync(new ScheduledRequest("http://news.test/"));
        }

        sut.Sent.Count(s => s.ProxyId == P1.Id && s.Uri.Host == "news.test").Should().BePositive("a proxy blocked by one host keeps serving the others");
        sut.Proxy(P1.Id).State.Should().Be(ProxyHealthState.Healthy);
        sut.Proxy(P1.Id).ConsecutiveFailures.Should().Be(0, "a block is not a proxy failure");

        sut.Time.Advance(TimeSpan.FromMinutes(2));
        sut.Behavior = (_, _) => Task.FromResult(FakeHandler.Response(HttpStatusCode.OK));
        for (var i = 0; i < 40; i++)
        {
            await sut.Scheduler.SendAsync(new ScheduledRequest("http://shop.test/"));
        }

        sut.Sent.Count(s => s.ProxyId == P1.Id && s.Uri.Host == "shop.test").Should().BeGreaterThan(blocks, "the block decays and the proxy is tested on that host again");
    }

    [Fact]
    public async Task Throttled_429_IsNeverChargedToTheProxy()
    {
        using var sut = CreateSut([P1], o =>
        {
            o.Retry.MaxRetries = 2;
            o.ProxyPool.QuarantineAfter = 1;
        });
        var calls = 0;
        sut.Behavior = (_, _) => Task.FromResult(Interlocked.Increment(ref calls) <= 2
            ? FakeHandler.Response(HttpStatusCode.TooManyRequests, "slow down", r => r.Headers.RetryAfter = new(TimeSpan.FromSeconds(5)))
            : FakeHandler.Response(HttpStatusCode.OK));

        var send = sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"));
        await Eventually.TrueAsync(() => Volatile.Read(ref calls) == 1, "the first attempt is made");
        for (var i = 0; i < 50 && !send.IsCompleted; i++)
        {
            sut.Time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(5);
        }

        var response = await send.WaitAsync(TimeSpan.FromSeconds(5));
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Attempts.Should().Be(3);
        var proxy = sut.Proxy(P1.Id);
        proxy.State.Should().Be(ProxyHealthState.Healthy);
        proxy.ConsecutiveFailures.Should().Be(0);
        proxy.SuccessRate.Should().Be(1.0);
    }

    [Fact]
    public async Task PerProxyLimit_And_HostLimit_HoldTogether()
    {
        var a = new ProxyEndpoint(ProxyScheme.Http, "10.0.1.1", 8080) { MaxConcurrency = 2 };
        var b = new ProxyEndpoint(ProxyScheme.Http, "10.0.2.1", 8080) { MaxConcurrency = 3 };
        using var sut = CreateSut([a, b], o =>
        {
            o.MaxConcurrency = 100;
            o.DefaultHost.MaxConcurrency = 4;
        });
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        sut.Behavior = async (_, _) =>
        {
            await gate.Task;
            return FakeHandler.Response(HttpStatusCode.OK);
        };
        var requests = Enumerable.Range(0, 40).Select(i => new ScheduledRequest($"http://h{i % 4}.test/{i}"));

        var run = Task.Run(async () =>
        {
            var n = 0;
            await foreach (var outcome in sut.Scheduler.SendAllAsync(requests))
            {
                outcome.Response.Should().NotBeNull();
                n++;
            }

            return n;
        });
        await Eventually.TrueAsync(() => sut.Sent.Count == 5, "both proxies fill up to their limits (2 + 3)");
        await Eventually.StaysFalseAsync(() => sut.Sent.Count > 5, "no proxy goes over its limit, whatever the hosts allow");
        gate.SetResult();

        (await run.WaitAsync(TimeSpan.FromSeconds(10))).Should().Be(40);
        sut.MaxInFlightOfProxy(a.Id).Should().BeLessThanOrEqualTo(2);
        sut.MaxInFlightOfProxy(b.Id).Should().BeLessThanOrEqualTo(3);
    }

    [Fact]
    public async Task PerProxyMinDelay_SpacesStartsOnFakeTime()
    {
        var slow = new ProxyEndpoint(ProxyScheme.Http, "10.0.1.1", 8080) { MinDelay = TimeSpan.FromSeconds(2) };
        using var sut = CreateSut([slow]);

        var first = await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"));
        var second = sut.Scheduler.SendAsync(new ScheduledRequest("http://b.test/"));
        await Eventually.TrueAsync(() => sut.Scheduler.GetSnapshot().Queued == 1, "the proxy's delay holds the second start");
        second.IsCompleted.Should().BeFalse();
        sut.Time.Advance(TimeSpan.FromSeconds(2));

        (await second.WaitAsync(TimeSpan.FromSeconds(5))).StatusCode.Should().Be(HttpStatusCode.OK);
        first.Proxy!.Id.Should().Be(slow.Id);
    }

    [Fact]
    public async Task HostWaitingForABusyProxy_NeverHoldsUpOtherHosts()
    {
        var only = new ProxyEndpoint(ProxyScheme.Http, "10.0.1.1", 8080) { MaxConcurrency = 1, Tags = new Dictionary<string, string> { ["pool"] = "small" } };
        using var sut = CreateSut([only, P2]);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        sut.Behavior = async (id, _) =>
        {
            if (id == only.Id)
            {
                await gate.Task;
            }

            return FakeHandler.Response(HttpStatusCode.OK);
        };

        var holder = sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/1") { Proxy = ProxyRequirement.WithTag("pool", "small") });
        var waiting = sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/2") { Proxy = ProxyRequirement.WithTag("pool", "small") });
        await Eventually.TrueAsync(() => sut.Sent.Count == 1, "the small pool's only proxy is busy");

        for (var i = 0; i < 10; i++)
        {
            (await sut.Scheduler.SendAsync(new ScheduledRequest($"http://b.test/{i}")).WaitAsync(TimeSpan.FromSeconds(5))).Proxy!.Id.Should().Be(P2.Id);
            (await sut.Scheduler.SendAsync(new ScheduledRequest($"http://a.test/any{i}")).WaitAsync(TimeSpan.FromSeconds(5))).StatusCode.Should().Be(HttpStatusCode.OK);
        }

        waiting.IsCompleted.Should().BeFalse();
        gate.SetResult();
        await Task.WhenAll(holder, waiting).WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task AllQuarantined_FailFast_FailsAtOnceWithoutBurningRetries()
    {
        using var sut = CreateSut([P1], o =>
        {
            o.ProxyPool.QuarantineAfter = 1;
            o.ProxyPool.WhenUnavailable = ProxyUnavailableBehavior.FailFast;
        });
        sut.Behavior = (_, _) => Refused();
        await FluentActions.Awaiting(() => sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"))).Should().ThrowAsync<RequestFailedException>();
        sut.Proxy(P1.Id).State.Should().Be(ProxyHealthState.Quarantined);
        var sent = sut.Sent.Count;

        var failure = await FluentActions.Awaiting(() => sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/")))
            .Should().ThrowAsync<RequestFailedException>();

        failure.Which.Reason.Should().Be(RequestFailureReason.ProxiesUnavailable);
        failure.Which.Message.Should().Contain("quarantined");
        sut.Sent.Count.Should().Be(sent);
    }

    [Fact]
    public async Task AllQuarantined_Wait_IsBoundedByTheDeadline()
    {
        using var sut = CreateSut([P1], o => o.ProxyPool.QuarantineAfter = 1);
        sut.Behavior = (_, _) => Refused();
        await FluentActions.Awaiting(() => sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"))).Should().ThrowAsync<RequestFailedException>();

        var waiting = sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { Deadline = TimeSpan.FromSeconds(5) });
        await Eventually.TrueAsync(() => sut.Scheduler.GetSnapshot().Queued == 1, "it waits for a proxy in its host queue");
        sut.Time.Advance(TimeSpan.FromSeconds(6));

        var failure = await FluentActions.Awaiting(() => waiting.WaitAsync(TimeSpan.FromSeconds(5))).Should().ThrowAsync<RequestFailedException>();
        failure.Which.Reason.Should().Be(RequestFailureReason.DeadlineExceeded);
    }

    [Fact]
    public async Task AllQuarantined_BatchItemWithDeadline_EndsWithDeadlineExceeded()
    {
        using var sut = CreateSut([P1], o => o.ProxyPool.QuarantineAfter = 1);
        sut.Behavior = (_, _) => Refused();
        await FluentActions.Awaiting(() => sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"))).Should().ThrowAsync<RequestFailedException>();

        var run = Task.Run(async () =>
        {
            var outcomes = new List<RequestOutcome>();
            await foreach (var outcome in sut.Scheduler.SendAllAsync([new ScheduledRequest("http://a.test/") { Deadline = TimeSpan.FromSeconds(5) }]))
            {
                outcomes.Add(outcome);
            }

            return outcomes;
        });
        await Eventually.TrueAsync(() => sut.Scheduler.GetSnapshot().Queued == 1, "the batch item waits for a proxy in its host queue");
        sut.Time.Advance(TimeSpan.FromSeconds(6));

        var outcome = (await run.WaitAsync(TimeSpan.FromSeconds(5))).Should().ContainSingle().Subject;
        outcome.Exception.Should().BeOfType<RequestFailedException>().Which.Reason.Should().Be(RequestFailureReason.DeadlineExceeded);
    }

    [Fact]
    public async Task DeadlinesOfManyQueuedBatchItems_AllEnd_NotOnlyTheFirstLookahead()
    {
        // Regression (issue 3, found by a soak run): when the first waiters of a host failed their deadline, the host
        // parked without a timer and the waiters behind them never ended.
        using var sut = CreateSut([P1]);
        sut.Behavior = (_, _) => Task.FromResult(FakeHandler.Response(HttpStatusCode.Forbidden, "blocked"));
        (await sut.Scheduler.SendAsync(new ScheduledRequest("http://shop.test/"))).StatusCode.Should().Be(HttpStatusCode.Forbidden);

        var run = Task.Run(async () =>
        {
            var outcomes = new List<RequestOutcome>();
            await foreach (var outcome in sut.Scheduler.SendAllAsync(Enumerable.Range(0, 60).Select(i => new ScheduledRequest($"http://shop.test/{i}") { Deadline = TimeSpan.FromSeconds(5) })))
            {
                outcomes.Add(outcome);
            }

            return outcomes;
        });
        await Eventually.TrueAsync(() => sut.Scheduler.GetSnapshot().Queued == 60, "every item waits: the only proxy is blocked by the host for 5 minutes");
        sut.Time.Advance(TimeSpan.FromSeconds(6));

        var outcomes = await run.WaitAsync(TimeSpan.FromSeconds(10));
        outcomes.Should().HaveCount(60).And.OnlyContain(o => o.Exception is RequestFailedException && ((RequestFailedException)o.Exception).Reason == RequestFailureReason.DeadlineExceeded);
    }

    [Fact]
    public async Task ProviderWideOutage_PausesInsteadOfRetiringThePool()
    {
        var proxies = Enumerable.Range(1, 5).Select(i => ProxyEndpoint.Parse($"http://10.0.{i}.1:8080")).ToList();
        using var sut = CreateSut(proxies, o =>
        {
            o.ProxyPool.QuarantineAfter = 1;
            o.ProxyPool.RetireAfter = 1;
            o.ProxyPool.OutageThreshold = 0.8;
            o.ProxyPool.QuarantineBaseDelay = TimeSpan.FromSeconds(1);
            o.ProxyPool.QuarantineMaxDelay = TimeSpan.FromSeconds(4);
            o.ProxyPool.WhenUnavailable = ProxyUnavailableBehavior.FailFast;
        });
        sut.Behavior = (_, _) => Refused();

        for (var round = 0; round < 12; round++)
        {
            try
            {
                await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"));
            }
            catch (RequestFailedException)
            {
            }

            sut.Time.Advance(TimeSpan.FromSeconds(5));
        }

        var states = sut.Scheduler.GetSnapshot().Proxies.Select(p => p.State).ToList();
        states.Count(s => s == ProxyHealthState.Retired).Should().BeLessThanOrEqualTo(1, "retirement is suspended while most proxies fail at once");
        states.Count(s => s == ProxyHealthState.Quarantined).Should().BeGreaterThanOrEqualTo(4);

        sut.Behavior = (_, _) => Task.FromResult(FakeHandler.Response(HttpStatusCode.OK));
        sut.Time.Advance(TimeSpan.FromSeconds(5));
        for (var i = 0; i < 10; i++)
        {
            await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"));
        }

        sut.Scheduler.GetSnapshot().Proxies.Count(p => p.State == ProxyHealthState.Healthy).Should().BeGreaterThanOrEqualTo(4, "probes bring the pool back when the provider recovers");
    }

    [Fact]
    public async Task Spread_NoSubnetTakesMoreThanItsShareOfAHostWhileOthersAreFree()
    {
        var proxies = new[] { "10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.2.1", "10.0.3.1" }.Select(h => new ProxyEndpoint(ProxyScheme.Http, h, 8080)).ToList();
        using var sut = CreateSut(proxies, o =>
        {
            o.DefaultHost.MaxConcurrency = 4;
            o.ProxyPool.MaxGroupShare = 0.5;
        });
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        sut.Behavior = async (_, _) =>
        {
            await gate.Task;
            return FakeHandler.Response(HttpStatusCode.OK);
        };

        var sends = Enumerable.Range(0, 4).Select(i => sut.Scheduler.SendAsync(new ScheduledRequest($"http://a.test/{i}"))).ToList();
        await Eventually.TrueAsync(() => sut.Sent.Count == 4, "the host's four slots fill");

        var subnet1 = proxies.Take(4).Select(p => p.Id).ToHashSet();
        sut.Sent.Count(s => subnet1.Contains(s.ProxyId)).Should().BeLessThanOrEqualTo(2, "10.0.1.0/24 may carry at most half of the host's attempts while other subnets are free");
        gate.SetResult();
        await Task.WhenAll(sends).WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Theory]
    [InlineData("PowerOfTwoChoices")]
    [InlineData("RoundRobin")]
    [InlineData("LeastInFlight")]
    [InlineData("Random")]
    public async Task Selectors_SpreadLoadOverHealthyProxies(string selector)
    {
        var proxies = Enumerable.Range(1, 8).Select(i => ProxyEndpoint.Parse($"http://10.0.{i}.1:8080")).ToList();
        using var sut = CreateSut(proxies, o =>
        {
            o.ProxyPool.Selector = selector;
            o.DefaultHost.MaxConcurrency = 100;
            o.MaxConcurrency = 100;
        });
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        sut.Behavior = async (_, _) =>
        {
            await gate.Task;
            return FakeHandler.Response(HttpStatusCode.OK);
        };

        var sends = Enumerable.Range(0, 80).Select(i => sut.Scheduler.SendAsync(new ScheduledRequest($"http://h{i % 20}.test/{i}"))).ToList();
        await Eventually.TrueAsync(() => sut.Sent.Count == 80, "every request is in flight");
        gate.SetResult();
        await Task.WhenAll(sends).WaitAsync(TimeSpan.FromSeconds(5));

        var perProxy = proxies.Select(p => sut.SentThrough(p.Id)).ToList();
        perProxy.Should().OnlyContain(n => n >= 3, $"{selector} spreads 80 concurrent attempts over 8 proxies (got {string.Join(",", perProxy)})");
    }

    [Fact]
    public void UnknownSelector_FailsAtStartWithTheNames() =>
        new Action(() => new ProxyTestScheduler([P1], o => o.ProxyPool.Selector = "Fastest").Dispose()).Should().Throw<InvalidOperationException>()
            .WithMessage("*ProxyPool:Selector*'Fastest'*PowerOfTwoChoices*");
}
