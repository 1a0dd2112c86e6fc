using System.ComponentModel.DataAnnotations;
using ProxyScheduler.Proxies.Sessions.Internal;

namespace ProxyScheduler.Proxies.Sessions;

/// <summary>Options of sticky sessions (<see cref="ScheduledRequest.SessionKey"/>). Bound from <c>ProxyScheduler:Sessions</c>.</summary>
public sealed class SessionOptions
{
    /// <summary>Gets or sets the rotation of requests that set none.</summary>
    /// <value>The default value is <see cref="ProxyRotation.Sticky"/> (requests without a session key rotate per request).</value>
    public ProxyRotation DefaultRotation { get; set; } = ProxyRotation.Sticky;

    /// <summary>Gets or sets how long a binding lives without requests before it ends.</summary>
    /// <value>The default value is 10 minutes.</value>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan IdleTimeout { get; set; } = SessionDefaults.IdleTimeout;

    /// <summary>Gets or sets the longest a binding lives, used or not.</summary>
    /// <value>The default value is 30 minutes.</value>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan Lifetime { get; set; } = SessionDefaults.Lifetime;

    /// <summary>Gets or sets the most attempts one binding carries before the session moves to a new identity; 0 for no limit.</summary>
    /// <value>The default value is 0.</value>
    [Range(0, int.MaxValue)]
    public int MaxUses { get; set; }

    /// <summary>Gets or sets what happens when a session's proxy fails, is blocked by the host, or leaves the pool.</summary>
    /// <value>The default value is <see cref="SessionBindingPolicy.Rebind"/>.</value>
    public SessionBindingPolicy WhenBindingLost { get; set; } = SessionBindingPolicy.Rebind;

    /// <summary>Gets or sets the minimum time between two attempt starts of one session (on top of the host's and the proxy's limits).</summary>
    /// <value>The default value is zero.</value>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan MinDelay { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether each session keeps its own cookies: sent with its requests, updated from
    /// its responses, dropped when the session moves to a new identity. Cookies never cross sessions.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool UseCookies { get; set; }

    /// <summary>Gets or sets the most sessions remembered; past it the least recently used is forgotten.</summary>
    /// <value>The default value is 100,000.</value>
    [Range(1, 10_000_000)]
    public int MaxSessions { get; set; } = SessionDefaults.MaxSessions;
}
