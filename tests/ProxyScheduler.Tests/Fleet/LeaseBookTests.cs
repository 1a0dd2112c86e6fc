using CsCheck;
using Microsoft.Extensions.Time.Testing;
using ProxyScheduler.Redis.Internal;

namespace ProxyScheduler.Tests.Fleet;

/// <summary>The Redis coordinator's lease arithmetic, on a fake clock: what is asked, granted, backed off, given back and lost.</summary>
public sealed class LeaseBookTests
{
    private static readonly Resource Host = Resource.Of(new HostKey("a.test", 443));
    private static readonly Resource Proxy = Resource.OfProxy("px-1");
    private readonly FakeTimeProvider _time = new();
    private readonly LeaseBook _book;

    public LeaseBookTests() => _book = new LeaseBook(_time);

    private long Now => _time.GetTimestamp();

    private static double? Online() => null;

    [Fact]
    public void Want_AsksForAtMostTheLimit_NumberedFromARunningSequence_OnceUntilTheAnswer()
    {
        _book.Want(Host, 12, 8, Now);
        _book.Want(Proxy, 2, 4, Now);

        var (asks, local) = _book.TakeShareAsks(Now, Online);

        local.Should().BeEmpty();
        asks.Should().BeEquivalentTo(new[] { (Host, 8, 8, 0L), (Proxy, 2, 4, 8L) }, o => o.WithoutStrictOrdering());
        _book.TakeShareAsks(Now, Online).Asks.Should().BeEmpty("an ask waits for its answer before the next");
    }

    [Fact]
    public void Acquired_NamesTheLeases_AndAPartialGrantBacksOffDoublingUpToTwoSeconds()
    {
        _book.Want(Host, 5, 8, Now);
        var ask = _book.TakeShareAsks(Now, Online).Asks.Single();

        var (contended, fair) = _book.Acquired(Host, granted: 2, waiting: 3, asked: 5, limit: 8, ask.Sequence, "w1", Now);

        contended.Should().BeTrue("two other workers wait (three waiting, this one among them)");
        fair.Should().Be(3, "8 shared by 3 workers is 2.67, rounded up");
        _book.Of(Host).Should().Be((2, 0, 3, 0, true));
        _book.Held().Single().Members.Should().Equal("w1:1", "w1:2");

        var delays = new List<TimeSpan>();
        for (var i = 0; i < 9; i++)
        {
            var waited = TimeSpan.Zero;
            while (_book.TakeShareAsks(Now, Online).Asks.Count == 0)
            {
                _time.Advance(TimeSpan.FromMilliseconds(5));
                waited += TimeSpan.FromMilliseconds(5);
            }

            delays.Add(waited);
            _book.Acquired(Host, 0, 2, 3, 8, 100 + i, "w1", Now); // refused again
        }

        delays.Should().Equal(new[] { 20, 40, 80, 160, 320, 640, 1280, 2000, 2000 }.Select(ms => TimeSpan.FromMilliseconds(ms)));
    }

    [Fact]
    public void Acquired_All_EndsTheWantAndTheBackoff()
    {
        _book.Want(Host, 4, 4, Now);
        var ask = _book.TakeShareAsks(Now, Online).Asks.Single();
        var (contended, fair) = _book.Acquired(Host, 4, waiting: 0, 4, 4, ask.Sequence, "w1", Now);

        contended.Should().BeFalse();
        fair.Should().Be(4);
        _book.Of(Host).Wanted.Should().Be(0);
        _book.Want(Host, 1, 4, Now);
        _book.TakeShareAsks(Now, Online).Asks.Should().ContainSingle("a new want is asked at once, with no backoff left");
    }

    [Fact]
    public void AskFailed_RetriesAfterTheBackoff()
    {
        _book.Want(Host, 1, 4, Now);
        _book.TakeShareAsks(Now, Online);
        _book.AskFailed(Host, Now);

        _time.Advance(TimeSpan.FromMilliseconds(19));
        _book.TakeShareAsks(Now, Online).Asks.Should().BeEmpty();
        _time.Advance(TimeSpan.FromMilliseconds(1));
        _book.TakeShareAsks(Now, Online).Asks.Should().ContainSingle();
    }

    [Fact]
    public void Fallback_GrantsLocallyUpToItsShareOfTheLimit_AndRecoveryTakesThemBack()
    {
        _book.Want(Host, 8, 10, Now);

        var (asks, local) = _book.TakeShareAsks(Now, () => 0.5);

        asks.Should().BeEmpty("Redis is away");
        local.Should().Equal((Host, 5));
        _time.Advance(TimeSpan.FromSeconds(5));
        _book.TakeShareAsks(Now, () => 0.5).Local.Should().BeEmpty("the local cap (half of 10) is reached");
        _book.TakeLocal().Should().Equal((Host, 5));
        _book.TakeLocal().Should().BeEmpty();
        _book.Of(Host).Wanted.Should().Be(3, "what was not granted locally is still wanted");
    }

