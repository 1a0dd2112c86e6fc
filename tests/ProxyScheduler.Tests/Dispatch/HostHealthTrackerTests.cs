using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ProxyScheduler.Classification;
using ProxyScheduler.Classification.Internal;
using ProxyScheduler.Dispatch;
using ProxyScheduler.Politeness.Internal;

namespace ProxyScheduler.Tests.Dispatch;

/// <summary>Whether a host is down, judged from its attempts' verdicts (<see cref="HostHealthTracker"/>), on a fake clock, direct route.</summary>
public sealed class HostHealthTrackerTests
{
    private static readonly AttemptVerdict Timeout = new(ResponseClass.TargetFailure, AttemptBlame.Host, FailureKind.Timeout);
    private readonly FakeTimeProvider _time = new();
    private readonly HostHealthTracker _tracker;
    private readonly HostState _host = new(new HostKey("a.test", 443), new HostSettings(8, TimeSpan.Zero, TimeSpan.Zero, new DefaultResponseClassifier()));

    public HostHealthTrackerTests()
    {
        _tracker = new HostHealthTracker(_time, NullLogger.Instance, pool: null)
        {
            Options = new HostHealthOptions { FailureThreshold = 3, BreakDuration = TimeSpan.FromSeconds(2), MaxBreakDuration = TimeSpan.FromSeconds(8), MaxWait = TimeSpan.FromSeconds(10) },
        };
    }

    private long Now => _time.GetTimestamp();

    private bool Learn(ResponseClass outcome, AttemptVerdict verdict, out string? giveUp) => _tracker.Learn(_host, null, outcome, verdict, Now, out giveUp);

    [Fact]
    public void HostBlamedTimeouts_OpenTheCircuitAtTheThreshold_AndHoldTheHostForTheBreak()
    {
        Learn(ResponseClass.TargetFailure, Timeout, out _);
        Learn(ResponseClass.TargetFailure, Timeout, out _);
        (_host.Circuit?.IsDown ?? false).Should().BeFalse("two failures are under the threshold of three");

        Learn(ResponseClass.TargetFailure, Timeout, out var giveUp).Should().BeFalse("a direct failure is never contradicted");

        giveUp.Should().BeNull();
        _host.Circuit!.IsDown.Should().BeTrue();
        _time.GetElapsedTime(Now, _host.NextStart).Should().Be(TimeSpan.FromSeconds(2), "no attempt starts to it during the break");
    }

    [Fact]
    public void AnAnswer_ClosesTheCircuit()
    {
        for (var i = 0; i < 3; i++)
        {
            Learn(ResponseClass.TargetFailure, Timeout, out _);
        }

        Learn(ResponseClass.Success, AttemptVerdict.Success, out _);

        _host.Circuit!.IsDown.Should().BeFalse();
    }

    [Theory]
    [InlineData((int)FailureKind.TargetStatus, AttemptBlame.Host)]
    [InlineData((int)FailureKind.Timeout, AttemptBlame.Proxy)]
    [InlineData((int)FailureKind.Timeout, AttemptBlame.None)]
    public void FailuresThatAreNotAnUnansweringHost_NeverOpenIt(int failureKind, AttemptBlame blame)
    {
        var kind = (FailureKind)failureKind;
        for (var i = 0; i < 10; i++)
        {
            Learn(ResponseClass.TargetFailure, new AttemptVerdict(ResponseClass.TargetFailure, blame, kind), out _);
        }

        (_host.Circuit?.IsDown ?? false).Should().BeFalse();
    }

    [Fact]
    public void FailedProbes_DoubleTheBreak_AndPastMaxWaitTheQueuedRequestsGiveUp()
    {
        for (var i = 0; i < 3; i++)
        {
            Learn(ResponseClass.TargetFailure, Timeout, out _);
        }

        _host.Count = 5; // requests queued for the host
        var breaks = new List<TimeSpan>();
        string? giveUp = null;
        while (giveUp is null && breaks.Count < 10)
        {
            _time.Advance(_time.GetElapsedTime(Now, _host.NextStart)); // the break ends: a probe goes and fails
            Learn(ResponseClass.TargetFailure, Timeout, out giveUp);
            breaks.Add(_time.GetElapsedTime(Now, _host.NextStart));
        }

        breaks.Should().Equal(TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(8));
        giveUp.Should().Contain("HostHealth:MaxWait").And.Contain("a.test:443");
    }
}
