using Microsoft.Extensions.Primitives;

namespace ProxyScheduler.Proxies.Internal;

/// <summary>A renewable change token for providers: <see cref="Fire"/> completes the current token and starts a new one.</summary>
internal sealed class ChangeSignal : IDisposable
{
    private CancellationTokenSource _current = new();

    public IChangeToken GetToken() => new CancellationChangeToken(Volatile.Read(ref _current).Token);

    public void Fire()
    {
        var previous = Interlocked.Exchange(ref _current, new CancellationTokenSource());
        previous.Cancel();
        previous.Dispose();
    }

    public void Dispose() => _current.Dispose();
}
