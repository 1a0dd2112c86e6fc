using System.Net;
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler.Testing;

namespace ProxyScheduler.IntegrationTests;

/// <summary>robots.txt against a loopback Kestrel target that logs every request it receives.</summary>
public sealed class RobotsTests(TargetServerFixture fixture) : IClassFixture<TargetServerFixture>, IDisposable
{
    private ServiceProvider? _provider;

    private TargetServer Server => fixture.Server;

    public void Dispose() => _provider?.Dispose();

    private IRequestScheduler CreateSut(Action<ProxySchedulerOptions>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddProxyScheduler(o =>
        {
            o.Robots.Enabled = true;
            o.Robots.UserAgent = "ProxyScheduler-Test";
            configure?.Invoke(o);
        });
        _provider = services.BuildServiceProvider();
        return _provider.GetRequiredService<IRequestScheduler>();
    }

    private List<(int Port, string PathAndQuery, string UserAgent, DateTimeOffset At)> LogOf(Uri host) =>
        Server.Log.Where(l => l.Port == host.Port).ToList();

    [Fact]
    public async Task DisallowedPaths_AreNeverRequested_AndFailWithATypedError_RobotsFetchedOnce()
    {
        var host = Server.Hosts[1];
        Server.SetRobots(host, 200, "User-agent: *\nDisallow: /\n\nUser-agent: ProxyScheduler-Test\nDisallow: /private\nAllow: /\n");
        var sut = CreateSut();
        var requests = Enumerable.Range(0, 60).Select(i => new ScheduledRequest(new Uri(host, i % 3 == 0 ? $"private/page?i={i}" : $"status/200?i={i}")));

        var outcomes = await sut.SendAllAsync(requests).ToListAsync();
        var single = async () => await sut.SendAsync(new ScheduledRequest(new Uri(host, "private/one")));

        outcomes.Should().HaveCount(60);
        outcomes.Where(o => o.Request!.RequestUri.AbsolutePath.StartsWith("/private", StringComparison.Ordinal)).Should().HaveCount(20)
            .And.OnlyContain(o => ((RequestFailedException)o.Exception!).Reason == RequestFailureReason.DisallowedByRobots);
        outcomes.Where(o => !o.Request!.RequestUri.AbsolutePath.StartsWith("/private", StringComparison.Ordinal)).Should().OnlyContain(o => o.Response!.StatusCode == HttpStatusCode.OK);
        (await single.Should().ThrowAsync<RequestFailedException>()).Which.Reason.Should().Be(RequestFailureReason.DisallowedByRobots);

        var log = LogOf(host);
        log.Should().NotContain(l => l.PathAndQuery.StartsWith("/private", StringComparison.Ordinal), "a disallowed path is never sent");
        log.Where(l => l.PathAndQuery == "/robots.txt").Should().ContainSingle("the host's robots.txt is fetched once and cached")
            .Which.UserAgent.Should().Be("ProxyScheduler-Test");
        log.Should().HaveCount(1 + 40);
    }

    [Fact]
    public async Task CrawlDelay_BecomesTheHostsMinimumDelay()
    {
        var host = Server.Hosts[2];
        Server.SetRobots(host, 200, "User-agent: *\nCrawl-delay: 0.2\n");
        var sut = CreateSut(o => o.DefaultHost.MaxConcurrency = 8);

        var outcomes = await sut.SendAllAsync(Enumerable.Range(0, 6).Select(i => new ScheduledRequest(new Uri(host, $"status/200?c={i}")))).ToListAsync();

        outcomes.Should().OnlyContain(o => o.HasResponse);
        var arrivals = LogOf(host).Where(l => l.PathAndQuery.StartsWith("/status", StringComparison.Ordinal)).Select(l => l.At).Order().ToList();
        arrivals.Should().HaveCount(6);
        arrivals.Zip(arrivals.Skip(1), (a, b) => b - a).Should().OnlyContain(gap => gap >= TimeSpan.FromMilliseconds(190), "starts are at least the crawl delay apart, though eight could go at once");
    }

    [Theory]
    [InlineData(404, "not here")]
    [InlineData(403, "forbidden")]
    [InlineData(410, "gone")]
    [InlineData(200, "<html>this is not a robots file</html>\nDisallow /\n")]
    public async Task MissingOrBrokenRobots_4xx_MeansAllowed(int status, string body)
    {
        var host = Server.Hosts[3 + (status % 9)];
        Server.SetRobots(host, status, body);
        var sut = CreateSut(o => o.Retry.MaxRetries = 0);

        var response = await sut.SendAsync(new ScheduledRequest(new Uri(host, "status/200?anything")));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        LogOf(host).Should().Contain(l => l.PathAndQuery == "/status/200?anything");
    }

