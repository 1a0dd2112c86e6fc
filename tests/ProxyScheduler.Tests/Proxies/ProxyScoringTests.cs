using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using ProxyScheduler.Classification;
using ProxyScheduler.Diagnostics.Internal;
using ProxyScheduler.Dispatch;
using ProxyScheduler.Politeness.Internal;
using ProxyScheduler.Proxies;
using ProxyScheduler.Proxies.Internal;
using ProxyScheduler.Tests.TestSupport;

namespace ProxyScheduler.Tests.Proxies;

/// <summary>The pool's scores on fake time, and custom selection strategies.</summary>
public sealed class ProxyScoringTests : IDisposable
{
    private static readonly ProxyEndpoint P1 = ProxyEndpoint.Parse("http://10.0.1.1:8080");
    private static readonly ProxyEndpoint P2 = ProxyEndpoint.Parse("http://10.0.2.1:8080");
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly SchedulerMetrics _metrics = new(null);

    public void Dispose() => _metrics.Dispose();

    private ProxyPool CreateSut(ProxyPoolOptions options, params ProxyEndpoint[] proxies)
    {
        var pool = new ProxyPool(options, new PowerOfTwoChoicesSelector(), _time, new ProxyIdentityRegistry(new OptionsCache<HttpClientFactoryOptions>()), NullLogger.Instance, _metrics);
        pool.Update(proxies);
        return pool;
    }

    private static HostState Host(string name) => new(new HostKey(name, 80), new HostSettingsResolver(new ProxySchedulerOptions()).Resolve(new HostKey(name, 80)));

    private void Attempt(ProxyPool pool, HostState host, ResponseClass outcome)
    {
        var now = _time.GetTimestamp();
        pool.TrySelect(ProxyRequirement.Any, host, null, now, out var node, out var probe, out _).Should().Be(ProxyVerdict.Selected);
        pool.OnGranted(node!, host, probe, now);
        pool.OnReleased(node!, host, probe, outcome, 0, _time.GetTimestamp());
    }

    private static readonly ProxyScheduler.Classification.Internal.AttemptVerdict Reset =
        new(ResponseClass.TargetFailure, AttemptBlame.ProxyAndHost, ProxyScheduler.Classification.Internal.FailureKind.Reset);

    /// <summary>A target failure through the only proxy that other proxies' answers from the host contradict.</summary>
    private void ContradictedFailure(ProxyPool pool, HostState host)
    {
        var now = _time.GetTimestamp();
        pool.TrySelect(ProxyRequirement.Any, host, null, now, out var node, out var probe, out _).Should().Be(ProxyVerdict.Selected);
        pool.OnGranted(node!, host, probe, now);
        pool.OnReleased(node!, host, probe, ResponseClass.TargetFailure, 0, now, Reset, contradicted: true);
    }

    [Fact]
    public void PairFailures_TwoInARowOverTwoHosts_DoNotTakeOutAProxyThatCarriesAttempts()
    {
        var sut = CreateSut(new ProxyPoolOptions { QuarantineAfter = 100 }, P1);
        Attempt(sut, Host("ok.test"), ResponseClass.Success);

        // A site resetting one connection in seven through every proxy makes a few of these in a row by chance.
        // (One per host: two on one host make the pair rest instead, which is the pair's matter.)
        for (var i = 0; i < 4; i++)
        {
            ContradictedFailure(sut, Host($"h{i}.test"));
        }

        sut.GetSnapshots().Single().State.Should().Be(ProxyHealthState.Healthy, "four in a row over several hosts are not yet the proxy's own");
        ContradictedFailure(sut, Host("h4.test"));
        sut.GetSnapshots().Single().State.Should().Be(ProxyHealthState.Quarantined, "five in a row over two hosts, nothing carried in between, are");
    }

    [Fact]
    public void PairFailures_AnAnswerInBetween_StartsTheRunAgain()
    {
        var sut = CreateSut(new ProxyPoolOptions { QuarantineAfter = 100 }, P1);
        var ok = Host("ok.test");
        Attempt(sut, ok, ResponseClass.Success);
        for (var i = 0; i < 20; i++)
        {
            ContradictedFailure(sut, Host($"h{i}.test"));
            if (i % 4 == 3)
            {
                Attempt(sut, ok, ResponseClass.Success);
            }
        }

        sut.GetSnapshots().Single().State.Should().Be(ProxyHealthState.Healthy);
    }

