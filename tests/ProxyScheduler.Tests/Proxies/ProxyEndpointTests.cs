using ProxyScheduler.Proxies;

namespace ProxyScheduler.Tests.Proxies;

public sealed class ProxyEndpointTests
{
    [Theory]
    [InlineData("http://10.0.0.1:8080", ProxyScheme.Http, "10.0.0.1", 8080, null, null)]
    [InlineData("https://proxy.example.com:443", ProxyScheme.Https, "proxy.example.com", 443, null, null)]
    [InlineData("socks5://user:p%40ss@Proxy.Example.com:1080", ProxyScheme.Socks5, "proxy.example.com", 1080, "user", "p@ss")]
    [InlineData("socks5h://127.0.0.1:9050", ProxyScheme.Socks5, "127.0.0.1", 9050, null, null)]
    [InlineData("socks4://127.0.0.1:1080", ProxyScheme.Socks4, "127.0.0.1", 1080, null, null)]
    [InlineData("socks4a://uid@127.0.0.1:1080", ProxyScheme.Socks4a, "127.0.0.1", 1080, "uid", null)]
    [InlineData("http://proxy.example.com", ProxyScheme.Http, "proxy.example.com", 80, null, null)]
    [InlineData("socks5://proxy.example.com/", ProxyScheme.Socks5, "proxy.example.com", 1080, null, null)]
    [InlineData("10.0.0.1:3128", ProxyScheme.Http, "10.0.0.1", 3128, null, null)]
    [InlineData("10.0.0.1:3128:alice:s3cr:et", ProxyScheme.Http, "10.0.0.1", 3128, "alice", "s3cr:et")]
    [InlineData("alice:s3cret@10.0.0.1:3128", ProxyScheme.Http, "10.0.0.1", 3128, "alice", "s3cret")]
    [InlineData("alice:p@ss@gate.example.com:7000", ProxyScheme.Http, "gate.example.com", 7000, "alice", "p@ss")]
    [InlineData("[::1]:8080", ProxyScheme.Http, "::1", 8080, null, null)]
    [InlineData("http://u:p@[2001:db8::1]:8080", ProxyScheme.Http, "2001:db8::1", 8080, "u", "p")]
    public void Parse_EveryFormat_GivesEndpoint(string text, ProxyScheme scheme, string host, int port, string? user, string? password)
    {
        var endpoint = ProxyEndpoint.Parse(text);

        endpoint.Scheme.Should().Be(scheme);
        endpoint.Host.Should().Be(host);
        endpoint.Port.Should().Be(port);
        endpoint.UserName.Should().Be(user);
        endpoint.GetCredentials()?.Password.Should().Be(password ?? string.Empty);
        if (user is null)
        {
            endpoint.GetCredentials().Should().BeNull();
        }
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("ftp://10.0.0.1:21", "unknown scheme 'ftp'")]
    [InlineData("10.0.0.1", "port is missing")]
    [InlineData("10.0.0.1:99999", "1 to 65535")]
    [InlineData("10.0.0.1:port", "1 to 65535")]
    [InlineData("10.0.0.1:", "port after ':' is empty")]
    [InlineData(":8080", "host is empty")]
    [InlineData("@10.0.0.1:8080", "user name before '@' is empty")]
    [InlineData("10.0.0.1:8080:alice", "host:port:user:password")]
    [InlineData("http://10.0.0.1:8080/path", "no path")]
    [InlineData("socks4://u:p@10.0.0.1:1080", "no password")]
    [InlineData("[::1:8080", "no ']'")]
    [InlineData("bad host!:8080", "whitespace")]
    [InlineData("bad_host!:8080", "not a valid proxy host")]
    public void TryParse_Malformed_FailsWithReason(string text, string reason)
    {
        ProxyEndpoint.TryParse(text, out _).Should().BeFalse();
        FluentActions.Invoking(() => ProxyEndpoint.Parse(text)).Should().Throw<FormatException>().WithMessage($"*{reason}*");
    }

    [Fact]
    public void ParseList_BadLine_NamesLineNumberAndRedactsCredentials()
    {
        var lines = new[]
        {
            "# residential pool",
            "10.0.0.1:3128",
            string.Empty,
            "10.0.0.2:3128:alice:TopSecret1",
            "alice:TopSecret2@10.0.0.3:notaport",
        };

        var failure = FluentActions.Invoking(() => ProxyEndpoint.ParseList(lines)).Should().Throw<FormatException>().Which;

        failure.Message.Should().StartWith("Line 5 is not a valid proxy ('***@10.0.0.3:notaport')");
        failure.Message.Should().NotContain("TopSecret").And.NotContain("alice");
    }

    [Theory]
    [InlineData("10.0.0.2:3128:alice:TopSecret", "10.0.0.2:3128:***")]
    [InlineData("http://alice:TopSecret@10.0.0.2:x", "http://***@10.0.0.2:x")]
    [InlineData("alice:TopSecret@host", "***@host")]
    [InlineData("[::1]:80:alice:TopSecret", "[::1]:80:***")]
    [InlineData("[::1]:8080", "[::1]:8080")]
    [InlineData("http://alice:TopSecret@[::1]:8080", "http://***@[::1]:8080")]
    [InlineData("socks5://alice:Top@Secret@[2001:db8::7]:1080", "socks5://***@[2001:db8::7]:1080")]
    [InlineData("10.0.0.2:3128:ali\nce:TopSecret", "10.0.0.2:3128:***")]
    [InlineData("http://ali\r\nce:TopSecret@10.0.0.2:80", "http://***@10.0.0.2:80")]
    [InlineData("10.0.0.2:31\u000128", "10.0.0.2:31\\u000128")]
    public void Redact_HidesCredentialsInEveryFormat_KeepsIPv6Readable_AndNeverEchoesAControlCharacter(string line, string expected)
    {
        ProxyScheduler.Proxies.Internal.ProxyEndpointParser.Redact(line).Should().Be(expected);
    }

