using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Time.Testing;
using ProxyScheduler.Classification;
using ProxyScheduler.Politeness.Internal;
using ProxyScheduler.Tests.TestSupport;

namespace ProxyScheduler.Tests.Politeness;

/// <summary>AIMD per host, on fake time.</summary>
public sealed class AdaptiveLimitTests
{
    private static readonly Uri A = new("http://a.test/");

    [Fact]
    public void Aimd_AgainstAHostThatAllowsTen_ConvergesBelowTheCeilingAndAboveOne()
    {
        var time = new FakeTimeProvider();
        var limit = new AdaptiveLimit(ceiling: 64);
        var seq = 0L;
        var history = new List<int>();
        for (var round = 0; round < 400; round++)
        {
            // One "round trip": as many attempts as the limit; the host answers 429 to any beyond 10 at once.
            var n = limit.Concurrency;
            var started = new List<long>();
            for (var i = 0; i < n; i++)
            {
                limit.OnStart(time.GetTimestamp(), time);
                started.Add(++seq);
            }

            time.Advance(TimeSpan.FromMilliseconds(50));
            for (var i = 0; i < n; i++)
            {
                limit.OnOutcome(i < 10 ? ResponseClass.Success : ResponseClass.Throttled, started[i], seq, TimeSpan.FromMilliseconds(50), time.GetTimestamp(), time);
            }

            history.Add(limit.Concurrency);
        }

        var settled = history.Skip(200).ToList();
        settled.Should().OnlyContain(c => c >= 1 && c <= 64);
        settled.Max().Should().BeLessThanOrEqualTo(15, "it stays near what the host allows, far below the ceiling of 64");
        settled.Average().Should().BeGreaterThan(7, "and uses most of it (additive increase, one cut per round)");
    }

    [Fact]
    public void Aimd_ABurstOf429sFromAttemptsAlreadyInFlight_IsOneSignal()
    {
        var time = new FakeTimeProvider();
        var limit = new AdaptiveLimit(ceiling: 64);
        var seq = 0L;
        for (var i = 0; i < 40; i++)
        {
            limit.OnStart(time.GetTimestamp(), time);
            seq++;
            limit.OnOutcome(ResponseClass.Success, seq, seq, TimeSpan.FromMilliseconds(10), time.GetTimestamp(), time);
        }

        var before = limit.Concurrency;
        var inFlight = new List<long>();
        for (var i = 0; i < 20; i++)
        {
            limit.OnStart(time.GetTimestamp(), time);
            inFlight.Add(++seq);
        }

        foreach (var s in inFlight)
        {
            limit.OnOutcome(ResponseClass.Throttled, s, seq, TimeSpan.FromMilliseconds(10), time.GetTimestamp(), time);
        }

        limit.Decreases.Should().Be(1, "twenty 429s from attempts started before the cut are one signal");
        limit.Concurrency.Should().Be((int)(before * 0.7));
        limit.Rate.Should().NotBeNull("the host is paced from then on");
    }

    [Fact]
    public void Aimd_LatencyFarAboveTheBaseline_TwiceInARow_IsASignal_OnceIsAHiccup()
    {
        var time = new FakeTimeProvider();
        var limit = new AdaptiveLimit(ceiling: 64);
        var seq = 0L;
        void Answer(TimeSpan latency)
        {
            limit.OnStart(time.GetTimestamp(), time);
            seq++;
            time.Advance(TimeSpan.FromMilliseconds(5));
            limit.OnOutcome(ResponseClass.Success, seq, seq, latency, time.GetTimestamp(), time);
        }

        for (var i = 0; i < 30; i++)
        {
            Answer(TimeSpan.FromMilliseconds(20));
        }

        Answer(TimeSpan.FromSeconds(1));
        Answer(TimeSpan.FromMilliseconds(20));
        limit.Decreases.Should().Be(0, "one slow answer among good ones is a hiccup");

        var before = limit.Concurrency;
        Answer(TimeSpan.FromSeconds(1));
        Answer(TimeSpan.FromSeconds(1));
        limit.Decreases.Should().Be(1, "a latency far above the baseline, twice in a row, is the host slowing down");
        limit.Concurrency.Should().BeLessThan(before);
    }

    [Fact]
    public async Task Adaptive_RetryAfterZero_StillBacksOff_AndTheSnapshotShowsTheLimitAndDelay()
    {
        using var sut = new TestScheduler(o =>
        {
            o.Retry.MaxRetries = 0;
            o.DefaultHost.Adaptive = true;
            o.DefaultHost.MaxConcurrency = 32;
        });
        var throttle = false;
        sut.Handler.Responder = _ => throttle
            ? FakeHandler.Response(HttpStatusCode.TooManyRequests, "no", r => r.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.Zero))
            : FakeHandler.Response(HttpStatusCode.OK);

        for (var i = 0; i < 30; i++)
        {
            await sut.Scheduler.SendAsync(new ScheduledRequest(new Uri(A, $"?i={i}")));
            sut.Time.Advance(TimeSpan.FromMilliseconds(10));
        }

        var grown = sut.Scheduler.GetSnapshot().Hosts.Single().ConcurrencyLimit;
        grown.Should().BeGreaterThan(2, "good answers raise the limit from its slow start");
        sut.Scheduler.GetSnapshot().Hosts.Single().AdaptiveDelay.Should().BeNull("no push-back yet, no pacing");

        throttle = true;
        (await sut.Scheduler.SendAsync(new ScheduledRequest(new Uri(A, "?throttled")))).StatusCode.Should().Be(HttpStatusCode.TooManyRequests);

        var host = sut.Scheduler.GetSnapshot().Hosts.Single();
        host.ConcurrencyLimit.Should().BeLessThan(grown, "Retry-After: 0 does not turn backoff off");
        host.AdaptiveDelay.Should().NotBeNull();
        host.PausedUntil.Should().BeNull("a zero Retry-After pauses nothing");
        host.MaxConcurrency.Should().Be(32, "the ceiling stays what was configured");
    }
}
