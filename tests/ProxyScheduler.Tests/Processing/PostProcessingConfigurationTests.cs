using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NSubstitute;
using ProxyScheduler.Processing;

namespace ProxyScheduler.Tests.Processing;

/// <summary>Bad post-processing settings fail early, each naming the setting; registrations that cannot work fail at once.</summary>
public sealed class PostProcessingConfigurationTests
{
    [Fact]
    public void Options_Defaults_AreTheDocumentedOnes()
    {
        var options = new PostProcessingOptions();
        options.MaxDegreeOfParallelism.Should().BeNull("Environment.ProcessorCount applies");
        options.Capacity.Should().BeNull("MaxConcurrency + 2 x workers applies");
        options.PreserveInputOrder.Should().BeFalse();
        options.ReorderWindow.Should().Be(1024);
    }

    [Fact]
    public void Configuration_BadPostProcessingSection_FailsStartUpNamingEveryKey()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ProxyScheduler:PostProcessing:MaxDegreeOfParallelism"] = "0",
            ["ProxyScheduler:PostProcessing:ReorderWindow"] = "0",
        }).Build();
        var services = new ServiceCollection();
        services.AddProxyScheduler(configuration.GetSection("ProxyScheduler"));
        using var provider = services.BuildServiceProvider();

        FluentActions.Invoking(provider.GetRequiredService<IStartupValidator>().Validate).Should().Throw<OptionsValidationException>()
            .Which.Failures.Should().BeEquivalentTo(
                "ProxyScheduler:PostProcessing:MaxDegreeOfParallelism (0) must be between 1 and 1024.",
                "ProxyScheduler:PostProcessing:ReorderWindow (0) must be between 1 and 10000000.");
    }

    [Fact]
    public void Configuration_CapacityBelowParallelism_FailsStartUp()
    {
        var services = new ServiceCollection();
        services.AddProxyScheduler(o =>
        {
            o.PostProcessing.MaxDegreeOfParallelism = 4;
            o.PostProcessing.Capacity = 2;
        });
        using var provider = services.BuildServiceProvider();

        FluentActions.Invoking(provider.GetRequiredService<IStartupValidator>().Validate).Should().Throw<OptionsValidationException>()
            .Which.Failures.Should().ContainSingle().Which.Should().StartWith("ProxyScheduler:PostProcessing:Capacity (2) must be at least ProxyScheduler:PostProcessing:MaxDegreeOfParallelism (4)");
    }

    [Fact]
    public void Configuration_GoodSection_IsTheDefaultOfEveryPipeline()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ProxyScheduler:PostProcessing:MaxDegreeOfParallelism"] = "3",
            ["ProxyScheduler:PostProcessing:Capacity"] = "40",
            ["ProxyScheduler:PostProcessing:PreserveInputOrder"] = "true",
            ["ProxyScheduler:PostProcessing:ReorderWindow"] = "77",
        }).Build();
        var services = new ServiceCollection();
        services.AddProxyScheduler(configuration.GetSection("ProxyScheduler")).AddPostProcessor<LengthProcessor, int>(configure: o => o.Capacity = 50);
        using var provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();

        var direct = provider.GetRequiredService<IRequestScheduler>().WithPostProcessor((r, _) => r.BodyLength);
        direct.MaxDegreeOfParallelism.Should().Be(3);
        direct.Capacity.Should().Be(40);
        direct.PreserveInputOrder.Should().BeTrue();
        direct.ReorderWindow.Should().Be(77);

        var registered = provider.GetRequiredService<PostProcessingPipeline<int>>();
        registered.MaxDegreeOfParallelism.Should().Be(3, "a registration starts from the section");
        registered.Capacity.Should().Be(50, "and its own configure wins");
    }

    [Fact]
    public void AddPostProcessor_BadOptions_FailStartUpNamingTheRegistration()
    {
        var services = new ServiceCollection();
        services.AddProxyScheduler().AddPostProcessor<LengthProcessor, int>(configure: o => o.Capacity = 0);
        using var provider = services.BuildServiceProvider();

        FluentActions.Invoking(provider.GetRequiredService<IStartupValidator>().Validate).Should().Throw<OptionsValidationException>()
            .Which.Failures.Should().ContainSingle().Which.Should().Be("AddPostProcessor<LengthProcessor, Int32>: Capacity (0) must be between 1 and 1000000.");
    }

    [Fact]
    public void AddPostProcessor_GenericResult_IsNamedAsCSharpWritesIt()
    {
        var services = new ServiceCollection();
        services.AddProxyScheduler().AddPostProcessor<ListProcessor, IReadOnlyList<int>>(configure: o => o.ReorderWindow = -1);
        using var provider = services.BuildServiceProvider();

        FluentActions.Invoking(provider.GetRequiredService<IStartupValidator>().Validate).Should().Throw<OptionsValidationException>()
            .Which.Failures.Should().ContainSingle().Which.Should().StartWith("AddPostProcessor<ListProcessor, IReadOnlyList<Int32>>: ReorderWindow (-1)");
    }

    [Fact]
    public void AddPostProcessor_SecondPipelineForTheSameResult_FailsAtRegistration()
    {
        var builder = new ServiceCollection().AddProxyScheduler().AddPostProcessor<LengthProcessor, int>();

        FluentActions.Invoking(() => builder.AddPostProcessor<OtherLengthProcessor, int>()).Should().Throw<InvalidOperationException>()
            .WithMessage("A post-processing pipeline producing Int32 is registered already, so OtherLengthProcessor cannot start another*");
    }

    [Fact]
    public void AddPostProcessor_NextStepWithoutTheStepBefore_FailsAtRegistration()
    {
        var builder = new ServiceCollection().AddProxyScheduler();

        FluentActions.Invoking(() => builder.AddPostProcessor<Describer, int, string>()).Should().Throw<InvalidOperationException>()
            .WithMessage("Describer takes Int32, but no post-processing pipeline produces it*");
    }

    [Fact]
    public void AddPostProcessor_KeepsAnEarlierRegistrationOfTheProcessor()
    {
        var services = new ServiceCollection();
        services.AddSingleton<LengthProcessor>();
        services.AddProxyScheduler().AddPostProcessor<LengthProcessor, int>(ServiceLifetime.Transient);

        services.Where(d => d.ServiceType == typeof(LengthProcessor)).Should().ContainSingle().Which.Lifetime.Should().Be(ServiceLifetime.Singleton);
    }

    [Fact]
    public void WithOptions_OutOfRange_ThrowsNamingTheOption()
    {
        var services = new ServiceCollection();
        services.AddProxyScheduler();
        using var provider = services.BuildServiceProvider();
        var pipeline = provider.GetRequiredService<IRequestScheduler>().WithPostProcessor((r, _) => r.BodyLength);

        FluentActions.Invoking(() => pipeline.WithOptions(o => o.MaxDegreeOfParallelism = 2_000)).Should().Throw<ArgumentException>()
            .WithMessage("PostProcessingOptions.MaxDegreeOfParallelism (2000) must be between 1 and 1024.*")
            .Which.ParamName.Should().Be("configure");
        FluentActions.Invoking(() => pipeline.WithOptions(o =>
        {
            o.MaxDegreeOfParallelism = 8;
            o.Capacity = 4;
        })).Should().Throw<ArgumentException>().WithMessage("PostProcessingOptions.Capacity (4) must be at least PostProcessingOptions.MaxDegreeOfParallelism (8)*");
        pipeline.WithOptions(o => o.MaxDegreeOfParallelism = 8).Capacity.Should().Be(64 + 16, "an unset capacity follows the new degree of parallelism");
        pipeline.WithOptions(o => o.Capacity = 10).WithOptions(o => o.PreserveInputOrder = true).Capacity.Should().Be(10, "a set option is kept by later changes");
    }

    [Fact]
    public void WithPostProcessor_OnAnotherScheduler_ThrowsNamingIt()
    {
        var other = Substitute.For<IRequestScheduler>();

        FluentActions.Invoking(() => other.WithPostProcessor((r, _) => r.BodyLength)).Should().Throw<ArgumentException>()
            .WithMessage("Post-processing needs the scheduler registered by AddProxyScheduler*")
            .Which.ParamName.Should().Be("scheduler");
    }

    public sealed class LengthProcessor : ParallelPostProcessor<int>
    {
        protected override int Process(ScheduledResponse response, CancellationToken cancellationToken) => response.BodyLength;
    }

    public sealed class OtherLengthProcessor : ParallelPostProcessor<int>
    {
        protected override int Process(ScheduledResponse response, CancellationToken cancellationToken) => response.BodyLength;
    }

    public sealed class ListProcessor : ParallelPostProcessor<IReadOnlyList<int>>
    {
        protected override IReadOnlyList<int> Process(ScheduledResponse response, CancellationToken cancellationToken) => [response.BodyLength];
    }

    public sealed class Describer : ParallelPostProcessor<int, string>
    {
        protected override string Process(int input, ScheduledResponse response, CancellationToken cancellationToken) => input.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
