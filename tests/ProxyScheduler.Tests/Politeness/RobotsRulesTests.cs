using ProxyScheduler.Politeness.Internal;

namespace ProxyScheduler.Tests.Politeness;

public sealed class RobotsRulesTests
{
    private const string Robots = """
        # comments are ignored
        User-agent: OtherBot
        Disallow: /

        User-agent: ProxyScheduler
        User-agent: Shared
        Disallow: /private
        Allow: /private/open
        Disallow: /*.pdf$
        Disallow: /search*q=
        Crawl-delay: 2.5

        User-agent: *
        Disallow: /everyone-but-us
        """;

    [Theory]
    [InlineData("/", true)]
    [InlineData("/private", false)]
    [InlineData("/private/secret", false)]
    [InlineData("/private/open/page", true)]
    [InlineData("/docs/file.pdf", false)]
    [InlineData("/docs/file.pdf?x=1", true)]
    [InlineData("/search?lang=en&q=shoes", false)]
    [InlineData("/search?lang=en", true)]
    [InlineData("/everyone-but-us", true)]
    public void OwnGroup_LongestMatchWins_WithWildcardsAndAnchors(string path, bool allowed)
    {
        var rules = RobotsRules.Parse(Robots, "ProxyScheduler/1.0");

        rules.IsAllowed(path).Should().Be(allowed);
        rules.CrawlDelay.Should().Be(TimeSpan.FromSeconds(2.5));
    }

    [Fact]
    public void OtherAgent_FallsBackToTheStarGroup()
    {
        var rules = RobotsRules.Parse(Robots, "SomeCrawler");

        rules.IsAllowed("/everyone-but-us").Should().BeFalse();
        rules.IsAllowed("/private").Should().BeTrue();
        rules.CrawlDelay.Should().BeNull();
    }

    [Theory]
    [InlineData("")]
    [InlineData("<html><body>Not Found</body></html>")]
    [InlineData("\u0000\u0001garbage: : :")]
    [InlineData("Disallow: /no-group-before-me")]
    public void MissingOrBrokenFile_AllowsEverything(string text)
    {
        var rules = RobotsRules.Parse(text, "ProxyScheduler");

        rules.IsAllowed("/anything").Should().BeTrue();
        rules.IsAllowed("/no-group-before-me").Should().BeTrue();
    }

    [Fact]
    public void EqualLengths_AllowWins()
    {
        var rules = RobotsRules.Parse("User-agent: *\nDisallow: /page\nAllow: /page\n", "x");

        rules.IsAllowed("/page").Should().BeTrue();
    }
}

public sealed class RobotsCacheTests
{
    [Fact]
    public async Task Cache_FetchesOncePerOrigin_ExpiresAfterItsDuration_AndForgetsTheLeastRecentlyUsedPastItsBound()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var fetched = new List<string>();
        var cache = new RobotsCache(new ProxyScheduler.Politeness.RobotsOptions { CacheDuration = TimeSpan.FromMinutes(10), MaxHosts = 2 }, time, uri =>
        {
            lock (fetched)
            {
                fetched.Add(uri.ToString());
            }

            return Task.FromResult(RobotsRules.AllowAll);
        });

        await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => cache.GetAsync(new Uri("http://a.test/x"))));
        fetched.Should().Equal("http://a.test/robots.txt");

        time.Advance(TimeSpan.FromMinutes(10));
        await cache.GetAsync(new Uri("http://a.test/y"));
        fetched.Should().HaveCount(2, "an expired robots.txt is fetched again");

        await cache.GetAsync(new Uri("http://b.test/"));
        await cache.GetAsync(new Uri("https://a.test/"));
        cache.Count.Should().Be(2, "no more than MaxHosts are kept");
        await cache.GetAsync(new Uri("http://a.test/z"));
        fetched.Should().HaveCount(5, "http://a.test was the least recently used and was forgotten");
        fetched.Should().Contain("https://a.test/robots.txt", "the origin includes the scheme");
    }

    [Fact]
    public async Task Cache_AFetchThatFails_AllowsEverything()
    {
        var cache = new RobotsCache(new ProxyScheduler.Politeness.RobotsOptions(), TimeProvider.System, _ => Task.FromException<RobotsRules>(new HttpRequestException("refused")));

        var rules = await cache.GetAsync(new Uri("http://down.test/"));

        rules.IsAllowed("/anything").Should().BeTrue();
    }
}
