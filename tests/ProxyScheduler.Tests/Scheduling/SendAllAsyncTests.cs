using System.Net;
using System.Runtime.CompilerServices;
using ProxyScheduler.Tests.TestSupport;

namespace ProxyScheduler.Tests.Scheduling;

public sealed class SendAllAsyncTests
{
    [Fact]
    public async Task SendAllAsync_YieldsInCompletionOrder_AndFailuresAreOutcomes()
    {
        using var sut = new TestScheduler(o => o.Retry.MaxRetries = 0);
        var requests = new[] { "http://a.test/slow", "http://b.test/fast", "http://c.test/fail" }.Select(u => new ScheduledRequest(u));
        var outcomes = new List<RequestOutcome>();
        var run = Task.Run(async () =>
        {
            await foreach (var outcome in sut.Scheduler.SendAllAsync(requests))
            {
                outcomes.Add(outcome);
            }
        });

        await Eventually.TrueAsync(() => sut.Handler.Count == 3, "all three in flight");
        var pending = new Dictionary<string, PendingRequest>();
        while (sut.Handler.TryNext(out var p))
        {
            pending[p.Uri.AbsolutePath] = p;
        }

        pending["/fast"].Respond(HttpStatusCode.OK);
        await Eventually.TrueAsync(() => outcomes.Count == 1, "fast first");
        pending["/fail"].Fail(new HttpRequestException(HttpRequestError.ConnectionError, "refused"));
        await Eventually.TrueAsync(() => outcomes.Count == 2, "failure second");
        pending["/slow"].Respond(HttpStatusCode.OK);
        await run.WaitAsync(TimeSpan.FromSeconds(5));

        outcomes.Select(o => o.Request!.RequestUri.AbsolutePath).Should().Equal("/fast", "/fail", "/slow");
        outcomes[0].HasResponse.Should().BeTrue();
        outcomes[1].Exception.Should().BeOfType<RequestFailedException>().Which.Reason.Should().Be(RequestFailureReason.TransportError);
        outcomes[2].Response!.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task SendAllAsync_NullOrInvalidItem_IsAFailedOutcomeNotTheEndOfTheBatch()
    {
        using var sut = new TestScheduler();
        sut.Handler.Responder = _ => FakeHandler.Response(HttpStatusCode.OK);
        var requests = new ScheduledRequest[]
        {
            new("http://a.test/1"),
            null!,
            new("http://a.test/2") { Headers = { ["Proxy-Authorization"] = "Basic eA==" } },
            new("http://a.test/3"),
        };

        var outcomes = await sut.Scheduler.SendAllAsync(requests).ToListAsync();

        outcomes.Should().HaveCount(4);
        outcomes.Count(o => o.HasResponse).Should().Be(2);
        outcomes.Where(o => !o.HasResponse).Should().OnlyContain(o => o.Exception is ArgumentException);
    }

    [Fact]
    public async Task SendAllAsync_SlowConsumer_PullsSourceOnlyAsRoomFrees()
    {
        using var sut = new TestScheduler(o =>
        {
            o.MaxConcurrency = 4;
            o.QueueLimit = 10;
        });
        sut.Handler.Responder = _ => FakeHandler.Response(HttpStatusCode.OK);
        var source = new CountingSource(1_000);

        await using var enumerator = sut.Scheduler.SendAllAsync(source).GetAsyncEnumerator();
        (await enumerator.MoveNextAsync()).Should().BeTrue();
        await Eventually.TrueAsync(() => source.Pulled >= 10, "the window fills");
        await Eventually.StaysFalseAsync(() => source.Pulled > 11, "a consumer that does not read stops the source");
        source.Pulled.Should().BeLessThanOrEqualTo(11);
    }

    [Fact]
    public async Task SendAllAsync_ConsumerStopsEarly_CancelsTheRestAndFreesSlots()
    {
        using var sut = new TestScheduler(o =>
        {
            o.MaxConcurrency = 8;
            o.DefaultHost.MaxConcurrency = 8;
        });
        var source = new CountingSource(1_000);
        var responded = 0;
        var consumer = Task.Run(async () =>
        {
            await foreach (var outcome in sut.Scheduler.SendAllAsync(source))
            {
                break;
            }
        });
        await Eventually.TrueAsync(() => sut.Handler.Count == 8, "eight in flight");
        sut.Handler.Next().Respond(HttpStatusCode.OK);
        responded++;

        await consumer.WaitAsync(TimeSpan.FromSeconds(10));

        var snapshot = sut.Scheduler.GetSnapshot();
        snapshot.Pending.Should().Be(0);
        snapshot.InFlight.Should().Be(0);
        snapshot.Queued.Should().Be(0);
        sut.Handler.Requests.Skip(responded).Should().OnlyContain(r => r.Token.IsCancellationRequested);
    }

    [Fact]
    public async Task SendAllAsync_Canceled_ThrowsAfterEveryRequestEnded()
    {
        using var sut = new TestScheduler(o => o.MaxConcurrency = 4);
        using var cts = new CancellationTokenSource();
        var source = new CountingSource(100);
        var consumer = Task.Run(async () =>
        {
            await foreach (var outcome in sut.Scheduler.SendAllAsync(source, cts.Token))
            {
            }
        });
        await Eventually.TrueAsync(() => sut.Handler.Count == 4, "four in flight");

        await cts.CancelAsync();

        await FluentActions.Awaiting(() => consumer.WaitAsync(TimeSpan.FromSeconds(10))).Should().ThrowAsync<OperationCanceledException>();
        sut.Scheduler.GetSnapshot().Pending.Should().Be(0);
    }

    [Fact]
    public async Task SendAllAsync_SchedulerDisposed_QueuedAndInFlightEndAsTypedOutcomes()
    {
        var sut = new TestScheduler(o =>
        {
            o.MaxConcurrency = 2;
            o.DefaultHost.MaxConcurrency = 2;
        });
        var outcomes = new List<RequestOutcome>();
        var consumer = Task.Run(async () =>
        {
            await foreach (var outcome in sut.Scheduler.SendAllAsync(new CountingSource(10)))
            {
                outcomes.Add(outcome);
            }
        });
        await Eventually.TrueAsync(() => sut.Handler.Count == 2 && sut.Scheduler.GetSnapshot().Queued == 8, "two in flight, eight queued");
        sut.Scheduler.GetSnapshot().Pending.Should().Be(10, "queued batch requests count as pending");

        sut.Dispose();
        await consumer.WaitAsync(TimeSpan.FromSeconds(10));

        outcomes.Should().HaveCount(10);
        outcomes.Should().OnlyContain(o => o.Exception is RequestFailedException && ((RequestFailedException)o.Exception).Reason == RequestFailureReason.SchedulerDisposed);
    }

    [Fact]
    public async Task SendAllAsync_Priorities_HigherFirstWithinAHost()
    {
        using var sut = new TestScheduler(o =>
        {
            o.MaxConcurrency = 1;
            o.DefaultHost.MaxConcurrency = 1;
        });
        var requests = new List<ScheduledRequest> { new("http://a.test/first") };
        requests.AddRange(Enumerable.Range(0, 5).Select(i => new ScheduledRequest($"http://a.test/low{i}")));
        requests.Add(new ScheduledRequest("http://a.test/urgent") { Priority = 10 });
        var order = new List<string>();
        var consumer = Task.Run(async () =>
        {
            await foreach (var outcome in sut.Scheduler.SendAllAsync(requests))
            {
                order.Add(outcome.Request!.RequestUri.AbsolutePath);
            }
        });
        await Eventually.TrueAsync(() => sut.Handler.Count == 1 && sut.Scheduler.GetSnapshot().Queued == 6, "first in flight, six queued");
        // The order of sending is what priorities decide (outcomes may be yielded in another order: each completes on
        // its own continuation, and the next request can be sent before the previous outcome is read).
        var sent = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            await Eventually.TrueAsync(
                () =>
                {
                    if (!sut.Handler.TryNext(out var p))
                    {
                        return false;
                    }

                    sent.Add(p.Uri.AbsolutePath);
                    return p.Completion.TrySetResult(FakeHandler.Response(HttpStatusCode.OK));
                },
                $"request {i}");
        }

        await consumer.WaitAsync(TimeSpan.FromSeconds(10));
        sent.Should().Equal("/first", "/urgent", "/low0", "/low1", "/low2", "/low3", "/low4");
        order.Should().BeEquivalentTo(sent, "every request's outcome is delivered once");
    }

