namespace ProxyScheduler.Proxies;

/// <summary>
/// A proxy selection strategy, chosen by <see cref="Name"/> in <see cref="ProxyPoolOptions.Selector"/>. It picks one of
/// the candidates the pool offers for one attempt to one host. The pool has already applied every rule that must hold
/// (quarantine, per-host blocks, per-proxy limits and delays, group spread, proxies already tried by the request):
/// <see cref="ProxyCandidates.IsAvailable"/> tells which candidates may be picked now. A strategy only chooses among
/// those; an index that is not available is ignored and the pool picks one itself.
/// </summary>
/// <remarks>Called under the scheduler's dispatch lock on every dispatch: keep it short and allocation-free.</remarks>
public interface IProxySelector
{
    /// <summary>Gets the name used in configuration, for example <c>PowerOfTwoChoices</c>.</summary>
    string Name { get; }

    /// <summary>Picks a candidate.</summary>
    /// <param name="candidates">The candidates.</param>
    /// <returns>The index of an available candidate, or -1 when the strategy found none (the pool then looks for one itself).</returns>
    int Choose(in ProxyCandidates candidates);
}
