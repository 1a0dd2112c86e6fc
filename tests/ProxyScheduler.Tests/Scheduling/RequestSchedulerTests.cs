using System.Net;
using System.Text;
using ProxyScheduler.Tests.TestSupport;

namespace ProxyScheduler.Tests.Scheduling;

public sealed class RequestSchedulerTests
{
    private static TestScheduler CreateSut(Action<ProxySchedulerOptions>? configure = null) => new(configure);

    [Fact]
    public async Task SendAsync_Success_ReturnsBufferedResponseWithCounts()
    {
        using var sut = CreateSut();
        var send = sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/page?q=1") { Headers = { ["Accept"] = "text/html" } });
        await Eventually.TrueAsync(() => sut.Handler.Count == 1, "the request reaches the handler");
        var request = sut.Handler.Next();
        request.Headers["Accept"].Should().Be("text/html");
        request.Respond(HttpStatusCode.OK, "héllo", r => r.Content.Headers.ContentType = new("text/plain") { CharSet = "utf-8" });

        var response = await send.WaitAsync(TimeSpan.FromSeconds(5));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.ReadBodyAsString().Should().Be("héllo");
        response.ContentHeaders.ContentLength.Should().Be(Encoding.UTF8.GetByteCount("héllo"));
        response.Attempts.Should().Be(1);
        response.Redirects.Should().Be(0);
        response.ToString().Should().Be("200 GET http://a.test/page?…");
        sut.Scheduler.GetSnapshot().Pending.Should().Be(0);
    }

