using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using ProxyScheduler.Tests.TestSupport;

namespace ProxyScheduler.Tests.Politeness;

/// <summary>Per-host rate limits and Retry-After pauses, on fake time.</summary>
public sealed class RateLimitAndRetryAfterTests
{
    private static readonly Uri A = new("http://a.test/");
    private static readonly Uri B = new("http://b.test/");

    private static HostSnapshot HostOf(TestScheduler sut, Uri host) =>
        sut.Scheduler.GetSnapshot().Hosts.Single(h => h.Host.StartsWith(host.Host, StringComparison.Ordinal));

    [Fact]
    public async Task RateLimit_HoldsInEveryWindowOverALongRun_AndUsesTheRateItAllows()
    {
        var starts = new ConcurrentQueue<TimeSpan>();
        using var sut = new TestScheduler(o =>
        {
            o.DefaultHost.MaxConcurrency = 100;
            o.DefaultHost.RateLimit = 5;
            o.DefaultHost.RateLimitBurst = 2;
        });
        var origin = sut.Time.GetUtcNow();
        sut.Handler.Responder = _ =>
        {
            starts.Enqueue(sut.Time.GetUtcNow() - origin);
            return FakeHandler.Response(HttpStatusCode.OK);
        };

        var run = sut.Scheduler.SendAllAsync(Enumerable.Range(0, 150).Select(i => new ScheduledRequest(new Uri(A, $"?i={i}")))).ToListAsync().AsTask();
        for (var step = 0; step < 4_000 && !run.IsCompleted; step++)
        {
            // Let what the last step granted go out (time stands still meanwhile), then move on 10 ms.
            await Eventually.TrueAsync(() => sut.Scheduler.GetSnapshot().InFlight == 0 && sut.Scheduler.GetSnapshot().Queued + starts.Count == 150 || run.IsCompleted, "the granted requests went out");
            sut.Time.Advance(TimeSpan.FromMilliseconds(10));
        }

        (await run).Should().HaveCount(150).And.OnlyContain(o => o.HasResponse);
        var times = starts.OrderBy(t => t).ToArray();
        for (var i = 0; i < times.Length; i++)
        {
            var inWindow = times.Count(t => t >= times[i] && t < times[i] + TimeSpan.FromSeconds(1));
            inWindow.Should().BeLessThanOrEqualTo(5 + 2 - 1, $"no second from {times[i]} holds more than the rate plus the burst");
        }

        times[^1].Should().BeCloseTo(TimeSpan.FromSeconds((150 - 2) / 5.0), TimeSpan.FromMilliseconds(50), "the limit is used, not undercut: 2 at once, then one every 200 ms");
        times.Count(t => t >= TimeSpan.FromSeconds(10) && t < TimeSpan.FromSeconds(20)).Should().Be(50, "five per second in the steady state");
        HostOf(sut, A).RateLimit.Should().Be(5);
    }

    [Fact]
    public void RateLimit_PerMinuteAndPerPattern_AreResolvedFromConfiguration()
    {
        var resolver = new ProxyScheduler.Politeness.Internal.HostSettingsResolver(new ProxySchedulerOptions
        {
            DefaultHost = { RateLimit = 600, RateLimitPeriod = TimeSpan.FromMinutes(1), RateLimitBurst = 3 },
            Hosts = { ["slow.test"] = new HostOptions { RateLimit = 1 } },
        });

        var fallback = resolver.Resolve(ProxyScheduler.HostKey.From(new Uri("http://other.test/")));
        fallback.StartsPerSecond.Should().Be(10);
        fallback.Burst.Should().Be(3);
        var slow = resolver.Resolve(ProxyScheduler.HostKey.From(new Uri("http://slow.test/")));
        slow.StartsPerSecond.Should().BeApproximately(1 / 60.0, 1e-9, "the pattern's rate, in the period it inherits");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RetryAfter_PausesExactlyThatHost_ForTheGivenTime_WhileOtherHostsCarryOn(bool asDate)
    {
        using var sut = new TestScheduler(o => o.Retry.MaxRetries = 0);
        var first = true;
        var origin = sut.Time.GetUtcNow();
        sut.Handler.Responder = request =>
        {
            if (request.RequestUri!.Host == A.Host && first)
            {
                first = false;
                return FakeHandler.Response(HttpStatusCode.TooManyRequests, "slow down", r => r.Headers.RetryAfter = asDate
                    ? new RetryConditionHeaderValue(origin + TimeSpan.FromSeconds(30))
                    : new RetryConditionHeaderValue(TimeSpan.FromSeconds(30)));
            }

            return FakeHandler.Response(HttpStatusCode.OK);
        };

        (await sut.Scheduler.SendAsync(new ScheduledRequest(A))).StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        HostOf(sut, A).PausedUntil.Should().Be(origin + TimeSpan.FromSeconds(30));

        var waiting = Enumerable.Range(0, 4).Select(i => sut.Scheduler.SendAsync(new ScheduledRequest(new Uri(A, $"?i={i}")))).ToList();
        var others = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => sut.Scheduler.SendAsync(new ScheduledRequest(new Uri(B, $"?i={i}")))));

        others.Should().OnlyContain(r => r.StatusCode == HttpStatusCode.OK, "another host carries on at once");
        await Eventually.TrueAsync(() => HostOf(sut, A).Queued == 4, "the paused host's requests wait in its queue");
        sut.Time.Advance(TimeSpan.FromSeconds(30) - TimeSpan.FromMilliseconds(1));
        HostOf(sut, A).Queued.Should().Be(4, "a millisecond before the end of the pause nothing has started");
        HostOf(sut, A).InFlight.Should().Be(0);

        sut.Time.Advance(TimeSpan.FromMilliseconds(1));
        var answers = await Task.WhenAll(waiting).WaitAsync(TimeSpan.FromSeconds(10));
        answers.Should().OnlyContain(r => r.StatusCode == HttpStatusCode.OK);
        sut.Handler.Requests.Count(r => r.Uri.Host == A.Host).Should().Be(5);
        HostOf(sut, A).PausedUntil.Should().BeNull();
    }

    [Fact]
    public async Task RetryAfter_IsCappedByTheHostsMaximum_AndZeroIgnoresItForPacing()
    {
        using var sut = new TestScheduler(o =>
        {
            o.Retry.MaxRetries = 0;
            o.DefaultHost.MaxRetryAfter = TimeSpan.FromSeconds(10);
            o.Hosts["b.test"] = new HostOptions { MaxRetryAfter = TimeSpan.Zero };
        });
        var origin = sut.Time.GetUtcNow();
        sut.Handler.Responder = _ => FakeHandler.Response(HttpStatusCode.ServiceUnavailable, "busy", r => r.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromHours(1)));

        await sut.Scheduler.SendAsync(new ScheduledRequest(A));
        await sut.Scheduler.SendAsync(new ScheduledRequest(B));

        HostOf(sut, A).PausedUntil.Should().Be(origin + TimeSpan.FromSeconds(10), "an hour is capped at the host's maximum");
        HostOf(sut, B).PausedUntil.Should().BeNull("b.test does not pace by Retry-After");
    }
}
