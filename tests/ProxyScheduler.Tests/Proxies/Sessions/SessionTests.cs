using System.Net;
using ProxyScheduler.Proxies;
using ProxyScheduler.Proxies.Sessions;
using ProxyScheduler.Tests.TestSupport;

namespace ProxyScheduler.Tests.Proxies.Sessions;

public sealed class SessionTests
{
    private static readonly ProxyEndpoint[] Pool = [.. Enumerable.Range(1, 6).Select(i => ProxyEndpoint.Parse($"http://10.0.{i}.1:8080"))];

    private static ProxyTestScheduler CreateSut(Action<SessionOptions>? sessions = null, Action<ProxySchedulerOptions>? configure = null) =>
        new(Pool, o =>
        {
            o.DefaultHost.MaxConcurrency = 100;
            o.MaxConcurrency = 100;
            sessions?.Invoke(o.Sessions);
            configure?.Invoke(o);
        });

    private static Task<HttpResponseMessage> Refused() =>
        Task.FromException<HttpResponseMessage>(new HttpRequestException(HttpRequestError.ConnectionError, "refused (fake)"));

    private static ScheduledRequest Request(string session, string host = "a.test") => new($"http://{host}/") { SessionKey = session };

    [Fact]
    public async Task Sticky_EachSessionKeepsOneIdentity_WhileSessionsSpreadOverThePool()
    {
        using var sut = CreateSut();
        var used = new Dictionary<string, HashSet<string>>();

        for (var round = 0; round < 10; round++)
        {
            for (var s = 0; s < 20; s++)
            {
                var response = await sut.Scheduler.SendAsync(Request($"user-{s}", $"h{round % 3}.test"));
                (used.TryGetValue($"user-{s}", out var set) ? set : used[$"user-{s}"] = []).Add(response.Proxy!.Id);
                response.SessionRebound.Should().BeFalse();
            }
        }

        used.Values.Should().OnlyContain(set => set.Count == 1, "every request of a session used one identity");
        used.Values.Select(set => set.Single()).Distinct().Count().Should().BeGreaterThan(2, "different sessions are spread over the pool");
    }

    [Fact]
    public async Task Binding_EndsAfterTheIdleTimeout()
    {
        using var sut = CreateSut(s => s.IdleTimeout = TimeSpan.FromMinutes(1));
        var store = sut.Get<ISessionStore>();

        await sut.Scheduler.SendAsync(Request("s"));
        sut.Time.Advance(TimeSpan.FromSeconds(59));
        (await sut.Scheduler.SendAsync(Request("s"))).SessionRebound.Should().BeFalse("used within the idle timeout");
        sut.Time.Advance(TimeSpan.FromMinutes(1));

        (await sut.Scheduler.SendAsync(Request("s"))).SessionRebound.Should().BeTrue("idle for a minute: the binding ended");
        store.GetOrCreate("s", sut.Time.GetUtcNow()).Rebinds.Should().Be(1);
    }

    [Fact]
    public async Task Binding_EndsAfterMaxUses()
    {
        using var sut = CreateSut(s => s.MaxUses = 5);

        for (var i = 0; i < 5; i++)
        {
            (await sut.Scheduler.SendAsync(Request("s"))).SessionRebound.Should().BeFalse();
        }

        (await sut.Scheduler.SendAsync(Request("s"))).SessionRebound.Should().BeTrue("the sixth use needs a new binding");
    }

    [Fact]
    public async Task Binding_EndsAfterItsLifetime_HoweverBusy()
    {
        using var sut = CreateSut(s =>
        {
            s.IdleTimeout = TimeSpan.FromMinutes(1);
            s.Lifetime = TimeSpan.FromMinutes(10);
        });

        await sut.Scheduler.SendAsync(Request("s"));
        for (var i = 0; i < 11; i++)
        {
            sut.Time.Advance(TimeSpan.FromSeconds(50));
            (await sut.Scheduler.SendAsync(Request("s"))).SessionRebound.Should().BeFalse($"9 min 10 s at most ({i})");
        }

        sut.Time.Advance(TimeSpan.FromSeconds(50));
        (await sut.Scheduler.SendAsync(Request("s"))).SessionRebound.Should().BeTrue("past its lifetime the binding ended");
    }

