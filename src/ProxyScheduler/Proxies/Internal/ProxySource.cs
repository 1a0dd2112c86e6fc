using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace ProxyScheduler.Proxies.Internal;

/// <summary>
/// Merges the lists of every <see cref="IProxyProvider"/> into the pool, at start and whenever one of them changes. A
/// provider that fails to read keeps its last good list, so a bad edit never empties the pool. The merged list goes to
/// the update delegate it is given (the dispatcher's, which also wakes hosts that waited for a proxy).
/// </summary>
internal sealed class ProxySource : IDisposable
{
    private readonly IProxyProvider[] _providers;
    private readonly IReadOnlyList<ProxyEndpoint>[] _lastGood;
    private readonly Func<IEnumerable<ProxyEndpoint>, (int Added, int Removed)> _update;
    private readonly ILogger _logger;
    private readonly List<IDisposable> _subscriptions = [];
    private readonly object _reloadLock = new();
    private bool _disposed;

    /// <summary>Reads every provider once; a failure here fails start-up with the provider's (redacted) error.</summary>
    /// <exception cref="InvalidOperationException">A provider could not be read at start, or lists too many proxies.</exception>
    public ProxySource(IEnumerable<IProxyProvider> providers, Func<IEnumerable<ProxyEndpoint>, (int Added, int Removed)> update, ILogger logger)
    {
        _providers = [.. providers];
        _lastGood = new IReadOnlyList<ProxyEndpoint>[_providers.Length];
        _update = update;
        _logger = logger;
        for (var i = 0; i < _providers.Length; i++)
        {
            try
            {
                _lastGood[i] = _providers[i].GetProxies();
            }
            catch (Exception ex) when (ex is FormatException or IOException or UnauthorizedAccessException)
            {
                throw new InvalidOperationException($"The proxy source '{_providers[i].Name}' could not be read: {ex.Message}", ex);
            }
        }

        _update(_lastGood.SelectMany(static l => l));
        for (var i = 0; i < _providers.Length; i++)
        {
            var index = i;
            _subscriptions.Add(ChangeToken.OnChange(_providers[i].GetChangeToken, () => Reload(index)));
        }
    }

    /// <summary>Re-reads one provider and applies the merged lists.</summary>
    public void Reload(int index)
    {
        lock (_reloadLock)
        {
            if (_disposed)
            {
                return;
            }

            var provider = _providers[index];
            try
            {
                _lastGood[index] = provider.GetProxies();
            }
            catch (Exception ex) when (ex is FormatException or IOException or UnauthorizedAccessException or Microsoft.Extensions.Options.OptionsValidationException)
            {
                Log.ProxyListRejected(_logger, provider.Name, ex.Message);
                return;
            }

            try
            {
                var all = _lastGood.SelectMany(static l => l).ToList();
                var (added, removed) = _update(all);
                Log.ProxiesUpdated(_logger, added, removed, all.Count);
            }
            catch (ObjectDisposedException)
            {
                // The scheduler is going away.
            }
            catch (InvalidOperationException ex)
            {
                Log.ProxyListRejected(_logger, provider.Name, ex.Message);
            }
        }
    }

    public void Dispose()
    {
        lock (_reloadLock)
        {
            _disposed = true;
        }

        foreach (var subscription in _subscriptions)
        {
            subscription.Dispose();
        }
    }
}