    [Fact]
    public async Task RobotsOff_ByDefault_NothingIsFetched()
    {
        var host = Server.Hosts[12];
        Server.SetRobots(host, 200, "User-agent: *\nDisallow: /\n");
        var services = new ServiceCollection();
        services.AddProxyScheduler();
        _provider = services.BuildServiceProvider();

        var response = await _provider.GetRequiredService<IRequestScheduler>().SendAsync(new ScheduledRequest(new Uri(host, "status/200")));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        LogOf(host).Should().NotContain(l => l.PathAndQuery == "/robots.txt");
    }

    // RFC 9309, 2.3.1.4: a robots.txt the site cannot serve (5xx, 429) means a complete disallow, with a retry later.
    [Theory]
    [InlineData(500, 13)]
    [InlineData(503, 14)]
    [InlineData(429, 15)]
    public async Task UnreachableRobots_5xxOr429_DisallowsEverything_AndIsFetchedAgainLater(int status, int hostIndex)
    {
        var host = Server.Hosts[hostIndex];
        Server.SetRobots(host, status, "try later");
        var sut = CreateSut(o =>
        {
            o.Retry.MaxRetries = 0;
            o.Robots.UnreachableRetryInterval = TimeSpan.FromSeconds(1);
        });

        var failure = await FluentActions.Awaiting(() => sut.SendAsync(new ScheduledRequest(new Uri(host, "status/200?first"))))
            .Should().ThrowAsync<RequestFailedException>();

        failure.Which.Reason.Should().Be(RequestFailureReason.DisallowedByRobots);
        failure.Which.Message.Should().Contain($"status {status}").And.Contain("could not be read").And.Contain("fetched again");
        LogOf(host).Should().NotContain(l => l.PathAndQuery.StartsWith("/status", StringComparison.Ordinal), "nothing is sent while the robots.txt cannot be read");

        Server.SetRobots(host, 200, "User-agent: *\nDisallow: /private\n");
        ScheduledResponse? response = null;
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (response is null && DateTime.UtcNow < deadline)
        {
            try
            {
                response = await sut.SendAsync(new ScheduledRequest(new Uri(host, "status/200?later")));
            }
            catch (RequestFailedException ex) when (ex.Reason == RequestFailureReason.DisallowedByRobots)
            {
                await Task.Delay(100);
            }
        }

        response.Should().NotBeNull("the robots.txt is fetched again after UnreachableRetryInterval and now allows");
        response!.StatusCode.Should().Be(HttpStatusCode.OK);
        LogOf(host).Count(l => l.PathAndQuery == "/robots.txt").Should().BeGreaterThanOrEqualTo(2);
    }

    [Fact]
    public async Task UnreachableRobots_NothingListens_DisallowsEverything_WithTheReason()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // nothing listens there now: connections are refused
        var sut = CreateSut(o => o.Retry.MaxRetries = 0);

        var failure = await FluentActions.Awaiting(() => sut.SendAsync(new ScheduledRequest(new Uri($"http://127.0.0.1:{port}/page"))))
            .Should().ThrowAsync<RequestFailedException>();