    [Fact]
    public void ToString_OfAnIPv6ProxyWithCredentials_ShowsTheAddress_AndStarsOnlyForTheCredentials()
    {
        var proxy = ProxyEndpoint.Parse("http://alice:TopSecret@[::1]:8080");

        proxy.ToString().Should().EndWith("(http://***@[::1]:8080)").And.NotContain("alice").And.NotContain("TopSecret");
    }

    [Theory]
    [InlineData("http://al%0D%0Aice:pw@10.0.0.1:80", "user name contains a control character (CR)")]
    [InlineData("http://alice:p%0Aw@10.0.0.1:80", "password contains a control character (LF)")]
    [InlineData("http://al%3Aice:pw@10.0.0.1:80", "user name contains ':'")]
    [InlineData("10.0.0.1:80:al\u0007ice:pw", "control character (U+0007) at column 15")]
    [InlineData("10.0.0.1:80\r\n:alice:pw", "control character (CR) at column 12")]
    [InlineData("al\u0000ice:pw@10.0.0.1:80", "control character (NUL) at column 3")]
    public void Parse_ControlCharactersOrAColonInTheUserName_AreRefused(string text, string reason)
    {
        var failure = FluentActions.Invoking(() => ProxyEndpoint.Parse(text)).Should().Throw<FormatException>().Which;

        failure.Message.Should().Contain(reason);
        failure.Message.Should().NotContain("pw").And.NotContain("\r").And.NotContain("\n").And.NotContain("\u0007").And.NotContain("\0");
    }

    [Fact]
    public void ParseList_ALineWithAnEmbeddedCarriageReturn_FailsWithItsLineNumber()
    {
        var failure = FluentActions.Invoking(() => ProxyEndpoint.ParseList(["10.0.0.1:3128", "10.0.0.2:3128:bob:Sec\rret"])).Should().Throw<FormatException>().Which;

        failure.Message.Should().StartWith("Line 2 is not a valid proxy ('10.0.0.2:3128:***')").And.Contain("(CR)").And.NotContain("Sec");
    }

    [Theory]
    [InlineData("al:ice", null, "userName")]
    [InlineData("al\nice", null, "userName")]
    [InlineData("alice", "pass\r\nX-Injected: 1", "password")]
    public void Constructor_RefusesCredentialsThatCannotBeSentSafely(string user, string? password, string parameter)
    {
        FluentActions.Invoking(() => new ProxyEndpoint(ProxyScheme.Http, "10.0.0.1", 80, user, password))
            .Should().Throw<ArgumentException>().Which.ParamName.Should().Be(parameter);
    }

    [Fact]
    public void ParseList_Duplicates_AreMergedInOrder()
    {
        var proxies = ProxyEndpoint.ParseList(["10.0.0.1:3128", "http://10.0.0.1:3128", "10.0.0.2:3128", "10.0.0.1:3128:a:b", "a:b@10.0.0.1:3128"]);

        proxies.Select(p => p.ToString()).Should().HaveCount(3);
        proxies[0].Host.Should().Be("10.0.0.1");
        proxies[1].Host.Should().Be("10.0.0.2");
        proxies[2].HasCredentials.Should().BeTrue();
    }

    [Fact]
    public void IdAndToString_NeverShowCredentials_AndIdIsStableAndIdentityBound()
    {
        var a = ProxyEndpoint.Parse("http://customer-sess-42:Pa55word@gate.example.com:7000");
        var same = new ProxyEndpoint(ProxyScheme.Http, "GATE.example.com", 7000, "customer-sess-42", "Pa55word");
        var otherSession = ProxyEndpoint.Parse("http://customer-sess-43:Pa55word@gate.example.com:7000");

        a.Id.Should().MatchRegex("^px-[0-9a-f]{16}$");
        a.Id.Should().Be(same.Id, "the id is stable for the same identity");
        a.Should().Be(same);
        otherSession.Id.Should().NotBe(a.Id, "credentials are part of the identity");
        otherSession.Should().NotBe(a);
        a.ToString().Should().Be($"{a.Id} (http://***@gate.example.com:7000)");
        a.ToString().Should().NotContain("sess-42").And.NotContain("Pa55word");
        a.GetAddress().Should().Be(new Uri("http://gate.example.com:7000"));
    }

    [Fact]
    public void Constructor_BadArguments_FailEarly()
    {
        FluentActions.Invoking(() => new ProxyEndpoint(ProxyScheme.Http, "10.0.0.1", 0)).Should().Throw<ArgumentOutOfRangeException>();
        FluentActions.Invoking(() => new ProxyEndpoint(ProxyScheme.Http, " ", 80)).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => new ProxyEndpoint(ProxyScheme.Http, "10.0.0.1", 80, null, "secret")).Should().Throw<ArgumentException>()
            .Which.Message.Should().NotContain("secret");
        FluentActions.Invoking(() => new ProxyEndpoint((ProxyScheme)42, "10.0.0.1", 80)).Should().Throw<ArgumentOutOfRangeException>();
    }
}
