namespace ProxyScheduler.Proxies.Internal;

/// <summary>
/// Weighted power of two choices: draws two available candidates at random and keeps the one with the better score for
/// the host per attempt in flight (its health divided by one plus its load), so load follows health without herding on
/// the single best proxy. O(1) whatever the pool's size.
/// </summary>
internal sealed class PowerOfTwoChoicesSelector : IProxySelector
{
    public const string SelectorName = "PowerOfTwoChoices";

    private const int Draws = 8;

    public string Name => SelectorName;

    public int Choose(in ProxyCandidates candidates)
    {
        var count = candidates.Count;
        if (count == 1)
        {
            return candidates.IsAvailable(0) ? 0 : -1;
        }

        var first = -1;
        for (var i = 0; i < Draws; i++)
        {
            var index = candidates.NextRandom(count);
            if (index == first || !candidates.IsAvailable(index))
            {
                continue;
            }

            if (first < 0)
            {
                first = index;
                continue;
            }

            return Weight(candidates, index) > Weight(candidates, first) ? index : first;
        }

        return first;
    }

    private static double Weight(in ProxyCandidates candidates, int index) =>
        candidates.GetScore(index) / (1 + candidates.GetInFlight(index));
}
