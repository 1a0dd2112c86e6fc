using System.Diagnostics.Metrics;

namespace ProxyScheduler.Diagnostics.Internal;

/// <summary>
/// The scheduler's instruments on the <c>ProxyScheduler</c> meter. Proxies appear only by their opaque id; hosts, URIs,
/// credentials and session keys never become tags.
/// </summary>
internal sealed class SchedulerMetrics : IDisposable
{
    public const string MeterName = "ProxyScheduler";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;

    public SchedulerMetrics(IMeterFactory? factory)
    {
        if (factory is not null)
        {
            _meter = factory.Create(MeterName);
        }
        else
        {
            _meter = new Meter(MeterName);
            _ownsMeter = true;
        }

        Attempts = _meter.CreateCounter<long>("proxyscheduler.attempts", "{attempt}", "Attempts ended, by proxy id (or direct) and response class.");
        ProxyStateChanges = _meter.CreateCounter<long>("proxyscheduler.proxy.state_changes", "{change}", "Proxies quarantined, reanimated, retired or drained, by proxy id and new state.");
        ProxyBlocks = _meter.CreateCounter<long>("proxyscheduler.proxy.blocks", "{block}", "Blocks of a proxy by a host, by proxy id.");
    }

    public Counter<long> Attempts { get; }

    public Counter<long> ProxyStateChanges { get; }

    public Counter<long> ProxyBlocks { get; }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
