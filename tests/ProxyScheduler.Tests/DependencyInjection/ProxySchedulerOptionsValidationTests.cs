using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ProxyScheduler.Tests.DependencyInjection;

public sealed class ProxySchedulerOptionsValidationTests
{
    private static OptionsValidationException ResolveAndCatch(IServiceCollection services)
    {
        using var provider = services.BuildServiceProvider();
        return FluentActions.Invoking(() => provider.GetRequiredService<IRequestScheduler>())
            .Should().Throw<OptionsValidationException>().Which;
    }

    [Fact]
    public void Defaults_AreDocumentedValues()
    {
        var options = new ProxySchedulerOptions();
        options.MaxConcurrency.Should().Be(64);
        options.QueueLimit.Should().Be(10_000);
        options.AttemptTimeout.Should().Be(TimeSpan.FromSeconds(30));
        options.Deadline.Should().BeNull();
        options.MaxResponseBodySize.Should().Be(16 * 1024 * 1024);
        options.MaxRedirects.Should().Be(10);
        options.Retry.MaxRetries.Should().Be(3);
        options.Retry.BaseDelay.Should().Be(TimeSpan.FromSeconds(1));
        options.Retry.MaxDelay.Should().Be(TimeSpan.FromSeconds(30));
        options.Retry.UseJitter.Should().BeTrue();
        options.Retry.RetryNonIdempotent.Should().BeFalse();
        options.DefaultHost.MaxConcurrency.Should().BeNull("8 is applied when nothing is set");
        options.Hosts.Should().BeEmpty();
    }

