using System.Diagnostics;

namespace ProxyScheduler.Diagnostics.Internal;

/// <summary>
/// The scheduler's spans on the <c>ProxyScheduler</c> <see cref="ActivitySource"/>: one per request
/// (<c>ProxyScheduler.Request</c>) with one child per attempt (<c>ProxyScheduler.Attempt</c>), under which the
/// <c>HttpClient</c> spans appear. URIs are redacted; proxies appear by their opaque id; no credential or session key.
/// </summary>
internal static class SchedulerActivities
{
    public const string SourceName = "ProxyScheduler";

    public static readonly ActivitySource Source = new(SourceName);
}
