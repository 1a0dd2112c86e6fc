using ProxyScheduler.Politeness.Internal;


namespace ProxyScheduler.Tests;

public sealed class HostPatternTests
{
    [Theory]
    [InlineData("example.com", "example.com", 80, true)]
    [InlineData("EXAMPLE.com", "example.com", 443, true)]
    [InlineData("example.com", "www.example.com", 80, false)]
    [InlineData("*.example.com", "www.example.com", 80, true)]
    [InlineData("*.example.com", "a.b.example.com", 80, true)]
    [InlineData("*.example.com", "example.com", 80, false)]
    [InlineData("*.example.com", "badexample.com", 80, false)]
    [InlineData("example.com:8080", "example.com", 8080, true)]
    [InlineData("example.com:8080", "example.com", 80, false)]
    [InlineData("127.0.0.1", "127.0.0.1", 5000, true)]
    [InlineData("[::1]:5000", "::1", 5000, true)]
    [InlineData("bücher.de", "xn--bcher-kva.de", 80, true)]
    public void Matches_Host_AsDocumented(string pattern, string host, int port, bool expected)
    {
        HostPattern.Parse(pattern, nameof(pattern)).Matches(new HostKey(host, port)).Should().Be(expected);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("http://example.com", "not a URL")]
    [InlineData("example.com/path", "not a URL")]
    [InlineData("exa mple.com", "not a URL")]
    [InlineData("*", "wildcard")]
    [InlineData("a.*.com", "wildcard")]
    [InlineData("example.com:0", "port")]
    [InlineData("example.com:99999", "port")]
    [InlineData("example.com:http", "port")]
    [InlineData("::1", "brackets")]
    [InlineData("[::1", "no ']'")]
    [InlineData("*.127.0.0.1", "DNS name")]
    [InlineData("-bad-.com!", "DNS name")]
    public void TryParse_Malformed_FailsWithReason(string pattern, string reason)
    {
        HostPattern.TryParse(pattern, out _, out var error).Should().BeFalse();
        error.Should().Contain(reason);
    }

    [Fact]
    public void Resolver_MostSpecificPatternWins_AndInheritsDefaults()
    {
        var options = new ProxySchedulerOptions { DefaultHost = new HostOptions { MaxConcurrency = 4, MinDelay = TimeSpan.FromSeconds(1) } };
        options.Hosts["*.example.com"] = new HostOptions { MaxConcurrency = 2 };
        options.Hosts["*.api.example.com"] = new HostOptions { MaxConcurrency = 3 };
        options.Hosts["www.example.com"] = new HostOptions { MinDelay = TimeSpan.Zero };
        options.Hosts["www.example.com:8443"] = new HostOptions { MaxConcurrency = 9 };
        var sut = new HostSettingsResolver(options);

        var other = sut.Resolve(new("other.org", 80));
        (other.MaxConcurrency, other.MinDelay, other.MaxJitter).Should().Be((4, TimeSpan.FromSeconds(1), TimeSpan.Zero));
        sut.Resolve(new("a.example.com", 80)).MaxConcurrency.Should().Be(2);
        sut.Resolve(new("v1.api.example.com", 80)).MaxConcurrency.Should().Be(3);
        var www = sut.Resolve(new("www.example.com", 80));
        (www.MaxConcurrency, www.MinDelay, www.MaxJitter).Should().Be((4, TimeSpan.Zero, TimeSpan.Zero));
        www.Classifier.Should().BeSameAs(other.Classifier, "hosts that set no classifier share the default one");
        sut.Resolve(new("www.example.com", 8443)).MaxConcurrency.Should().Be(9);
    }
}
