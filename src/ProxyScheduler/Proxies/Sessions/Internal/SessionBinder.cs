using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ProxyScheduler.Classification;
using ProxyScheduler.Fleet;
using ProxyScheduler.Proxies.Internal;

namespace ProxyScheduler.Proxies.Sessions.Internal;

/// <summary>
/// Keeps each session on one proxy identity: checks the binding before a dispatch (expiry by idle time, lifetime and
/// uses; a proxy that failed, was blocked by the host or left the pool; the session's own pacing) and ends it after an
/// attempt that failed at the proxy or was blocked. Called under the dispatcher's lock.
/// </summary>
internal sealed class SessionBinder
{
    private readonly SessionOptions _options;
    private readonly TimeProvider _time;
    private readonly long _minDelayTicks;

    private readonly Diagnostics.Internal.SchedulerMetrics? _metrics;
    private readonly ILogger _logger;

    private readonly ISessionBindingObserver? _observer;

    public SessionBinder(SessionOptions options, TimeProvider time, Diagnostics.Internal.SchedulerMetrics? metrics = null, ILogger? logger = null, ISessionBindingObserver? observer = null)
    {
        _observer = observer;
        _options = options;
        _time = time;
        _metrics = metrics;
        _logger = logger ?? NullLogger.Instance;
        _minDelayTicks = time.ToTimestampTicks(options.MinDelay);
    }

    public bool FailOnLoss => _options.WhenBindingLost == SessionBindingPolicy.Fail;

    /// <summary>
    /// Before a dispatch: ends an expired binding, and a lost one when the policy rebinds. Returns the node the session
    /// must use, or <see langword="null"/> to let the pool choose (a new binding); <paramref name="lost"/> is set when the
    /// binding was lost and the policy fails the session's requests.
    /// </summary>
    public ProxyNode? Check(SessionState session, ProxyPool pool, ITargetHost host, List<ProxyNode>? excluded, ProxyRequirement need, long now, out bool lost)
    {
        lost = false;
        if (session.ProxyId is null)
        {
            return null;
        }

        var utcNow = _time.GetUtcNow();
        var node = session.BindingLost ? null : pool.Find(session.ProxyId);
        if (utcNow - session.LastUsedAt >= _options.IdleTimeout
            || utcNow - session.BoundAt >= _options.Lifetime
            || (_options.MaxUses > 0 && session.Uses >= _options.MaxUses)
            || (node is { ExpiresAt: > 0 } && now >= node.ExpiresAt)
            || (node?.Endpoint.Gateway?.IdleTimeout is { } providerIdle && utcNow - session.LastUsedAt >= providerIdle * 0.9))
        {
            // An expired binding rotates (also before a gateway's own session would end): a planned change, whatever the policy.
            Unbind(session, pool, "binding expired");
            return null;
        }

        if (node is null
            || node.State != ProxyHealthState.Healthy
            || pool.IsBlockedFor(node, host, now)
            || (excluded is not null && excluded.Contains(node))
            || !need.Matches(node.Endpoint))
        {
            if (FailOnLoss)
            {
                lost = true;
                return null;
            }

            Unbind(session, pool, node is null ? "its proxy failed, was blocked or left the pool" : "proxy unusable for the host");
            return null;
        }

        return node;
    }

    /// <summary>Records a dispatch of the session through <paramref name="node"/>.</summary>
    public void OnGranted(SessionState session, ProxyNode node, long now)
    {
        var utcNow = _time.GetUtcNow();
        if (!string.Equals(session.ProxyId, node.Endpoint.Id, StringComparison.Ordinal))
        {
            var previous = session.ProxyId;
            session.ProxyId = node.Endpoint.Id;
            session.BoundAt = utcNow;
            session.Uses = 0;
            session.BindingLost = false;
            session.ExitLabel = null;
            _observer?.Bound(session, previous);
        }

        session.Uses++;
        session.LastUsedAt = utcNow;
        if (_minDelayTicks > 0)
        {
            session.NextStart = now + _minDelayTicks;
        }
    }

    /// <summary>After an attempt: a proxy failure or a block ends the binding (a throttle never does).</summary>
    public static void OnReleased(SessionState session, ProxyNode node, ResponseClass? outcome)
    {
        if (outcome is ResponseClass.ProxyFailure or ResponseClass.Blocked
            && string.Equals(session.ProxyId, node.Endpoint.Id, StringComparison.Ordinal))
        {
            session.BindingLost = true;
        }
    }

    /// <summary>
    /// Strict gateways: the exit a response reports must stay the one the binding was first seen on. A change means the
    /// provider moved the session silently, which counts as a failure of the session.
    /// </summary>
    public static bool ExitChanged(SessionState session, string label)
    {
        lock (session)
        {
            if (session.ExitLabel is null)
            {
                session.ExitLabel = label;
                return false;
            }

            return !string.Equals(session.ExitLabel, label, StringComparison.Ordinal);
        }
    }

    private void Unbind(SessionState session, ProxyPool pool, string reason)
    {
        if (session.ProxyId is { } old)
        {
            pool.ReleaseIdentity(old);
            _metrics?.SessionRebinds.Add(1);
            _observer?.Unbound(session, old);
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                // The session key is never logged; the proxy only by its opaque id.
                ProxyScheduler.Proxies.Internal.Log.SessionRebound(_logger, old, reason);
            }
        }

        session.ProxyId = null;
        session.ExitLabel = null;
        session.BindingLost = false;
        session.Uses = 0;
        session.Rebinds++;
        if (_options.UseCookies)
        {
            // A new identity starts without the old one's cookies.
            session.Cookies = new CookieContainer();
        }
    }
}