    [Fact]
    public async Task ProxyFailure_RebindsTheSession_AndTheResponseSaysSo()
    {
        using var sut = CreateSut();
        var first = await sut.Scheduler.SendAsync(Request("s"));
        var dead = first.Proxy!.Id;
        sut.Behavior = (id, _) => id == dead ? Refused() : Task.FromResult(FakeHandler.Response(HttpStatusCode.OK));

        var moved = await sut.Scheduler.SendAsync(Request("s"));

        moved.SessionRebound.Should().BeTrue();
        moved.ProxiesTried.Should().Equal(dead, moved.Proxy!.Id);
        for (var i = 0; i < 5; i++)
        {
            var next = await sut.Scheduler.SendAsync(Request("s"));
            next.Proxy!.Id.Should().Be(moved.Proxy.Id, "the session sticks to its new identity");
            next.SessionRebound.Should().BeFalse();
        }
    }

    [Fact]
    public async Task FailPolicy_ALostBindingFailsTheSessionsRequests()
    {
        using var sut = CreateSut(s => s.WhenBindingLost = SessionBindingPolicy.Fail);
        var dead = (await sut.Scheduler.SendAsync(Request("s"))).Proxy!.Id;
        sut.Behavior = (id, _) => id == dead ? Refused() : Task.FromResult(FakeHandler.Response(HttpStatusCode.OK));

        var failure = await FluentActions.Awaiting(() => sut.Scheduler.SendAsync(Request("s"))).Should().ThrowAsync<RequestFailedException>();
        failure.Which.Reason.Should().Be(RequestFailureReason.SessionLost);
        failure.Which.Message.Should().NotContain("\"s\"");
        (await FluentActions.Awaiting(() => sut.Scheduler.SendAsync(Request("s"))).Should().ThrowAsync<RequestFailedException>())
            .Which.Reason.Should().Be(RequestFailureReason.SessionLost, "the session stays failed");
        (await sut.Scheduler.SendAsync(Request("other"))).StatusCode.Should().Be(HttpStatusCode.OK, "other sessions are not affected");
    }

    [Fact]
    public async Task Block_RetiresTheBinding_ButThrottlingNever()
    {
        using var sut = CreateSut(configure: o => o.Retry.MaxRetries = 2);
        var bound = (await sut.Scheduler.SendAsync(Request("s"))).Proxy!.Id;
        var throttle = 2;
        sut.Behavior = (_, _) => Task.FromResult(Interlocked.Decrement(ref throttle) >= 0
            ? FakeHandler.Response(HttpStatusCode.TooManyRequests, "slow down", r => r.Headers.RetryAfter = new(TimeSpan.Zero))
            : FakeHandler.Response(HttpStatusCode.OK));

        var throttled = await sut.Scheduler.SendAsync(Request("s"));
        throttled.Proxy!.Id.Should().Be(bound);
        throttled.SessionRebound.Should().BeFalse("a 429 is the host's matter: the session keeps its identity");
        throttled.ProxiesTried.Should().OnlyContain(id => id == bound);

        sut.Behavior = (id, _) => Task.FromResult(id == bound ? FakeHandler.Response(HttpStatusCode.Forbidden, "blocked") : FakeHandler.Response(HttpStatusCode.OK));
        var blocked = await sut.Scheduler.SendAsync(Request("s"));
        blocked.SessionRebound.Should().BeTrue("a block is the session's matter: it moves to another identity");
        blocked.Proxy!.Id.Should().NotBe(bound);
    }

    [Fact]
    public async Task Rotation_PerRequestSpreads_FixedKeepsOneIdentityPerHost()
    {
        using var sut = CreateSut();
        var perRequest = new HashSet<string>();
        for (var i = 0; i < 30; i++)
        {
            perRequest.Add((await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { SessionKey = "s", Rotation = ProxyRotation.PerRequest })).Proxy!.Id);
        }

        perRequest.Count.Should().BeGreaterThan(1, "per-request rotation ignores the session's binding");

        var fixedA = new HashSet<string>();
        var fixedB = new HashSet<string>();
        for (var i = 0; i < 15; i++)
        {
            fixedA.Add((await sut.Scheduler.SendAsync(new ScheduledRequest("http://fa.test/") { Rotation = ProxyRotation.Fixed })).Proxy!.Id);
            fixedB.Add((await sut.Scheduler.SendAsync(new ScheduledRequest("http://fb.test/") { Rotation = ProxyRotation.Fixed, SessionKey = $"k{i}" })).Proxy!.Id);
        }