    [Fact]
    public void AddProxyScheduler_InvalidProxySettings_ReportsEveryErrorNamedAndRedacted()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ProxyScheduler:Proxies:0"] = "http://user:hunter2@10.0.0.1:8080",
            ["ProxyScheduler:Proxies:1"] = "http://user:hunter2@10.0.0.1:99999",
            ["ProxyScheduler:ProxyPool:Selector"] = " ",
            ["ProxyScheduler:ProxyPool:QuarantineBaseDelay"] = "00:10:00",
            ["ProxyScheduler:ProxyPool:QuarantineMaxDelay"] = "00:01:00",
            ["ProxyScheduler:ProxyPool:MaxGroupShare"] = "0",
            ["ProxyScheduler:ProxyPool:MaxConcurrencyPerProxy"] = "0",
            ["ProxyScheduler:Classification:BlockStatusCodes:0"] = "42",
            ["ProxyScheduler:Retry:MaxProxyRetries"] = "-1",
        }).Build();
        var services = new ServiceCollection();
        services.AddProxyScheduler(configuration.GetSection("ProxyScheduler"));

        var failures = ResolveAndCatch(services).Failures.ToList();

        failures.Should().Contain(f => f.StartsWith("ProxyScheduler:Proxies:1 is not a valid proxy", StringComparison.Ordinal));
        failures.Should().Contain(f => f.StartsWith("ProxyScheduler:ProxyPool:Selector must name a proxy selector", StringComparison.Ordinal));
        failures.Should().Contain("ProxyScheduler:ProxyPool:QuarantineMaxDelay (00:01:00) must be at least ProxyScheduler:ProxyPool:QuarantineBaseDelay (00:10:00).");
        failures.Should().Contain("ProxyScheduler:ProxyPool:MaxGroupShare must be between 0.01 and 1; it was 0.");
        failures.Should().Contain("ProxyScheduler:ProxyPool:MaxConcurrencyPerProxy must be between 1 and 100000; it was 0.");
        failures.Should().Contain("ProxyScheduler:Classification:BlockStatusCodes must be between 100 and 599; it was 42.");
        failures.Should().Contain("ProxyScheduler:Retry:MaxProxyRetries must be between 0 and 100; it was -1.");
        failures.Should().HaveCount(7);
        string.Join('\n', failures).Should().NotContain("hunter2", "a proxy's password never appears in a validation message");
    }

    [Fact]
    public void AddProxyScheduler_InvalidConfiguration_ReportsEveryErrorWithKeyAndValue()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ProxyScheduler:MaxConcurrency"] = "0",
            ["ProxyScheduler:DefaultHost:MinDelay"] = "-00:00:01",
            ["ProxyScheduler:Hosts:exa mple.com:MaxConcurrency"] = "2",
            ["ProxyScheduler:Hosts:shop.test:MaxConcurrency"] = "-3",
            ["ProxyScheduler:Retry:BaseDelay"] = "00:01:00",
            ["ProxyScheduler:Retry:MaxDelay"] = "00:00:10",
        }).Build();
        var services = new ServiceCollection();
        services.AddProxyScheduler(configuration.GetSection("ProxyScheduler"));

        var failures = ResolveAndCatch(services).Failures.ToList();

        failures.Should().Contain("ProxyScheduler:MaxConcurrency must be between 1 and 100000; it was 0.");
        failures.Should().Contain("ProxyScheduler:DefaultHost:MinDelay must be between 00:00:00 and 1.00:00:00; it was -00:00:01.");
        failures.Should().Contain(f => f.StartsWith("ProxyScheduler:Hosts:exa mple.com is not a valid host pattern ('exa mple.com')", StringComparison.Ordinal));
        failures.Should().Contain("ProxyScheduler:Hosts:shop.test:MaxConcurrency must be between 1 and 100000; it was -3.");
        failures.Should().Contain("ProxyScheduler:Retry:MaxDelay (00:00:10) must be at least ProxyScheduler:Retry:BaseDelay (00:01:00).");
        failures.Should().HaveCount(5);
    }

    [Fact]
    public void AddProxyScheduler_QueueLimitBelowConcurrency_Fails()
    {
        var services = new ServiceCollection();
        services.AddProxyScheduler(o =>
        {
            o.MaxConcurrency = 100;
            o.QueueLimit = 50;
        });

        ResolveAndCatch(services).Failures.Should().ContainSingle()
            .Which.Should().Be("ProxyScheduler:QueueLimit (50) must be at least ProxyScheduler:MaxConcurrency (100); otherwise the concurrency can never be reached.");
    }

    [Fact]
    public void AddProxyScheduler_ValidationRunsAtStartup()
    {
        var services = new ServiceCollection();
        services.AddProxyScheduler(o => o.AttemptTimeout = TimeSpan.Zero);
        using var provider = services.BuildServiceProvider();

        // Hosts call IStartupValidator when they start; the same check fails before any request is made.
        var validator = provider.GetRequiredService<IStartupValidator>();
        FluentActions.Invoking(validator.Validate).Should().Throw<OptionsValidationException>()
            .Which.Failures.Should().Contain("ProxyScheduler:AttemptTimeout must be between 00:00:00.0010000 and 1.00:00:00; it was 00:00:00.");
    }

    [Fact]
    public void ConfigureHost_MalformedPattern_FailsAtRegistration()
    {
        var services = new ServiceCollection();
        FluentActions.Invoking(() => services.AddProxyScheduler().ConfigureHost("http://example.com/", _ => { }))
            .Should().Throw<ArgumentException>().WithMessage("'http://example.com/' is not a valid host pattern*");
    }

    [Fact]
    public void AddProxyScheduler_BindsHostsFromConfiguration_AndConfigureHostAddsToThem()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Scraper:MaxConcurrency"] = "16",
            ["Scraper:DefaultHost:MaxConcurrency"] = "2",
            ["Scraper:Hosts:*.example.com:MinDelay"] = "00:00:00.500",
        }).Build();
        var services = new ServiceCollection();
        services.AddProxyScheduler(configuration.GetSection("Scraper"))
            .ConfigureHost("*.example.com", h => h.MaxJitter = TimeSpan.FromMilliseconds(100))
            .ConfigureHost("api.test:8443", h => h.MaxConcurrency = 1);
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<ProxySchedulerOptions>>().Value;

        options.MaxConcurrency.Should().Be(16);
        options.DefaultHost.MaxConcurrency.Should().Be(2);
        options.Hosts["*.example.com"].MinDelay.Should().Be(TimeSpan.FromMilliseconds(500));
        options.Hosts["*.example.com"].MaxJitter.Should().Be(TimeSpan.FromMilliseconds(100));
        options.Hosts["api.test:8443"].MaxConcurrency.Should().Be(1);
        provider.GetRequiredService<IRequestScheduler>().GetSnapshot().MaxConcurrency.Should().Be(16);
    }

    [Fact]
    public void AddProxyScheduler_ErrorsNameTheBoundSection()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Crawler:Scheduler:MaxRedirects"] = "500",
        }).Build();
        var services = new ServiceCollection();
        services.AddProxyScheduler(configuration.GetSection("Crawler:Scheduler"));

        ResolveAndCatch(services).Failures.Should().ContainSingle().Which.Should().Be("Crawler:Scheduler:MaxRedirects must be between 0 and 50; it was 500.");
    }

    [Fact]
    public void AddProxyScheduler_AnUnknownKey_FailsAtStartup_NamingTheKeyAndTheNearestSetting()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ProxyScheduler:MaxConcurency"] = "64",
            ["ProxyScheduler:DefaultHost:MinDelay"] = "00:00:01",
            ["ProxyScheduler:DefaultHost:MinDealy"] = "00:00:01",
            ["ProxyScheduler:Hosts:*.shop.test:MaxConcurrency"] = "2",
            ["ProxyScheduler:Hosts:*.shop.test:Adaptve"] = "true",
            ["ProxyScheduler:Proxies:0"] = "10.0.0.1:3128",
            ["ProxyScheduler:Retry:MaxRetries"] = "3",
            ["ProxyScheduler:Retry:MaxRetries:Extra"] = "3",
            ["ProxyScheduler:Redis:Configuration"] = "127.0.0.1:6379",
        }).Build();
        var services = new ServiceCollection();
        services.AddProxyScheduler(configuration.GetSection("ProxyScheduler"));
        using var provider = services.BuildServiceProvider();

        var failures = FluentActions.Invoking(provider.GetRequiredService<IStartupValidator>().Validate)
            .Should().Throw<OptionsValidationException>().Which.Failures;

        failures.Should().BeEquivalentTo(
            "ProxyScheduler:MaxConcurency is not a setting the scheduler reads, so its value would be ignored. Did you mean 'MaxConcurrency'?",
            "ProxyScheduler:DefaultHost:MinDealy is not a setting the scheduler reads, so its value would be ignored. Did you mean 'MinDelay'?",
            "ProxyScheduler:Hosts:*.shop.test:Adaptve is not a setting the scheduler reads, so its value would be ignored. Did you mean 'Adaptive'?",
            "ProxyScheduler:Retry:MaxRetries:Extra is not a setting the scheduler reads (ProxyScheduler:Retry:MaxRetries takes a single value).",
            "ProxyScheduler:Redis is not a setting the scheduler reads, so its value would be ignored. The keys there are: " + string.Join(", ", typeof(ProxySchedulerOptions).GetProperties().Select(p => p.Name)) + ".");
    }

    [Fact]
    public void AddProxyScheduler_TheRedisSection_IsKnownOnceUseRedisIsCalled()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ProxyScheduler:MaxConcurrency"] = "64",
            ["ProxyScheduler:Redis:Configuration"] = "127.0.0.1:1,abortConnect=false",
        }).Build();
        var services = new ServiceCollection();
        services.AddProxyScheduler(configuration.GetSection("ProxyScheduler")).UseRedis(configuration.GetSection("ProxyScheduler:Redis"));
        using var provider = services.BuildServiceProvider();

        provider.GetRequiredService<IOptions<ProxySchedulerOptions>>().Value.MaxConcurrency.Should().Be(64);
        FluentActions.Invoking(() => provider.GetRequiredService<IOptionsMonitor<ProxySchedulerOptions>>().Get(Options.DefaultName)).Should().NotThrow();
    }
}