    [Fact]
    public void SendAsync_BadInput_FailsAtOnceBeforeQueueing()
    {
        using var sut = CreateSut();
        FluentActions.Invoking(() => (object)sut.Scheduler.SendAsync(null!)).Should().Throw<ArgumentNullException>();
        FluentActions.Invoking(() => new ScheduledRequest("/relative")).Should().Throw<ArgumentException>().WithMessage("*absolute*");
        FluentActions.Invoking(() => new ScheduledRequest("ftp://a.test/file")).Should().Throw<ArgumentException>().WithMessage("*'ftp'*");
        FluentActions.Invoking(() => new ScheduledRequest("not a uri at all")).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => new ScheduledRequest((Uri)null!)).Should().Throw<ArgumentNullException>();
        FluentActions.Invoking(() => new ScheduledRequest("http://a.test/") { Deadline = TimeSpan.Zero }).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*Deadline*");
        FluentActions.Invoking(() => new ScheduledRequest("http://a.test/") { AttemptTimeout = TimeSpan.FromSeconds(-1) }).Should().Throw<ArgumentOutOfRangeException>();
        FluentActions.Invoking(() => (object)sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { Headers = { ["Proxy-Authorization"] = "Basic c2VjcmV0" } }))
            .Should().Throw<ArgumentException>().Where(e => e.Message.Contains("Proxy-Authorization") && !e.Message.Contains("c2VjcmV0"));
        FluentActions.Invoking(() => (object)sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { Headers = { ["X-Evil"] = "a\r\nInjected: 1" } }))
            .Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => (object)sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { ContentType = "not a media type", Content = new byte[1] }))
            .Should().Throw<ArgumentException>().WithMessage("*ContentType*");

        sut.Handler.Count.Should().Be(0);
        sut.Scheduler.GetSnapshot().Pending.Should().Be(0);
    }

    [Fact]
    public async Task SendAsync_ServerErrors_RetriedWithExponentialBackoffOnFakeTime()
    {
        using var sut = CreateSut(o =>
        {
            o.Retry.MaxRetries = 2;
            o.Retry.BaseDelay = TimeSpan.FromSeconds(1);
        });
        var send = sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"));

        await Eventually.TrueAsync(() => sut.Handler.Count == 1, "first attempt");
        sut.Handler.Next().Respond(HttpStatusCode.ServiceUnavailable);
        await Eventually.StaysFalseAsync(() => sut.Handler.Count > 1, "no retry before the backoff");
        sut.Time.Advance(TimeSpan.FromMilliseconds(999));
        await Eventually.StaysFalseAsync(() => sut.Handler.Count > 1, "no retry before 1 s");
        sut.Time.Advance(TimeSpan.FromMilliseconds(1));
        await Eventually.TrueAsync(() => sut.Handler.Count == 2, "second attempt after 1 s");
        sut.Handler.Next().Respond(HttpStatusCode.BadGateway);
        await Eventually.StaysFalseAsync(() => sut.Handler.Count > 2, "no retry before the backoff");

        sut.Time.Advance(TimeSpan.FromMilliseconds(1999));
        await Eventually.StaysFalseAsync(() => sut.Handler.Count > 2, "no retry before 2 s");
        sut.Time.Advance(TimeSpan.FromMilliseconds(1));
        await Eventually.TrueAsync(() => sut.Handler.Count == 3, "third attempt after 2 s more");
        sut.Handler.Next().Respond(HttpStatusCode.InternalServerError, "still broken");

        var response = await send.WaitAsync(TimeSpan.FromSeconds(5));
        response.StatusCode.Should().Be(HttpStatusCode.InternalServerError, "the last response is returned when retries run out");
        response.Attempts.Should().Be(3);
        response.ReadBodyAsString().Should().Be("still broken");
    }

    [Fact]
    public async Task SendAsync_TooManyRequestsWithRetryAfter_WaitsExactlyThatLong()
    {
        using var sut = CreateSut(o => o.Retry.BaseDelay = TimeSpan.FromMilliseconds(10));
        var send = sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"));
        await Eventually.TrueAsync(() => sut.Handler.Count == 1, "first attempt");
        sut.Handler.Next().Respond(HttpStatusCode.TooManyRequests, "slow down", r => r.Headers.RetryAfter = new(TimeSpan.FromSeconds(5)));
        await Eventually.StaysFalseAsync(() => sut.Handler.Count > 1, "no retry before Retry-After");

        sut.Time.Advance(TimeSpan.FromMilliseconds(4999));
        await Eventually.StaysFalseAsync(() => sut.Handler.Count > 1, "Retry-After is 5 s");
        sut.Time.Advance(TimeSpan.FromMilliseconds(1));
        await Eventually.TrueAsync(() => sut.Handler.Count == 2, "retry at 5 s");
        sut.Handler.Next().Respond(HttpStatusCode.OK);
        (await send.WaitAsync(TimeSpan.FromSeconds(5))).Attempts.Should().Be(2);
    }

    [Fact]
    public async Task SendAsync_ConnectionFailures_RetriedThenTypedTransportError()
    {
        using var sut = CreateSut(o =>
        {
            o.Retry.MaxRetries = 1;
            o.Retry.BaseDelay = TimeSpan.Zero;
        });
        var send = sut.Scheduler.SendAsync(new ScheduledRequest("http://user:secret@a.test/x?token=abc"));
        for (var i = 1; i <= 2; i++)
        {
            await Eventually.TrueAsync(() => sut.Handler.Count == i, $"attempt {i}");
            sut.Handler.Next().Fail(new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused"));
        }

        var failure = (await FluentActions.Awaiting(() => send).Should().ThrowAsync<RequestFailedException>()).Which;
        failure.Reason.Should().Be(RequestFailureReason.TransportError);
        failure.Attempts.Should().Be(2);
        failure.RequestUri.Should().Be("http://a.test/x?…");
        failure.Message.Should().NotContain("secret").And.NotContain("abc").And.Contain("ConnectionError");
    }

    [Fact]
    public async Task SendAsync_AttemptTimeout_RetriedThenTypedTimeout()
    {
        using var sut = CreateSut(o =>
        {
            o.AttemptTimeout = TimeSpan.FromSeconds(10);
            o.Retry.MaxRetries = 1;
            o.Retry.BaseDelay = TimeSpan.Zero;
        });
        var send = sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"));
        await Eventually.TrueAsync(() => sut.Handler.Count == 1, "first attempt");
        var first = sut.Handler.Next();
        sut.Time.Advance(TimeSpan.FromSeconds(9));
        first.Token.IsCancellationRequested.Should().BeFalse();
        sut.Time.Advance(TimeSpan.FromSeconds(1));
        await Eventually.TrueAsync(() => sut.Handler.Count == 2, "the timed-out attempt is retried");
        first.Token.IsCancellationRequested.Should().BeTrue("the timed-out attempt is aborted");
        sut.Time.Advance(TimeSpan.FromSeconds(10));

        var failure = (await FluentActions.Awaiting(() => send).Should().ThrowAsync<RequestFailedException>()).Which;
        failure.Reason.Should().Be(RequestFailureReason.AttemptTimeout);
        failure.Attempts.Should().Be(2);
        sut.Scheduler.GetSnapshot().InFlight.Should().Be(0);
    }

    [Fact]
    public async Task SendAsync_DeadlinePasses_TypedDeadlineFailureAndSlotFreed()
    {
        using var sut = CreateSut(o => o.DefaultHost.MaxConcurrency = 1);
        var send = sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { Deadline = TimeSpan.FromSeconds(5) });
        await Eventually.TrueAsync(() => sut.Handler.Count == 1, "attempt in flight");
        sut.Time.Advance(TimeSpan.FromSeconds(5));

        var failure = (await FluentActions.Awaiting(() => send).Should().ThrowAsync<RequestFailedException>()).Which;
        failure.Reason.Should().Be(RequestFailureReason.DeadlineExceeded);
        sut.Scheduler.GetSnapshot().InFlight.Should().Be(0);

        sut.Handler.Responder = _ => FakeHandler.Response(HttpStatusCode.OK);
        (await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/")).WaitAsync(TimeSpan.FromSeconds(5))).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task SendAsync_CanceledWhileQueued_LeavesQueueAndNeverSends()
    {
        using var sut = CreateSut(o => o.DefaultHost.MaxConcurrency = 1);
        var first = sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/1"));
        await Eventually.TrueAsync(() => sut.Handler.Count == 1, "first in flight");
        using var cts = new CancellationTokenSource();
        var second = sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/2"), cts.Token);
        await Eventually.TrueAsync(() => sut.Scheduler.GetSnapshot().Queued == 1, "second queued");

        await cts.CancelAsync();

        await FluentActions.Awaiting(() => second).Should().ThrowAsync<OperationCanceledException>();
        sut.Scheduler.GetSnapshot().Queued.Should().Be(0);
        sut.Handler.Next().Respond(HttpStatusCode.OK);
        await first;
        await Eventually.StaysFalseAsync(() => sut.Handler.Count > 1, "the canceled request is never sent");
        sut.Scheduler.GetSnapshot().Pending.Should().Be(0);
    }

    [Fact]
    public async Task SendAsync_CanceledInFlight_AbortsAttemptAndFreesSlot()
    {
        using var sut = CreateSut(o => o.DefaultHost.MaxConcurrency = 1);
        using var cts = new CancellationTokenSource();
        var send = sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"), cts.Token);
        await Eventually.TrueAsync(() => sut.Handler.Count == 1, "in flight");
        var attempt = sut.Handler.Next();

        await cts.CancelAsync();

        var ex = (await FluentActions.Awaiting(() => send).Should().ThrowAsync<OperationCanceledException>()).Which;
        ex.CancellationToken.Should().Be(cts.Token);
        attempt.Token.IsCancellationRequested.Should().BeTrue();
        sut.Scheduler.GetSnapshot().InFlight.Should().Be(0);
        sut.Handler.Count.Should().Be(1, "a canceled request is not retried");
    }

    [Fact]
    public async Task SendAsync_Redirect_FollowedThroughTargetHostLimits()
    {
        using var sut = CreateSut(o => o.Hosts["b.test"] = new HostOptions { MaxConcurrency = 1 });
        var blocker = sut.Scheduler.SendAsync(new ScheduledRequest("http://b.test/busy"));
        await Eventually.TrueAsync(() => sut.Handler.Count == 1, "b.test busy");
        var busy = sut.Handler.Next();

        var send = sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/start") { Headers = { ["Authorization"] = "Bearer t0ken" } });
        await Eventually.TrueAsync(() => sut.Handler.Count == 2, "first hop");
        sut.Handler.Next().Respond(HttpStatusCode.Found, "", r => r.Headers.Location = new Uri("http://b.test/end"));
        await Eventually.TrueAsync(() => sut.Scheduler.GetSnapshot().Queued == 1, "the hop to b.test waits for b.test's slot");
        sut.Handler.Count.Should().Be(2);

        busy.Respond(HttpStatusCode.OK);
        await blocker;
        await Eventually.TrueAsync(() => sut.Handler.Count == 3, "second hop after b.test frees");
        var hop = sut.Handler.Next();
        hop.Uri.Should().Be(new Uri("http://b.test/end"));
        hop.Headers.Should().NotContainKey("Authorization", "credentials do not follow a cross-origin redirect");
        hop.Respond(HttpStatusCode.OK, "done");

        var response = await send.WaitAsync(TimeSpan.FromSeconds(5));
        response.RequestUri.Should().Be(new Uri("http://b.test/end"));
        response.Redirects.Should().Be(1);
        response.Attempts.Should().Be(2);
    }

    [Fact]
    public async Task SendAsync_SeeOtherAfterPost_BecomesGetWithoutBody()
    {
        using var sut = CreateSut();
        sut.Handler.Responder = r => r.RequestUri!.AbsolutePath == "/form"
            ? FakeHandler.Response(HttpStatusCode.SeeOther, "", m => m.Headers.Location = new Uri("/result", UriKind.Relative))
            : FakeHandler.Response(HttpStatusCode.OK, r.Method.Method);

        var response = await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/form")
        {
            Method = HttpMethod.Post,
            Content = "a=1"u8.ToArray(),
            ContentType = "application/x-www-form-urlencoded",
        }).WaitAsync(TimeSpan.FromSeconds(5));

        response.ReadBodyAsString().Should().Be("GET");
        response.RequestUri.Should().Be(new Uri("http://a.test/result"));
        sut.Handler.Requests.First().Body.Should().Equal("a=1"u8.ToArray());
        sut.Handler.Requests.Last().Body.Should().BeNull();
    }

    [Fact]
    public async Task SendAsync_RedirectToOtherScheme_TypedInvalidRedirect()
    {
        using var sut = CreateSut();
        sut.Handler.Responder = _ => FakeHandler.Response(HttpStatusCode.MovedPermanently, "", m => m.Headers.Location = new Uri("ftp://files.test/x"));

        var failure = (await FluentActions.Awaiting(() => sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"))).Should().ThrowAsync<RequestFailedException>()).Which;
        failure.Reason.Should().Be(RequestFailureReason.InvalidRedirect);
        failure.Message.Should().Contain("'ftp'");
    }

    [Fact]
    public async Task SendAsync_RedirectLoop_TypedTooManyRedirects()
    {
        using var sut = CreateSut(o => o.MaxRedirects = 3);
        sut.Handler.Responder = _ => FakeHandler.Response(HttpStatusCode.Found, "", m => m.Headers.Location = new Uri("http://a.test/again"));

        var failure = (await FluentActions.Awaiting(() => sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"))).Should().ThrowAsync<RequestFailedException>()).Which;
        failure.Reason.Should().Be(RequestFailureReason.TooManyRedirects);
        sut.Handler.Count.Should().Be(4);
    }

    [Fact]
    public async Task SendAsync_MaxRedirectsZero_ReturnsRedirectResponse()
    {
        using var sut = CreateSut(o => o.MaxRedirects = 0);
        sut.Handler.Responder = _ => FakeHandler.Response(HttpStatusCode.Found, "", m => m.Headers.Location = new Uri("http://b.test/"));

        var response = await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"));
        response.StatusCode.Should().Be(HttpStatusCode.Found);
        response.Headers.Location.Should().Be(new Uri("http://b.test/"));
    }

    [Fact]
    public async Task SendAsync_BodyOverCap_TypedResponseTooLargeAndNotRetried()
    {
        using var sut = CreateSut(o => o.MaxResponseBodySize = 10);
        sut.Handler.Responder = _ => FakeHandler.Response(HttpStatusCode.OK, new string('x', 11));

        var failure = (await FluentActions.Awaiting(() => sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"))).Should().ThrowAsync<RequestFailedException>()).Which;
        failure.Reason.Should().Be(RequestFailureReason.ResponseTooLarge);
        sut.Handler.Count.Should().Be(1);
    }

    [Fact]
    public async Task SendAsync_BodyOfUnknownLengthOverCap_TypedResponseTooLarge()
    {
        using var sut = CreateSut(o => o.MaxResponseBodySize = 100_000);
        sut.Handler.Responder = _ => new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new UnknownLengthStream(200_000)) };

        var failure = (await FluentActions.Awaiting(() => sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"))).Should().ThrowAsync<RequestFailedException>()).Which;
        failure.Reason.Should().Be(RequestFailureReason.ResponseTooLarge);

        sut.Handler.Responder = _ => new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new UnknownLengthStream(99_999)) };
        (await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"))).Body.Length.Should().Be(99_999);
    }

    [Fact]
    public async Task SendAsync_PostWithServerError_NotRetriedUnlessAllowed()
    {
        using var strict = CreateSut(o => o.Retry.BaseDelay = TimeSpan.Zero);
        strict.Handler.Responder = _ => FakeHandler.Response(HttpStatusCode.InternalServerError);
        var response = await strict.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { Method = HttpMethod.Post });
        response.Attempts.Should().Be(1);

        using var lenient = CreateSut(o =>
        {
            o.Retry.BaseDelay = TimeSpan.Zero;
            o.Retry.RetryNonIdempotent = true;
        });
        lenient.Handler.Responder = _ => FakeHandler.Response(HttpStatusCode.InternalServerError);
        (await lenient.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { Method = HttpMethod.Post })).Attempts.Should().Be(4);
    }

    [Fact]
    public async Task SendAsync_NotFound_IsAResponseNotRetried()
    {
        using var sut = CreateSut();
        sut.Handler.Responder = _ => FakeHandler.Response(HttpStatusCode.NotFound);
        var response = await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"));
        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        response.Attempts.Should().Be(1);
        FluentActions.Invoking(() => response.EnsureSuccessStatusCode()).Should().Throw<RequestFailedException>()
            .Which.Reason.Should().Be(RequestFailureReason.UnsuccessfulStatusCode);
    }

    [Fact]
    public async Task SendAsync_RetryGoesBackThroughHostLimit()
    {
        using var sut = CreateSut(o =>
        {
            o.DefaultHost.MaxConcurrency = 1;
            o.Retry.BaseDelay = TimeSpan.Zero;
        });
        var a = sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/a"));
        await Eventually.TrueAsync(() => sut.Handler.Count == 1, "a in flight");
        var b = sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/b"));
        await Eventually.TrueAsync(() => sut.Scheduler.GetSnapshot().Queued == 1, "b queued");

        sut.Handler.Next().Respond(HttpStatusCode.ServiceUnavailable);

        // The retry of a queues behind b: b goes first.
        await Eventually.TrueAsync(() => sut.Handler.Count == 2, "b dispatched");
        var second = sut.Handler.Next();
        second.Uri.AbsolutePath.Should().Be("/b");
        sut.Handler.MaxInFlight.Should().Be(1);
        second.Respond(HttpStatusCode.OK);
        await Eventually.TrueAsync(() => sut.Handler.Count == 3, "retry of a dispatched");
        sut.Handler.Next().Respond(HttpStatusCode.OK);
        (await a).Attempts.Should().Be(2);
        await b;
    }

    [Fact]
    public async Task Dispose_QueuedAndInFlightRequestsFailWithTypedError()
    {
        var sut = CreateSut(o => o.DefaultHost.MaxConcurrency = 1);
        var inFlight = sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/1"));
        await Eventually.TrueAsync(() => sut.Handler.Count == 1, "in flight");
        var queued = sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/2"));
        await Eventually.TrueAsync(() => sut.Scheduler.GetSnapshot().Queued == 1, "queued");

        sut.Dispose();

        (await FluentActions.Awaiting(() => queued).Should().ThrowAsync<RequestFailedException>()).Which.Reason.Should().Be(RequestFailureReason.SchedulerDisposed);
        (await FluentActions.Awaiting(() => inFlight).Should().ThrowAsync<RequestFailedException>()).Which.Reason.Should().Be(RequestFailureReason.SchedulerDisposed);
    }

    private sealed class UnknownLengthStream(int length) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(count, length - _position);
            buffer.AsSpan(offset, n).Fill((byte)'y');
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
