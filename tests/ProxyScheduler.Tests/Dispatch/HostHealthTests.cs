using System.Net;
using ProxyScheduler.Proxies;
using ProxyScheduler.Tests.TestSupport;

namespace ProxyScheduler.Tests.Dispatch;

/// <summary>Blame by evidence, on fake time: a failing host gets its own circuit and never moves a proxy; a failing proxy is the proxy's.</summary>
public sealed class HostHealthTests
{
    private static readonly ProxyEndpoint A = ProxyEndpoint.Parse("10.0.0.1:3128");
    private static readonly ProxyEndpoint B = ProxyEndpoint.Parse("10.0.0.2:3128");

    private static ProxyTestScheduler Create() => new([A, B], o =>
    {
        o.Retry.MaxRetries = 0;
        o.ProxyPool.Selector = "RoundRobin";
        o.ProxyPool.QuarantineAfter = 1; // a wrong blame would take a proxy out at once
        o.HostHealth.FailureThreshold = 3;
        o.HostHealth.BreakDuration = TimeSpan.FromSeconds(2);
    });

    [Fact]
    public async Task AHostFailingThroughTwoProxies_IsJudgedDown_NeverMovesAProxy_DoesNotHoldOtherHosts_AndRecovers()
    {
        using var sut = Create();
        var broken = true;
        sut.Behavior = (_, request) => request.RequestUri!.Host == "slow.test" && broken
            ? throw new HttpRequestException(HttpRequestError.ResponseEnded, "The response ended prematurely.")
            : Task.FromResult(FakeHandler.Response(HttpStatusCode.OK));

        for (var i = 0; i < 3; i++)
        {
            var failure = await FluentActions.Awaiting(() => sut.Scheduler.SendAsync(new ScheduledRequest(new Uri($"http://slow.test/{i}"))))
                .Should().ThrowAsync<RequestFailedException>();
        }

        var snapshot = sut.Scheduler.GetSnapshot();
        var host = snapshot.Hosts.Single(h => h.Host == "slow.test:80");
        host.DownUntil.Should().NotBeNull("three failures in a row through two proxies judge the host down");
        host.DownReason.Should().Contain("connection reset");
        snapshot.HostsDown.Should().Be(1);
        snapshot.Proxies.Should().OnlyContain(p => p.State == ProxyHealthState.Healthy && p.ProxyFailures == 0, "the host's failures never move a proxy");
        snapshot.Proxies.Sum(p => p.HostFailures).Should().Be(3);

        (await sut.Scheduler.SendAsync(new ScheduledRequest(new Uri("http://fast.test/")))).StatusCode.Should().Be(HttpStatusCode.OK, "other hosts never wait on a host that is down");

        var held = sut.Scheduler.SendAsync(new ScheduledRequest(new Uri("http://slow.test/later")));
        held.IsCompleted.Should().BeFalse("starts to a host that is down pause until its probe");
        broken = false;
        sut.Time.Advance(TimeSpan.FromSeconds(2));
        (await held.WaitAsync(TimeSpan.FromSeconds(10))).StatusCode.Should().Be(HttpStatusCode.OK, "the probe after the break succeeds");
        sut.Scheduler.GetSnapshot().Hosts.Single(h => h.Host == "slow.test:80").DownUntil.Should().BeNull("the host recovered");
    }

    [Fact]
    public async Task AHostFailingThroughOneProxyWhileAnotherReachesIt_IsNotDown_TheFailuresAreThePairs()
    {
        using var sut = Create();
        sut.Behavior = (proxy, _) => proxy == A.Id
            ? throw new HttpRequestException(HttpRequestError.ResponseEnded, "The response ended prematurely.")
            : Task.FromResult(FakeHandler.Response(HttpStatusCode.OK));

        for (var i = 0; i < 8; i++)
        {
            try
            {
                await sut.Scheduler.SendAsync(new ScheduledRequest(new Uri($"http://pair.test/{i}")));
            }
            catch (RequestFailedException)
            {
            }
        }

        var snapshot = sut.Scheduler.GetSnapshot();
        snapshot.HostsDown.Should().Be(0, "another proxy reaches the host: the host is fine");
        var a = snapshot.Proxies.Single(p => p.Id == A.Id);
        a.PairFailures.Should().BeGreaterThan(0, "the failures are the pair's (A with pair.test)");
        a.ProxyFailures.Should().Be(0, "one host's trouble through A does not blame A itself");
        a.State.Should().Be(ProxyHealthState.Healthy);
    }

    [Fact]
    public async Task AProxyThatRefusesConnections_IsBlamed_AndTheHostIsNot()
    {
        using var sut = Create();
        sut.Behavior = (proxy, _) => proxy == A.Id
            ? throw new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused")
            : Task.FromResult(FakeHandler.Response(HttpStatusCode.OK));

        for (var i = 0; i < 4; i++)
        {
            try
            {
                await sut.Scheduler.SendAsync(new ScheduledRequest(new Uri($"http://site.test/{i}")));
            }
            catch (RequestFailedException)
            {
            }
        }

        var snapshot = sut.Scheduler.GetSnapshot();
        var a = snapshot.Proxies.Single(p => p.Id == A.Id);
        a.State.Should().Be(ProxyHealthState.Quarantined);
        a.ProxyFailures.Should().BeGreaterThan(0);
        a.LastFailure.Should().Be("connection refused");
        a.FailuresByKind.Should().ContainKey("connection refused");
        snapshot.Proxies.Single(p => p.Id == B.Id).State.Should().Be(ProxyHealthState.Healthy);
        snapshot.HostsDown.Should().Be(0, "a proxy's refusal says nothing about the host");
        foreach (var p in snapshot.Proxies)
        {
            p.Attempts.Should().Be(p.Answered + p.ProxyFailures + p.PairFailures + p.HostFailures, "the counts agree with each other");
        }
    }
}
