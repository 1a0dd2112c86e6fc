using ProxyScheduler.Testing;

namespace ProxyScheduler.IntegrationTests;

/// <summary>One loopback Kestrel target with 30 virtual hosts (ports), shared by a test class.</summary>
public sealed class TargetServerFixture : IAsyncLifetime
{
    public TargetServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await TargetServer.StartAsync(30);

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
