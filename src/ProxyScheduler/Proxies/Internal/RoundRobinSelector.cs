namespace ProxyScheduler.Proxies.Internal;

/// <summary>Takes the candidates in turn, skipping those not available now.</summary>
internal sealed class RoundRobinSelector : IProxySelector
{
    public const string SelectorName = "RoundRobin";

    public string Name => SelectorName;

    public int Choose(in ProxyCandidates candidates)
    {
        var count = candidates.Count;
        ref var cursor = ref candidates.Cursor;
        for (var i = 0; i < count; i++)
        {
            var index = (int)((uint)cursor % (uint)count);
            cursor = index + 1;
            if (candidates.IsAvailable(index))
            {
                return index;
            }
        }

        return -1;
    }
}
