namespace ProxyScheduler.Proxies.Internal;

/// <summary>The proxies meeting one requirement, computed once per pool version.</summary>
internal sealed class CandidateSet
{
    public CandidateSet(ProxyPool owner, ProxyRequirement requirement, ProxyNode[] members, int version)
    {
        Owner = owner;
        Requirement = requirement;
        Members = members;
        Version = version;
        var groups = new HashSet<int>();
        foreach (var member in members)
        {
            groups.Add(member.GroupId);
        }

        GroupCount = groups.Count;
    }

    public ProxyPool Owner { get; }

    public ProxyRequirement Requirement { get; }

    public ProxyNode[] Members { get; }

    public int Version { get; }

    /// <summary>Gets the number of distinct spread groups among the members; spreading applies only with two or more.</summary>
    public int GroupCount { get; }

    /// <summary>A cursor for strategies that rotate (round-robin).</summary>
#pragma warning disable CA1051 // A ref-returned cursor must be a field.
    public int Cursor;
#pragma warning restore CA1051
}
