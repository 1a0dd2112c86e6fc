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
    [InlineData(500, "oops")]
    [InlineData(200, "<html>this is not a robots file</html>\nDisallow /\n")]
    public async Task MissingOrBrokenRobots_MeansAllowed(int status, string body)
    {
        var host = Server.Hosts[3 + (status % 7)];
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
}