        failure.Which.Reason.Should().Be(RequestFailureReason.DisallowedByRobots);
        failure.Which.Message.Should().Contain("could not be read");
    }

    [Fact]
    public async Task SlowRobots_TheFetchIsBoundedByTheAttemptTimeout()
    {
        var host = Server.Hosts[16];
        Server.SetRobots(host, 200, "User-agent: *\nAllow: /\n", delayMs: 10_000);
        var sut = CreateSut(o =>
        {
            o.AttemptTimeout = TimeSpan.FromMilliseconds(500);
            o.Retry.MaxRetries = 0;
        });

        // The site answers after 10 s; the request must fail before it does (a bounded wait of 9 s, which a fetch that
        // waited for the site could not meet), and say that the robots.txt could not be read in time.
        var failure = await FluentActions.Awaiting(() => sut.SendAsync(new ScheduledRequest(new Uri(host, "status/200"))).WaitAsync(TimeSpan.FromSeconds(9)))
            .Should().ThrowAsync<RequestFailedException>();

        failure.Which.Reason.Should().Be(RequestFailureReason.DisallowedByRobots);
        failure.Which.Message.Should().Contain("could not be read", "the fetch gave up at the attempt timeout");
    }

    [Theory]
    [InlineData(4, false)] // five redirects in all: followed, the rules apply
    [InlineData(5, true)]  // six: the file counts as missing, everything allowed
    public async Task RobotsBehindRedirects_AtMostFiveAreFollowed(int hops, bool allowed)
    {
        var host = Server.Hosts[17 + hops];
        Server.SetRobots(host, 301, "User-agent: *\nDisallow: /private\n", redirectTo: $"/hops/{hops}");
        var sut = CreateSut(o => o.Retry.MaxRetries = 0);

        var send = () => sut.SendAsync(new ScheduledRequest(new Uri(host, "private/x")));

        if (allowed)
        {
            (await send()).StatusCode.Should().Be(HttpStatusCode.NotFound);
        }
        else
        {
            (await send.Should().ThrowAsync<RequestFailedException>()).Which.Reason.Should().Be(RequestFailureReason.DisallowedByRobots);
        }
    }

    [Fact]
    public async Task HugeRobots_OnlyTheFirst500KiBAreParsed()
    {
        var host = Server.Hosts[23];
        var filler = string.Concat(Enumerable.Repeat("# padding padding padding padding padding padding padding\n", 12_000));
        Server.SetRobots(host, 200, "User-agent: *\nDisallow: /early\n" + filler + "Disallow: /late\n");
        var sut = CreateSut(o => o.Retry.MaxRetries = 0);

        var early = () => sut.SendAsync(new ScheduledRequest(new Uri(host, "early")));
        (await early.Should().ThrowAsync<RequestFailedException>()).Which.Reason.Should().Be(RequestFailureReason.DisallowedByRobots);
        (await sut.SendAsync(new ScheduledRequest(new Uri(host, "late")))).StatusCode.Should().Be(HttpStatusCode.NotFound, "a rule past 500 KiB is not read");
    }

    [Theory]
    [InlineData("/caf%C3%A9", "café", false, 24)]
    [InlineData("/%7Euser/", "~user/page", false, 25)]
    [InlineData("/fish$", "fish?x", true, 26)]
    [InlineData("/fish$", "fish", false, 27)]
    [InlineData("/*.php$", "dir/a.php", false, 28)]
    [InlineData("/*.php$", "dir/a.php5", true, 0)]
    public async Task RfcMatching_OnARealServer(string pattern, string path, bool allowed, int hostIndex)
    {
        var host = Server.Hosts[hostIndex];
        Server.SetRobots(host, 200, $"User-agent: *\nDisallow: {pattern}\nAllow: /tie\nDisallow: /tie\n");
        var sut = CreateSut(o => o.Retry.MaxRetries = 0);

        var send = () => sut.SendAsync(new ScheduledRequest(new Uri(host, path)));
        if (allowed)
        {
            await send.Should().NotThrowAsync();
        }
        else
        {
            (await send.Should().ThrowAsync<RequestFailedException>()).Which.Reason.Should().Be(RequestFailureReason.DisallowedByRobots);
        }

        await FluentActions.Awaiting(() => sut.SendAsync(new ScheduledRequest(new Uri(host, "tie")))).Should().NotThrowAsync("Allow wins a tie");
    }

    // "A site's robots.txt can freeze the process": the pattern that froze the old matcher, from a real server.
    [Fact]
    public async Task ASitesRobotsTxtCanFreezeTheProcess_PathologicalPattern_AnswersAtOnce()
    {
        var host = Server.Hosts[29];
        Server.SetRobots(host, 200, "User-agent: *\nDisallow: /*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b\n");
        var sut = CreateSut(o => o.Retry.MaxRetries = 0);
        await sut.SendAsync(new ScheduledRequest(new Uri(host, "warm-up"))); // fetches the robots.txt

        // A hang guard, not a timing: the backtracking matcher took over 60 s on a 100-character path; the linear one
        // answers these 10,000-character paths at once (its cost is measured in the benchmarks, not here).
        var disallowed = () => sut.SendAsync(new ScheduledRequest(new Uri(host, new string('a', 10_000) + "b"))).WaitAsync(TimeSpan.FromSeconds(30));
        (await disallowed.Should().ThrowAsync<RequestFailedException>()).Which.Reason.Should().Be(RequestFailureReason.DisallowedByRobots);
        var allowed = await sut.SendAsync(new ScheduledRequest(new Uri(host, new string('a', 6_000)))).WaitAsync(TimeSpan.FromSeconds(30));

        allowed.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }
}
