using Microsoft.Extensions.Primitives;

namespace ProxyScheduler.Proxies;

/// <summary>
/// A source of proxies: a static list, configuration, a file, a provider's API. The pool merges the lists of all
/// providers (duplicates by identity merged), reads them at start and again whenever a provider's change token fires:
/// new proxies join, proxies no longer listed drain their in-flight requests and leave.
/// </summary>
public interface IProxyProvider
{
    /// <summary>Gets a name for logs (never a secret), for example <c>file:proxies.txt</c>.</summary>
    string Name { get; }

    /// <summary>Reads the current list.</summary>
    /// <returns>The proxies.</returns>
    /// <exception cref="FormatException">The source holds an invalid entry (the message names it, redacted); the pool keeps this provider's previous list.</exception>
    /// <exception cref="IOException">The source could not be read; the pool keeps this provider's previous list.</exception>
    IReadOnlyList<ProxyEndpoint> GetProxies();

    /// <summary>Gets a token that fires when the list may have changed.</summary>
    /// <returns>The change token.</returns>
    IChangeToken GetChangeToken();
}
