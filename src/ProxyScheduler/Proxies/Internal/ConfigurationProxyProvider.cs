using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace ProxyScheduler.Proxies.Internal;

/// <summary>The proxies listed under <c>ProxyScheduler:Proxies</c>, re-read when the configuration reloads.</summary>
internal sealed class ConfigurationProxyProvider : IProxyProvider, IDisposable
{
    private readonly IOptionsMonitor<ProxySchedulerOptions> _options;
    private readonly IDisposable? _subscription;
    private readonly ChangeSignal _changed = new();

    public ConfigurationProxyProvider(IOptionsMonitor<ProxySchedulerOptions> options)
    {
        _options = options;
        _subscription = options.OnChange((_, name) =>
        {
            if (string.IsNullOrEmpty(name))
            {
                _changed.Fire();
            }
        });
    }

    public string Name => "configuration";

    public IReadOnlyList<ProxyEndpoint> GetProxies() => ProxyEndpoint.ParseList(_options.CurrentValue.Proxies);

    public IChangeToken GetChangeToken() => _changed.GetToken();

    public void Dispose()
    {
        _subscription?.Dispose();
        _changed.Dispose();
    }
}