        fixedA.Should().ContainSingle("fixed rotation keeps one identity for everything to a host");
        fixedB.Should().ContainSingle("whatever the session keys");
    }

    [Fact]
    public async Task Pacing_SpacesOneSessionsStarts_NotOtherSessions()
    {
        using var sut = CreateSut(s => s.MinDelay = TimeSpan.FromSeconds(2));

        await sut.Scheduler.SendAsync(Request("s"));
        var second = sut.Scheduler.SendAsync(Request("s"));
        (await sut.Scheduler.SendAsync(Request("other")).WaitAsync(TimeSpan.FromSeconds(5))).StatusCode.Should().Be(HttpStatusCode.OK, "another session is not held");
        await Eventually.TrueAsync(() => sut.Scheduler.GetSnapshot().Queued == 1, "the session's second request waits out its pacing");
        second.IsCompleted.Should().BeFalse();

        sut.Time.Advance(TimeSpan.FromSeconds(2));

        (await second.WaitAsync(TimeSpan.FromSeconds(5))).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Cookies_BelongToTheirSession_AndAreDroppedOnANewIdentity()
    {
        using var sut = CreateSut(s => s.UseCookies = true);
        var seen = new System.Collections.Concurrent.ConcurrentQueue<(string Path, string? Cookie)>();
        sut.Behavior = (_, request) =>
        {
            seen.Enqueue((request.RequestUri!.AbsolutePath, request.Headers.TryGetValues("Cookie", out var c) ? string.Join(";", c) : null));
            return Task.FromResult(FakeHandler.Response(HttpStatusCode.OK, "ok", r =>
            {
                if (request.RequestUri.AbsolutePath == "/login")
                {
                    r.Headers.Add("Set-Cookie", $"sid={request.RequestUri.Query.TrimStart('?')}; Path=/");
                }
            }));
        };

        await sut.Scheduler.SendAsync(new ScheduledRequest("http://shop.test/login?alice") { SessionKey = "alice" });
        await sut.Scheduler.SendAsync(new ScheduledRequest("http://shop.test/login?bob") { SessionKey = "bob" });
        await sut.Scheduler.SendAsync(new ScheduledRequest("http://shop.test/cart") { SessionKey = "alice" });
        await sut.Scheduler.SendAsync(new ScheduledRequest("http://shop.test/cart") { SessionKey = "bob" });
        await sut.Scheduler.SendAsync(new ScheduledRequest("http://shop.test/cart"));

        seen.Where(s => s.Path == "/cart").Select(s => s.Cookie).Should().Equal("sid=alice", "sid=bob", null);

        var bound = (await sut.Scheduler.SendAsync(new ScheduledRequest("http://shop.test/x") { SessionKey = "alice" })).Proxy!.Id;
        sut.Behavior = (id, request) =>
        {
            seen.Enqueue((request.RequestUri!.AbsolutePath, request.Headers.TryGetValues("Cookie", out var c) ? string.Join(";", c) : null));
            return id == bound ? Refused() : Task.FromResult(FakeHandler.Response(HttpStatusCode.OK));
        };
        var moved = await sut.Scheduler.SendAsync(new ScheduledRequest("http://shop.test/after") { SessionKey = "alice" });

        moved.SessionRebound.Should().BeTrue();
        seen.Last().Cookie.Should().BeNull("a new identity starts without the old one's cookies");
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("tab\there")]
    public void SessionKey_Invalid_FailsAtOnceWithoutRepeatingIt(string key) =>
        FluentActions.Invoking(() => new ScheduledRequest("http://a.test/") { SessionKey = key }).Should().Throw<ArgumentException>()
            .Where(e => e.ParamName == "SessionKey" && (key.Trim().Length == 0 || !e.Message.Contains(key, StringComparison.Ordinal)));

    [Fact]
    public void SessionKey_TooLong_FailsNamingTheLimit() =>
        FluentActions.Invoking(() => new ScheduledRequest("http://a.test/") { SessionKey = new string('k', 257) }).Should().Throw<ArgumentException>().WithMessage("*at most 256*");

    [Fact]
    public void InMemoryStore_IsBounded_ForgettingTheLeastRecentlyUsed()
    {
        var sut = new ProxyScheduler.Fleet.InMemorySessionStore(3);
        var now = DateTimeOffset.UnixEpoch;
        var a = sut.GetOrCreate("a", now);
        sut.GetOrCreate("b", now);
        sut.GetOrCreate("c", now);
        sut.GetOrCreate("a", now).Should().BeSameAs(a, "a was used again");
        sut.GetOrCreate("d", now);

        sut.Count.Should().Be(3);
        sut.GetOrCreate("a", now).Should().BeSameAs(a);
        sut.Remove("b").Should().BeFalse("b was the least recently used, and was forgotten");
        a.ToString().Should().NotContain("\"a\"");
    }
}
