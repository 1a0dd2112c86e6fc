namespace ProxyScheduler.Proxies.Internal;

/// <summary>Takes an available candidate uniformly at random (a few draws, then the pool's own scan from a random start).</summary>
internal sealed class RandomSelector : IProxySelector
{
    public const string SelectorName = "Random";

    public string Name => SelectorName;

    public int Choose(in ProxyCandidates candidates)
    {
        for (var i = 0; i < 8; i++)
        {
            var index = candidates.NextRandom(candidates.Count);
            if (candidates.IsAvailable(index))
            {
                return index;
            }
        }

        return -1;
    }
}
