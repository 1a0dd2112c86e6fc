using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ProxyScheduler.Classification;
using ProxyScheduler.Politeness.Internal;

namespace ProxyScheduler.Tests.Politeness;

/// <summary>When a host may start next (<see cref="HostPacing"/>), on a fake clock.</summary>
public sealed class HostPacingTests
{
    private static readonly HostKey Host = new("a.test", 443);
    private readonly FakeTimeProvider _time = new();
    private readonly HostPacing _pacing;

    public HostPacingTests() => _pacing = new HostPacing(_time, NullLogger.Instance);

    private long Now => _time.GetTimestamp();

    private static HostSettings Settings(TimeSpan minDelay = default, TimeSpan jitter = default, double? rate = null, int burst = 1) =>
        new(8, minDelay, jitter, new DefaultResponseClassifier()) { StartsPerSecond = rate, Burst = burst };

    private TimeSpan Until(long at) => _time.GetElapsedTime(Now, at);

    [Fact]
    public void NoPacing_LeavesTheNextStartAlone()
    {
        TokenBucket? bucket = null;
        var next = _pacing.NextStartAfterStart(Settings(), ref bucket, false, null, TimeSpan.Zero, nextStart: 0, Now);

        next.Should().Be(0);
        bucket.Should().BeNull("no rate limit, no bucket");
    }

    [Fact]
    public void RateLimit_SpacesStartsByTheRate_AfterTheBurst()
    {
        TokenBucket? bucket = null;
        var settings = Settings(rate: 4, burst: 2);

        var first = _pacing.NextStartAfterStart(settings, ref bucket, false, null, TimeSpan.Zero, 0, Now);
        Until(first).Should().BeLessThanOrEqualTo(TimeSpan.Zero, "the burst has a second token");
        var second = _pacing.NextStartAfterStart(settings, ref bucket, false, null, TimeSpan.Zero, first, Now);
        Until(second).Should().Be(TimeSpan.FromMilliseconds(250), "4 per second: the next token in 250 ms");
        bucket.Should().NotBeNull();
    }

    [Fact]
    public void RateLimit_FromTheFleet_TakesNoLocalToken()
    {
        TokenBucket? bucket = null;
        var next = _pacing.NextStartAfterStart(Settings(rate: 1), ref bucket, tokensFromFleet: true, null, TimeSpan.Zero, 0, Now);

        next.Should().Be(0);
        bucket.Should().BeNull();
    }

    [Fact]
    public void MinDelay_AndCrawlDelay_TheLongerWins()
    {
        TokenBucket? bucket = null;
        Until(_pacing.NextStartAfterStart(Settings(TimeSpan.FromMilliseconds(100)), ref bucket, false, null, TimeSpan.Zero, 0, Now))
            .Should().Be(TimeSpan.FromMilliseconds(100));
        Until(_pacing.NextStartAfterStart(Settings(TimeSpan.FromMilliseconds(100)), ref bucket, false, null, TimeSpan.FromMilliseconds(300), 0, Now))
            .Should().Be(TimeSpan.FromMilliseconds(300), "the robots.txt crawl delay is longer");
        Until(_pacing.NextStartAfterStart(Settings(TimeSpan.FromMilliseconds(500)), ref bucket, false, null, TimeSpan.FromMilliseconds(300), 0, Now))
            .Should().Be(TimeSpan.FromMilliseconds(500), "the configured delay is longer");
    }

    [Fact]
    public void Jitter_AddsUpToItsMaximum()
    {
        TokenBucket? bucket = null;
        var settings = Settings(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(50));
        for (var i = 0; i < 200; i++)
        {
            Until(_pacing.NextStartAfterStart(settings, ref bucket, false, null, TimeSpan.Zero, 0, Now))
                .Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(100)).And.BeLessThanOrEqualTo(TimeSpan.FromMilliseconds(150));
        }
    }

    [Fact]
    public void PauseEnd_OnlyMovesTheNextStartLater()
    {
        var until = _pacing.PauseEnd(Host, TimeSpan.FromSeconds(5), nextStart: 0, Now);
        Until(until!.Value).Should().Be(TimeSpan.FromSeconds(5));
        _pacing.PauseEnd(Host, TimeSpan.FromSeconds(2), nextStart: until.Value, Now).Should().BeNull("the host is paused longer already");
    }

    [Fact]
    public void FleetPauseEnd_CountsFromTheWallClockUntil_AndIgnoresAPassedOne()
    {
        var until = _pacing.FleetPauseEnd(_time.GetUtcNow() + TimeSpan.FromSeconds(3), 0, Now);
        Until(until!.Value).Should().Be(TimeSpan.FromSeconds(3));
        _pacing.FleetPauseEnd(_time.GetUtcNow() - TimeSpan.FromSeconds(1), 0, Now).Should().BeNull("it has passed");
        _pacing.FleetPauseEnd(_time.GetUtcNow() + TimeSpan.FromSeconds(1), until.Value, Now).Should().BeNull("the host is paused longer already");
    }

    [Fact]
    public void Learn_ThrottledCutsTheAdaptiveLimit()
    {
        var adaptive = new AdaptiveLimit(16);
        var before = adaptive.Concurrency;
        adaptive.OnStart(Now, _time);

        _pacing.Learn(Host, adaptive, ResponseClass.Throttled, seq: 1, startSeq: 1, latencyTicks: 0, Now);

        adaptive.Concurrency.Should().BeLessThan(before);
        adaptive.Decreases.Should().Be(1);
    }
}
