using Microsoft.Extensions.Time.Testing;
using ProxyScheduler.Dispatch;
using ProxyScheduler.Politeness.Internal;

namespace ProxyScheduler.Tests.Dispatch;

public sealed class DispatcherTests : IDisposable
{
    private static readonly HostKey A = new("a.test", 80);
    private static readonly HostKey B = new("b.test", 80);
    private static readonly HostKey C = new("c.test", 80);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private Dispatcher? _sut;

    public void Dispose() => _sut?.Dispose();

    private Dispatcher CreateSut(int global = 100, int perHost = 100, TimeSpan? minDelay = null, TimeSpan? jitter = null, Action<ProxySchedulerOptions>? configure = null)
    {
        var options = new ProxySchedulerOptions
        {
            MaxConcurrency = global,
            DefaultHost = new HostOptions { MaxConcurrency = perHost, MinDelay = minDelay, MaxJitter = jitter },
        };
        configure?.Invoke(options);
        _sut = new Dispatcher(global, new HostSettingsResolver(options), _time);
        return _sut;
    }

    [Fact]
    public async Task AcquireAsync_HostAtLimit_WaitsUntilRelease()
    {
        var sut = CreateSut(perHost: 2);
        var l1 = await sut.AcquireAsync(A, 0, default);
        var l2 = await sut.AcquireAsync(A, 0, default);
        var third = sut.AcquireAsync(A, 0, default).AsTask();

        third.IsCompleted.Should().BeFalse();
        sut.GetCounts().Should().Be(new SchedulerCounts(1, 2));

        sut.Release(l1);
        var l3 = await third.WaitAsync(TimeSpan.FromSeconds(5));
        l3.Host.Key.Should().Be(A);
        sut.GetCounts().Should().Be(new SchedulerCounts(0, 2));
        sut.Release(l2);
        sut.Release(l3);
        sut.GetCounts().Should().Be(new SchedulerCounts(0, 0));
    }

    [Fact]
    public async Task AcquireAsync_Priorities_HigherFirstAndFifoAmongEquals()
    {
        var sut = CreateSut(perHost: 1);
        var holder = await sut.AcquireAsync(A, 0, default);
        var order = new List<string>();
        var waits = new List<Task>();
        foreach (var (name, priority) in new[] { ("low1", 0), ("high1", 5), ("low2", 0), ("mid", 2), ("high2", 5) })
        {
            var task = sut.AcquireAsync(A, priority, default).AsTask();
            waits.Add(task.ContinueWith(t =>
            {
                lock (order)
                {
                    order.Add(name);
                }

                sut.Release(t.Result);
            }, TaskScheduler.Default));
        }

        sut.Release(holder);
        await Task.WhenAll(waits).WaitAsync(TimeSpan.FromSeconds(5));

        order.Should().Equal("high1", "high2", "mid", "low1", "low2");
    }

    [Fact]
    public async Task AcquireAsync_GlobalLimit_ServesReadyHostsRoundRobin()
    {
        var sut = CreateSut(global: 1, perHost: 10);
        var holder = await sut.AcquireAsync(C, 0, default);
        var granted = new List<HostKey>();
        var tasks = new List<Task<AttemptPermit>>();
        for (var i = 0; i < 4; i++)
        {
            tasks.Add(sut.AcquireAsync(A, 0, default).AsTask());
        }

        for (var i = 0; i < 4; i++)
        {
            tasks.Add(sut.AcquireAsync(B, 0, default).AsTask());
        }

        var lease = holder;
        for (var i = 0; i < 8; i++)
        {
            sut.Release(lease);
            var done = await Task.WhenAny(tasks).WaitAsync(TimeSpan.FromSeconds(5));
            tasks.Remove(done);
            lease = await done;
            granted.Add(lease.Host.Key);
            sut.GetCounts().InFlight.Should().Be(1, "the global limit is 1");
            await Tests.TestSupport.Eventually.StaysFalseAsync(() => tasks.Any(t => t.IsCompleted), "only one slot is free", 5);
        }

        sut.Release(lease);
        granted.Should().Equal(A, B, A, B, A, B, A, B);
    }

    [Fact]
    public async Task AcquireAsync_OneHostBusy_OtherHostsAreNotBlocked()
    {
        var sut = CreateSut(global: 10, perHost: 1);
        var busy = await sut.AcquireAsync(A, 0, default);
        var queuedForA = Enumerable.Range(0, 100).Select(_ => sut.AcquireAsync(A, 0, default).AsTask()).ToList();

        // Nine other hosts each get their slot at once, though 100 requests wait for A ahead of them.
        for (var i = 0; i < 9; i++)
        {
            var lease = sut.AcquireAsync(new HostKey($"h{i}.test", 80), 0, default);
            lease.IsCompleted.Should().BeTrue($"host h{i} has free capacity");
        }

        queuedForA.Should().OnlyContain(t => !t.IsCompleted);
        sut.GetCounts().Should().Be(new SchedulerCounts(100, 10));
        sut.Release(busy);
    }