    [Fact]
    public void PairFailures_AProxyThatNeverCarriedAnAttempt_IsToBlameAtTheThird()
    {
        var sut = CreateSut(new ProxyPoolOptions { QuarantineAfter = 100 }, P1);
        ContradictedFailure(sut, Host("h0.test"));
        ContradictedFailure(sut, Host("h1.test"));
        sut.GetSnapshots().Single().State.Should().Be(ProxyHealthState.Healthy);
        ContradictedFailure(sut, Host("h2.test"));
        sut.GetSnapshots().Single().State.Should().Be(ProxyHealthState.Quarantined, "it times out where other proxies reach the host, and has never carried anything");
    }

    [Fact]
    public void Score_FailuresLowerIt_AndTheyFadeWithTheHalfLife()
    {
        var sut = CreateSut(new ProxyPoolOptions { QuarantineAfter = 100, HealthHalfLife = TimeSpan.FromMinutes(5) }, P1);
        var host = Host("a.test");

        Attempt(sut, host, ResponseClass.ProxyFailure);
        Attempt(sut, host, ResponseClass.ProxyFailure);
        var candidates = Score(sut, host);
        candidates.Should().BeApproximately(0.64, 0.001, "two failures with an averaging weight of 0.2: 0.8 × 0.8");

        _time.Advance(TimeSpan.FromMinutes(5));
        Score(sut, host).Should().BeApproximately(1 - (0.36 / 2), 0.001, "after one half-life half of the deficit is forgiven");

        _time.Advance(TimeSpan.FromHours(2));
        Score(sut, host).Should().BeApproximately(1.0, 0.001);
    }

    [Fact]
    public void Score_ABlockLowersItForThatHostOnly()
    {
        var sut = CreateSut(new ProxyPoolOptions(), P1);
        var shop = Host("shop.test");
        var news = Host("news.test");

        Attempt(sut, shop, ResponseClass.Blocked);

        sut.TrySelect(ProxyRequirement.Any, shop, null, _time.GetTimestamp(), out _, out _, out var wakeAt).Should().Be(ProxyVerdict.Blocked, "blocked for that host");
        _time.GetElapsedTime(_time.GetTimestamp(), wakeAt).Should().Be(TimeSpan.FromMinutes(5), "the host is woken when the block ends");
        Score(sut, news).Should().Be(1.0, "a block by one host says nothing about the others");
        Score(sut, shop).Should().BeApproximately(0.8, 0.001);
    }

    [Fact]
    public void Throttled_And_TargetFailures_LeaveTheScoreWhole()
    {
        var sut = CreateSut(new ProxyPoolOptions { QuarantineAfter = 1 }, P1);
        var host = Host("a.test");

        Attempt(sut, host, ResponseClass.Throttled);
        Attempt(sut, host, ResponseClass.TargetFailure);
        Attempt(sut, host, ResponseClass.Throttled);

        Score(sut, host).Should().Be(1.0);
        sut.GetSnapshots().Single().State.Should().Be(ProxyHealthState.Healthy);
    }

    [Fact]
    public async Task CustomSelector_IsHonoured_AndAnUnavailablePickIsIgnored()
    {
        var first = new ProxyEndpoint(ProxyScheme.Http, "10.0.1.1", 8080) { MaxConcurrency = 1 };
        using var sut = new ProxyTestScheduler([first, P2], o => o.ProxyPool.Selector = "AlwaysFirst", b => b.AddProxySelector<AlwaysFirstSelector>());
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        sut.Behavior = async (id, _) =>
        {
            if (id == first.Id)
            {
                await gate.Task;
            }

            return FakeHandler.Response(HttpStatusCode.OK);
        };

        var held = sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"));
        await Eventually.TrueAsync(() => sut.SentThrough(first.Id) == 1, "the strategy's pick is used");
        var next = await sut.Scheduler.SendAsync(new ScheduledRequest("http://b.test/")).WaitAsync(TimeSpan.FromSeconds(5));

        next.Proxy!.Id.Should().Be(P2.Id, "the strategy's pick is at its limit, so the pool picks an available proxy itself");
        gate.SetResult();
        (await held.WaitAsync(TimeSpan.FromSeconds(5))).Proxy!.Id.Should().Be(first.Id);
    }

    private double Score(ProxyPool pool, HostState host) => pool.Score(pool.Find(P1.Id)!, host, _time.GetTimestamp());

    private sealed class AlwaysFirstSelector : IProxySelector
    {
        public string Name => "AlwaysFirst";

        public int Choose(in ProxyCandidates candidates) => 0;
    }
}
