using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ProxyScheduler.Transport.Internal;

namespace ProxyScheduler.Tests.TestSupport;

/// <summary>Builds a scheduler through the real DI registration, with a fake primary handler and fake time.</summary>
public sealed class TestScheduler : IDisposable
{
    private readonly ServiceProvider _provider;

    public TestScheduler(Action<ProxySchedulerOptions>? configure = null, FakeHandler? handler = null, FakeTimeProvider? time = null, Action<IProxySchedulerBuilder>? build = null)
    {
        Handler = handler ?? new FakeHandler();
        Time = time ?? new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(Time);
        var builder = services.AddProxyScheduler(o =>
        {
            o.Retry.UseJitter = false;
            configure?.Invoke(o);
        });
        build?.Invoke(builder);
        services.AddHttpClient(TransportClientNames.Direct).ConfigurePrimaryHttpMessageHandler(() => Handler);
        _provider = services.BuildServiceProvider();
        Scheduler = _provider.GetRequiredService<IRequestScheduler>();
    }

    public FakeHandler Handler { get; }

    public FakeTimeProvider Time { get; }

    public IRequestScheduler Scheduler { get; }

    public IServiceProvider Services => _provider;

    public void Dispose() => _provider.Dispose();
}