    [Fact]
    public void Fallback_GrantsAtLeastOneShare()
    {
        _book.Want(Host, 3, 1, Now);
        _book.TakeShareAsks(Now, () => 0.1).Local.Should().Equal((Host, 1));
    }

    [Fact]
    public void TakeReturns_GivesLocalSharesBackFirst_ThenTheMostRecentLeases()
    {
        _book.Want(Host, 3, 8, Now);
        var ask = _book.TakeShareAsks(Now, Online).Asks.Single();
        _book.Acquired(Host, 3, 0, 3, 8, ask.Sequence, "w1", Now);
        _book.Want(Host, 2, 8, Now);
        _time.Advance(TimeSpan.FromSeconds(1));
        _book.TakeShareAsks(Now, () => 1.0).Local.Should().Equal((Host, 2));

        _book.Return(Host, 3);
        var releases = _book.TakeReturns();

        releases.Should().ContainSingle().Which.Members.Should().Equal("w1:3");
        _book.Of(Host).Should().Be((2, 0, 0, 0, false));
        _book.TakeReturns().Should().BeEmpty("nothing more was returned");
    }

    [Fact]
    public void Tokens_AskOnce_WaitWhatRedisSays_AndFallBackToThisWorkersShareOfTheRate()
    {
        _book.WantTokens(Host, 3, rate: 10, burst: 5, Now);
        _book.WantTokens(Host, 2, rate: 10, burst: 5, Now);
        _book.TakeTokenAsks(Now, Online).Asks.Should().Equal((Host, 3, 10.0, 5));
        _book.TakeTokenAsks(Now, Online).Asks.Should().BeEmpty("until the answer");

        _book.TokensAnswered(Host, 0, waitMs: 250, asked: 3, Now);
        _time.Advance(TimeSpan.FromMilliseconds(249));
        _book.TakeTokenAsks(Now, Online).Asks.Should().BeEmpty();
        _time.Advance(TimeSpan.FromMilliseconds(1));
        _book.TakeTokenAsks(Now, Online).Asks.Should().ContainSingle();

        _book.TokensFailed(Host, Now);
        _book.WantTokens(Host, 1, 10, 5, Now);
        _time.Advance(TimeSpan.FromMilliseconds(100));
        var (asks, local) = _book.TakeTokenAsks(Now, () => 0.5);
        asks.Should().BeEmpty();
        local.Should().Equal((Host, 1));
        _time.Advance(TimeSpan.FromMilliseconds(199));
        _book.WantTokens(Host, 1, 10, 5, Now);
        _book.TakeTokenAsks(Now, () => 0.5).Local.Should().BeEmpty("alone, this worker takes half of 10 per second: one every 200 ms");
        _time.Advance(TimeSpan.FromMilliseconds(1));
        _book.TakeTokenAsks(Now, () => 0.5).Local.Should().ContainSingle();
    }

    [Fact]
    public void Renewed_DropsTheLostLeases_AndSaysWhetherOthersWait()
    {
        _book.Want(Host, 3, 6, Now);
        var ask = _book.TakeShareAsks(Now, Online).Asks.Single();
        _book.Acquired(Host, 3, 0, 3, 6, ask.Sequence, "w1", Now);

        var (lost, contended, fair) = _book.Renewed(Host, new HashSet<string>(["w1:2", "w9:1"]), waiting: 2, limit: 6, wanting: false);

        lost.Should().Be(1, "only the leases this worker held count");
        contended.Should().BeTrue();
        fair.Should().Be(2);
        _book.Held().Single().Members.Should().Equal("w1:1", "w1:3");
    }

    [Fact]
    public void Handed_IsHeldAtOnce_AndCountsAgainstTheWant()
    {
        _book.Want(Host, 2, 4, Now);
        _book.Handed(Host, "w2:7");

        _book.Of(Host).Should().Be((1, 0, 1, 0, false));
        _book.TakeAllLeases().Should().ContainSingle().Which.Members.Should().Equal("w2:7");
        _book.Held().Should().BeEmpty();
    }

    [Fact]
    public void DropHostWants_DropsOnlyHostsThatWaitedPastTheCutoff_NeverProxies()
    {
        _book.Want(Host, 1, 4, Now);
        _book.Want(Proxy, 1, 4, Now);
        var cutoff = Now;
        _time.Advance(TimeSpan.FromSeconds(1));
        var later = Resource.Of(new HostKey("b.test", 80));
        _book.WantTokens(later, 1, 1, 1, Now);

        _book.DropHostWants(cutoff).Should().Equal(Host);
        _book.Of(Host).Wanted.Should().Be(0);
        _book.Of(Proxy).Wanted.Should().Be(1, "a proxy's requests do not wait for its shares");
        _book.DropHostWants(long.MaxValue).Should().Equal(later);
    }

    [Fact]
    public void FairShare_IsTheSmallestShareThatCoversTheLimit() =>
        Gen.Select(Gen.Int[1, 100_000], Gen.Int[0, 1_000]).Sample((limit, others) =>
        {
            var fair = LeaseBook.FairShare(limit, others);
            return (long)fair * (1 + others) >= limit && (long)(fair - 1) * (1 + others) < limit;
        });
}
