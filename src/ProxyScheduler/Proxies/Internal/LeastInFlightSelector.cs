namespace ProxyScheduler.Proxies.Internal;

/// <summary>
/// Takes the available candidate with the fewest attempts in flight (ties broken by rotation). Scans the candidates,
/// stopping early at an idle one: cheap while some proxy is idle, O(n) when every proxy is busy.
/// </summary>
internal sealed class LeastInFlightSelector : IProxySelector
{
    public const string SelectorName = "LeastInFlight";

    public string Name => SelectorName;

    public int Choose(in ProxyCandidates candidates)
    {
        var count = candidates.Count;
        ref var cursor = ref candidates.Cursor;
        var start = (int)((uint)cursor % (uint)count);
        cursor = start + 1;
        var best = -1;
        var bestInFlight = int.MaxValue;
        for (var i = 0; i < count; i++)
        {
            var index = (start + i) % count;
            var inFlight = candidates.GetInFlight(index);
            if (inFlight >= bestInFlight || !candidates.IsAvailable(index))
            {
                continue;
            }

            best = index;
            bestInFlight = inFlight;
            if (inFlight == 0)
            {
                break;
            }
        }

        return best;
    }
}
