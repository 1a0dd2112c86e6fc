using System.Diagnostics;
using CsCheck;
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

    [Fact]
    public void EqualLengths_AllowWins_WhicheverComesFirst()
    {
        var rules = RobotsRules.Parse("User-agent: *\nAllow: /p*ge\nDisallow: /pa*e\nDisallow: /longer-page\n", "x");

        rules.IsAllowed("/page").Should().BeTrue("both five-octet patterns match and Allow wins the tie");
        rules.IsAllowed("/longer-page").Should().BeFalse("the longest match wins");
    }

    // RFC 9309, section 2.2.2: the table of paths and their encodings.
    [Theory]
    [InlineData("/foo/bar?baz=quz", "/foo/bar?baz=quz", false)]
    [InlineData("/foo/bar?baz=https%3A%2F%2Ffoo.bar", "/foo/bar?baz=https%3a%2f%2ffoo.bar", false)]
    [InlineData("/100%", "/100%25", false)]
    [InlineData("/foo/bar/\u30C4", "/foo/bar/%E3%83%84", false)]
    [InlineData("/foo/bar/%E3%83%84", "/foo/bar/%e3%83%84", false)]
    [InlineData("/foo/bar/%62%61%7A", "/foo/bar/baz", false)]
    [InlineData("/foo/bar/baz", "/foo/bar/%62%61%7a", false)]
    [InlineData("/a%2Fb", "/a/b", true)]
    [InlineData("/a/b", "/a%2fb", true)]
    public void PercentEncoding_IsNormalisedBeforeMatching(string pattern, string path, bool allowed)
    {
        var rules = RobotsRules.Parse($"User-agent: *\nDisallow: {pattern}$\n", "x");

        rules.IsAllowed(path).Should().Be(allowed, $"'{pattern}' against '{path}'");
    }

    [Theory]
    [InlineData("/fish$", "/fish", false)]
    [InlineData("/fish$", "/fish/", true)]
    [InlineData("/fish$", "/fish?x=1", true)]
    [InlineData("/*.php$", "/folder/filename.php", false)]
    [InlineData("/*.php$", "/filename.php?parameters", true)]
    [InlineData("/*.php$", "/filename.php5", true)]
    [InlineData("/fish*", "/fishheads/yummy.html", false)]
    [InlineData("/fish*", "/Fish.asp", true)]
    [InlineData("/*$", "/anything/at/all", false)]
    [InlineData("/a$b", "/a$b/c", false)]
    public void Anchors_AndWildcards(string pattern, string path, bool allowed)
    {
        var rules = RobotsRules.Parse($"User-agent: *\nDisallow: {pattern}\n", "x");

        rules.IsAllowed(path).Should().Be(allowed, $"'{pattern}' against '{path}'");
    }

    [Fact]
    public void RobotsTxtItself_IsAlwaysAllowed()
    {
        RobotsRules.Parse("User-agent: *\nDisallow: /\n", "x").IsAllowed("/robots.txt").Should().BeTrue();
        RobotsRules.DisallowAll("status 503").IsAllowed("/robots.txt").Should().BeTrue();
        RobotsRules.DisallowAll("status 503").IsAllowed("/").Should().BeFalse();
    }

    [Fact]
    public void OnlyTheFirst500KiB_AreParsed()
    {
        var filler = new string('#', RobotsRules.MaxSize);
        var rules = RobotsRules.Parse("User-agent: *\nDisallow: /early\n" + filler + "\nDisallow: /late\n", "x");

        rules.IsAllowed("/early").Should().BeFalse();
        rules.IsAllowed("/late").Should().BeTrue("a rule past 500 KiB is never read");
    }

    [Fact]
    public void SitemapLines_DoNotSplitAGroupOfAgents()
    {
        var rules = RobotsRules.Parse("\uFEFFUser-agent: a\nSitemap: http://x/s.xml\nUser-agent: ProxyScheduler\nDisallow: /both\n", "ProxyScheduler");

        rules.IsAllowed("/both").Should().BeFalse();
    }

    // A robots.txt ("A site's robots.txt can freeze the process"): the pattern that took the backtracking matcher
    // over 60 s on a 100-character path answers at once on a 10 KB one.
    [Fact]
    public void ASitesRobotsTxtCanFreezeTheProcess_PathologicalPattern_AnswersInMilliseconds()
    {
        var rules = RobotsRules.Parse("User-agent: *\nDisallow: /*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b\nDisallow: /*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b$\n", "x");
        var path = "/" + new string('a', 10_000);

        var watch = Stopwatch.StartNew();
        var allowed = rules.IsAllowed(path);
        var matchedB = rules.IsAllowed(path + "b");
        watch.Stop();

        allowed.Should().BeTrue();
        matchedB.Should().BeFalse();
        watch.ElapsedMilliseconds.Should().BeLessThan(1_000, "matching is linear; the old matcher needed exponential time");
    }

    // Property: the compiled matcher agrees with a plain dynamic-programming reference on random patterns and paths.
    [Fact]
    public void Matcher_AgreesWithAReference_OnRandomPatternsAndPaths()
    {
        var pattern = Gen.Select(Gen.String[Gen.Char["ab/*"], 0, 12], Gen.Bool).Select((body, anchored) => "/" + body + (anchored ? "$" : ""));
        var path = Gen.String[Gen.Char["ab/"], 0, 24].Select(p => "/" + p);

        Gen.Select(pattern, path).Sample((p, q) => RobotsPattern.Compile(p, allow: false).Matches(q) == ReferenceMatches(p, q), iter: 20_000);
    }

    // Property: the decision (longest match wins, Allow on a tie, no match allows) agrees with the reference on random rule sets.
    [Fact]
    public void Decision_AgreesWithAReference_OnRandomRuleSets()
    {
        var rule = Gen.Select(Gen.Bool, Gen.String[Gen.Char["ab*"], 0, 6], Gen.Bool)
            .Select((allow, body, anchored) => (Allow: allow, Pattern: "/" + body + (anchored ? "$" : "")));
        var path = Gen.String[Gen.Char["ab"], 0, 10].Select(p => "/" + p);

        Gen.Select(rule.Array[0, 6], path).Sample((set, q) =>
        {
            var text = "User-agent: *\n" + string.Concat(set.Select(r => (r.Allow ? "Allow: " : "Disallow: ") + r.Pattern + "\n"));
            var best = -1;
            var expected = true;
            foreach (var (allow, p) in set.Where(r => ReferenceMatches(r.Pattern, q)))
            {
                if (p.Length > best || (p.Length == best && allow))
                {
                    best = p.Length;
                    expected = allow;
                }
            }

            return RobotsRules.Parse(text, "x").IsAllowed(q) == expected;
        }, iter: 10_000);
    }

    // Property: normalisation is idempotent, and a percent-encoded unreserved character equals the character itself.
    [Fact]
    public void Normalisation_IsIdempotent_AndDecodesOnlyUnreservedOctets()
    {
        var text = Gen.String[Gen.Char["a/%2F4e7Eü~ *$"], 0, 20];

        text.Sample(t => RobotsPath.Normalize(RobotsPath.Normalize(t)) == RobotsPath.Normalize(t), iter: 10_000);
        Gen.Char["abcXYZ019-._~"].Sample(c => RobotsPath.Normalize($"/%{(int)c:X2}") == $"/{c}" && RobotsPath.Normalize($"/%{(int)c:x2}") == $"/{c}");
        Gen.Char["/?:@!$&'()*+,;=#[]"].Sample(c => RobotsPath.Normalize($"/%{(int)c:x2}") == $"/%{(int)c:X2}");
    }

    // The reference: O(pattern × path) dynamic programming straight from the RFC's definition.
    private static bool ReferenceMatches(string pattern, string path)
    {
        var anchored = pattern.EndsWith('$');
        var p = anchored ? pattern[..^1] : pattern;
        var reach = new bool[path.Length + 1];
        reach[0] = true;
        foreach (var c in p)
        {
            var next = new bool[path.Length + 1];
            for (var i = 0; i <= path.Length; i++)
            {
                if (c == '*')
                {
                    next[i] = reach[i] || (i > 0 && next[i - 1]);
                }
                else if (i > 0 && reach[i - 1] && path[i - 1] == c)
                {
                    next[i] = true;
                }
            }

            reach = next;
        }

        return anchored ? reach[path.Length] : reach.Any(r => r);
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
    public async Task Cache_AFetchThatFails_DisallowsEverything_UntilTheRetryInterval()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var calls = 0;
        var cache = new RobotsCache(new ProxyScheduler.Politeness.RobotsOptions { UnreachableRetryInterval = TimeSpan.FromSeconds(30) }, time, _ =>
            Interlocked.Increment(ref calls) == 1
                ? Task.FromException<RobotsRules>(new HttpRequestException("refused"))
                : Task.FromResult(RobotsRules.AllowAll));

        var rules = await cache.GetAsync(new Uri("http://down.test/"));
        rules.IsAllowed("/anything").Should().BeFalse("RFC 9309: an unreachable robots.txt means complete disallow");
        rules.Unreachable.Should().Be(nameof(HttpRequestException));

        time.Advance(TimeSpan.FromSeconds(29));
        (await cache.GetAsync(new Uri("http://down.test/"))).IsAllowed("/anything").Should().BeFalse();
        time.Advance(TimeSpan.FromSeconds(1));
        (await cache.GetAsync(new Uri("http://down.test/"))).IsAllowed("/anything").Should().BeTrue("fetched again after the retry interval");
        calls.Should().Be(2);
    }

    [Fact]
    public async Task Cache_AFailedRefetch_KeepsTheLastCopyReadFine()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var calls = 0;
        var good = RobotsRules.Parse("User-agent: *\nDisallow: /private\n", "x");
        var cache = new RobotsCache(new ProxyScheduler.Politeness.RobotsOptions { CacheDuration = TimeSpan.FromMinutes(5) }, time, _ =>
            Task.FromResult(Interlocked.Increment(ref calls) == 1 ? good : RobotsRules.DisallowAll("status 503")));

        (await cache.GetAsync(new Uri("http://flaky.test/"))).IsAllowed("/public").Should().BeTrue();
        time.Advance(TimeSpan.FromMinutes(5));
        var again = await cache.GetAsync(new Uri("http://flaky.test/"));
        time.Advance(TimeSpan.FromMinutes(1));
        var third = await cache.GetAsync(new Uri("http://flaky.test/"));

        calls.Should().Be(3, "the failed refetch is retried after the retry interval");
        again.Should().BeSameAs(good, "the last copy read fine stays in force while the site cannot be reached");
        third.Should().BeSameAs(good);
    }
}
