namespace ProxyScheduler.Proxies.Internal;

/// <summary>
/// The hash of rendezvous binding (see <see cref="ProxyPool.Rendezvous"/>): FNV-1a over <c>a|b</c> with a final mix, so
/// that every worker ranks a session's proxies the same way without asking the others, and ids differing in their last
/// characters spread well.
/// </summary>
internal static class RendezvousHash
{
    public static ulong Of(string a, string b)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in a)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        hash = (hash ^ '|') * 1099511628211UL;
        foreach (var c in b)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        // A final mix, so that ids differing in their last characters spread well.
        hash ^= hash >> 33;
        hash *= 0xff51afd7ed558ccdUL;
        hash ^= hash >> 33;
        return hash;
    }
}
