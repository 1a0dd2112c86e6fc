using System.Diagnostics.Metrics;

namespace ProxyScheduler.IntegrationTests;

/// <summary>Records the tags of every measurement on the <c>ProxyScheduler</c> meter, as <c>key=value</c> strings.</summary>
internal sealed class MetricTagCapture : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly List<string> _tags = [];

    public MetricTagCapture()
    {
        _listener.InstrumentPublished = static (instrument, listener) =>
        {
            if (instrument.Meter.Name == "ProxyScheduler")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            lock (_tags)
            {
                foreach (var tag in tags)
                {
                    _tags.Add($"{tag.Key}={tag.Value}");
                }
            }
        });
        _listener.Start();
    }

    public IReadOnlyList<string> Tags
    {
        get
        {
            lock (_tags)
            {
                return [.. _tags];
            }
        }
    }

    public void Dispose() => _listener.Dispose();
}
