using ProxyScheduler.Proxies;

namespace ProxyScheduler.Tests.Proxies;

public sealed class ProxyRequirementTests
{
    [Fact]
    public void Parse_AnyDirectAndTags()
    {
        ProxyRequirement.Parse("any").Should().BeSameAs(ProxyRequirement.Any);
        ProxyRequirement.Parse(" ").Should().BeSameAs(ProxyRequirement.Any);
        ProxyRequirement.Parse("DIRECT").Should().BeSameAs(ProxyRequirement.Direct);
        var tags = ProxyRequirement.Parse("country=DE; asn=3320");
        tags.ToString().Should().Be("asn=3320;country=de", "the canonical form sorts keys and lowercases values");
        tags.Should().Be(ProxyRequirement.WithTag("asn", "3320").AndTag("Country", "de"));
    }

    [Theory]
    [InlineData("country")]
    [InlineData("=de")]
    [InlineData("country=")]
    public void Parse_BadPair_FailsNamingIt(string text) =>
        FluentActions.Invoking(() => ProxyRequirement.Parse(text)).Should().Throw<FormatException>().WithMessage($"*'{text.Trim()}'*key=value*");

    [Fact]
    public void WithTag_BadInput_FailsEarly()
    {
        FluentActions.Invoking(() => ProxyRequirement.WithTag("", "de")).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => ProxyRequirement.WithTag("a;b", "de")).Should().Throw<ArgumentException>().WithMessage("*key*");
        FluentActions.Invoking(() => ProxyRequirement.Direct.AndTag("country", "de")).Should().Throw<InvalidOperationException>();
    }

    [Fact]
    public void Matches_AllTagsCaseInsensitively_NeverForDirect()
    {
        var endpoint = new ProxyEndpoint(ProxyScheme.Http, "10.0.0.1", 8080)
        {
            Tags = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["Country"] = "DE", ["asn"] = "3320" },
        };

        ProxyRequirement.Any.Matches(endpoint).Should().BeTrue();
        ProxyRequirement.Parse("country=de").Matches(endpoint).Should().BeTrue();
        ProxyRequirement.Parse("country=de;asn=3320").Matches(endpoint).Should().BeTrue();
        ProxyRequirement.Parse("country=de;asn=1").Matches(endpoint).Should().BeFalse();
        ProxyRequirement.Parse("city=berlin").Matches(endpoint).Should().BeFalse();
        ProxyRequirement.Direct.Matches(endpoint).Should().BeFalse();
    }
}