    [Fact]
    public async Task AcquireAsync_GlobalFullWithHostWaiting_HostWithoutCapacityDoesNotTakeGlobalSlot()
    {
        // A host at its own limit must not hold a global slot while it waits (the classic head-of-line bug).
        var sut = CreateSut(global: 2, perHost: 1);
        var a = await sut.AcquireAsync(A, 0, default);
        var waitingA = sut.AcquireAsync(A, 0, default).AsTask();
        var b = sut.AcquireAsync(B, 0, default);

        b.IsCompleted.Should().BeTrue("B has room and one global slot is free");
        waitingA.IsCompleted.Should().BeFalse();
        sut.Release(a);
        await waitingA.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task AcquireAsync_MinDelay_SpacesStartsOnFakeTime()
    {
        var sut = CreateSut(perHost: 10, minDelay: TimeSpan.FromSeconds(2));
        var first = await sut.AcquireAsync(A, 0, default);
        var second = sut.AcquireAsync(A, 0, default).AsTask();
        var other = sut.AcquireAsync(B, 0, default);

        other.IsCompleted.Should().BeTrue("another host's delay is its own");
        second.IsCompleted.Should().BeFalse();
        _time.Advance(TimeSpan.FromMilliseconds(1999));
        await Tests.TestSupport.Eventually.StaysFalseAsync(() => second.IsCompleted, "the delay has not passed", 50);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        await second.WaitAsync(TimeSpan.FromSeconds(5));
        sut.Release(first);
    }

    [Fact]
    public async Task AcquireAsync_Jitter_DelayIsBetweenMinAndMinPlusJitter()
    {
        var sut = CreateSut(perHost: 100, minDelay: TimeSpan.FromSeconds(1), jitter: TimeSpan.FromSeconds(1));
        var delays = new List<TimeSpan>();
        for (var i = 0; i < 50; i++)
        {
            sut.Release(await sut.AcquireAsync(A, 0, default).AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
            var next = sut.GetHostSnapshots(out _, out _).Single().NextStartAt!.Value;
            delays.Add(next - _time.GetUtcNow());
            _time.Advance(TimeSpan.FromSeconds(2));
        }

        delays.Should().OnlyContain(d => d >= TimeSpan.FromSeconds(1) && d <= TimeSpan.FromSeconds(2));
        delays.Distinct().Should().HaveCountGreaterThan(10, "jitter must vary the delay");
    }

    [Fact]
    public async Task AcquireAsync_CanceledWhileQueued_LeavesQueueAtOnce()
    {
        var sut = CreateSut(perHost: 1);
        var holder = await sut.AcquireAsync(A, 0, default);
        using var cts = new CancellationTokenSource();
        var canceled = sut.AcquireAsync(A, 0, cts.Token).AsTask();
        var next = sut.AcquireAsync(A, 0, default).AsTask();
        sut.GetCounts().Queued.Should().Be(2);

        await cts.CancelAsync();

        await FluentActions.Awaiting(() => canceled).Should().ThrowAsync<OperationCanceledException>();
        sut.GetCounts().Queued.Should().Be(1);
        sut.Release(holder);
        var lease = await next.WaitAsync(TimeSpan.FromSeconds(5));
        sut.Release(lease);
        sut.GetCounts().Should().Be(new SchedulerCounts(0, 0));
    }

    [Fact]
    public async Task AcquireAsync_ManyCanceled_QueueIsCompactedAndCountsStayExact()
    {
        var sut = CreateSut(perHost: 1);
        var holder = await sut.AcquireAsync(A, 0, default);
        using var cts = new CancellationTokenSource();
        var canceled = Enumerable.Range(0, 500).Select(_ => sut.AcquireAsync(A, 0, cts.Token).AsTask()).ToList();
        var survivor = sut.AcquireAsync(A, 0, default).AsTask();
        await cts.CancelAsync();
        await Task.WhenAll(canceled.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));

        sut.GetCounts().Queued.Should().Be(1);
        sut.Release(holder);
        sut.Release(await survivor.WaitAsync(TimeSpan.FromSeconds(5)));
        sut.GetCounts().Should().Be(new SchedulerCounts(0, 0));
    }

    [Fact]
    public async Task Dispose_FailsQueuedWaiters()
    {
        var sut = CreateSut(perHost: 1);
        await sut.AcquireAsync(A, 0, default);
        var waiting = sut.AcquireAsync(A, 0, default).AsTask();

        sut.Dispose();

        await FluentActions.Awaiting(() => waiting).Should().ThrowAsync<ObjectDisposedException>();
        FluentActions.Invoking(() => sut.AcquireAsync(B, 0, default)).Should().Throw<ObjectDisposedException>();
    }

    [Fact]
    public async Task AcquireAsync_IdleHost_IsForgottenAfterIdleTimeoutButKeepsPendingDelay()
    {
        var sut = CreateSut(minDelay: TimeSpan.FromMinutes(2));
        sut.Release(await sut.AcquireAsync(A, 0, default));
        sut.GetHostSnapshots(out _, out _).Should().ContainSingle();

        _time.Advance(TimeSpan.FromMinutes(1));
        var touch = sut.AcquireAsync(B, 0, default);
        sut.Release(await touch);
        sut.GetHostSnapshots(out _, out _).Select(h => h.Host).Should().Contain("a.test:80", "A's delay has not passed yet, so its state must be kept");

        _time.Advance(TimeSpan.FromMinutes(2));
        sut.Release(await sut.AcquireAsync(C, 0, default));
        sut.GetHostSnapshots(out _, out _).Select(h => h.Host).Should().NotContain("a.test:80");
    }

    [Fact]
    public void Snapshot_ReportsPerHostCountsAndPendingDelay()
    {
        var sut = CreateSut(perHost: 1, minDelay: TimeSpan.FromSeconds(10));
        _ = sut.AcquireAsync(A, 0, default).AsTask();
        _ = sut.AcquireAsync(A, 0, default).AsTask();

        var hosts = sut.GetHostSnapshots(out var queued, out var inFlight);

        queued.Should().Be(1);
        inFlight.Should().Be(1);
        var a = hosts.Should().ContainSingle().Subject;
        a.Host.Should().Be("a.test:80");
        a.InFlight.Should().Be(1);
        a.Queued.Should().Be(1);
        a.MaxConcurrency.Should().Be(1);
        a.NextStartAt.Should().Be(_time.GetUtcNow() + TimeSpan.FromSeconds(10));
    }
}