    [Fact]
    public async Task SendAllAsync_SourceThrows_OutcomesSoFarThenTheSourceError()
    {
        using var sut = new TestScheduler();
        sut.Handler.Responder = _ => FakeHandler.Response(HttpStatusCode.OK);

        var seen = 0;
        var act = async () =>
        {
            await foreach (var _ in sut.Scheduler.SendAllAsync(FailingSource()))
            {
                seen++;
            }
        };

        await act.Should().ThrowAsync<InvalidDataException>().WithMessage("line 3 is broken");
        seen.Should().Be(2);
    }

    [Fact]
    public async Task SendAllAsync_OneMillionRequests_QueueStaysUnderItsCap()
    {
        const int total = 1_000_000;
        const int queueLimit = 2_000;
        using var sut = new TestScheduler(o =>
        {
            o.MaxConcurrency = 256;
            o.QueueLimit = queueLimit;
            o.DefaultHost.MaxConcurrency = 64;
        });
        var ok = FakeHandler.Response(HttpStatusCode.OK);
        sut.Handler.Responder = _ => new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent("ok"u8.ToArray()) };
        var maxPending = 0;
        var maxQueued = 0;
        var completed = 0;

        await foreach (var outcome in sut.Scheduler.SendAllAsync(Generate(total)))
        {
            outcome.HasResponse.Should().BeTrue();
            if (++completed % 1_000 == 0)
            {
                var snapshot = sut.Scheduler.GetSnapshot();
                maxPending = Math.Max(maxPending, snapshot.Pending);
                maxQueued = Math.Max(maxQueued, snapshot.Queued);
            }
        }

        completed.Should().Be(total);
        maxPending.Should().BeLessThanOrEqualTo(queueLimit);
        maxQueued.Should().BeLessThanOrEqualTo(queueLimit);
        sut.Handler.MaxInFlight.Should().BeLessThanOrEqualTo(256);
        GC.KeepAlive(ok);

        static async IAsyncEnumerable<ScheduledRequest> Generate(int count, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            for (var i = 0; i < count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return new ScheduledRequest(new Uri($"http://h{i % 50}.test/{i}"));
            }

            await Task.CompletedTask;
        }
    }

    private static async IAsyncEnumerable<ScheduledRequest> FailingSource()
    {
        yield return new ScheduledRequest("http://a.test/1");
        yield return new ScheduledRequest("http://a.test/2");
        await Task.Yield();
        throw new InvalidDataException("line 3 is broken");
    }

    private sealed class CountingSource(int count) : IEnumerable<ScheduledRequest>
    {
        private int _pulled;

        public int Pulled => Volatile.Read(ref _pulled);

        public IEnumerator<ScheduledRequest> GetEnumerator()
        {
            for (var i = 0; i < count; i++)
            {
                Interlocked.Increment(ref _pulled);
                yield return new ScheduledRequest($"http://h{i % 3}.test/{i}");
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
