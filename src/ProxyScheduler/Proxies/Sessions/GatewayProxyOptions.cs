using System.ComponentModel.DataAnnotations;

namespace ProxyScheduler.Proxies.Sessions;

/// <summary>
/// A gateway proxy: one endpoint whose exit identity is chosen by parameters in the user name (or the password). Each
/// rendered credential is a proxy identity of its own, with its own connection pool and its own health.
/// </summary>
public sealed class GatewayProxyOptions
{
    /// <summary>Gets or sets the gateway's address without credentials, for example <c>http://gate.example.com:7000</c>.</summary>
    [Required]
    public string Address { get; set; } = string.Empty;

    /// <summary>Gets or sets the provider's preset (<see cref="GatewayPreset"/>).</summary>
    /// <value>The default value is <see cref="GatewayPreset.Generic"/>.</value>
    public GatewayPreset Preset { get; set; } = GatewayPreset.Generic;

    /// <summary>Gets or sets the user name template, replacing the preset's (needed with <see cref="GatewayPreset.Generic"/> when parameters travel in the user name).</summary>
    public string? UserNameTemplate { get; set; }

    /// <summary>Gets or sets the password template, replacing the preset's.</summary>
    public string? PasswordTemplate { get; set; }

    /// <summary>Gets or sets the account's user name (<c>{user}</c>).</summary>
    [Required]
    public string User { get; set; } = string.Empty;

    /// <summary>Gets or sets the account's password (<c>{password}</c>).</summary>
    public string Password { get; set; } = string.Empty;

    /// <summary>Gets the fixed parameters of the account (for example <c>zone</c>, <c>group</c>, <c>type</c>).</summary>
    public IDictionary<string, string> Parameters { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets the gateway's own tags (for example <c>provider</c>), matched like a proxy's tags.</summary>
    public IDictionary<string, string> Tags { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Gets or sets how long the provider keeps a sticky session (rendered as <c>{minutes}</c> or <c>{seconds}</c>); a
    /// session's binding is rotated at 90 % of it, before the provider would rotate the exit silently.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: the preset's <see cref="GatewayPreset.MaxSessionLifetime"/>.</value>
    public TimeSpan? SessionLifetime { get; set; }

    /// <summary>
    /// Gets or sets how long the provider keeps an unused sticky session; a session idle for 90 % of it takes a new
    /// session id before its next request, rather than finding its exit silently changed.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: the provider keeps sessions for their lifetime, used or not.</value>
    public TimeSpan? SessionIdleTimeout { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether a request's <see cref="ScheduledRequest.SessionKey"/> is sent as the
    /// provider's session id (it must then follow the preset's rules, checked when the request is submitted); otherwise
    /// ids are generated.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool UseSessionKeyAsSessionId { get; set; }

    /// <summary>
    /// Gets or sets a response header that names the exit (an IP or label the provider or the target reports). When set,
    /// a change of exit within one binding counts as a failure of the session (strict mode).
    /// </summary>
    public string? ExitHeader { get; set; }

    /// <summary>Gets or sets the most attempts in flight through the whole gateway (every identity rendered from it); <see langword="null"/> for the pool's default per proxy.</summary>
    public int? MaxConcurrency { get; set; }

    /// <summary>Gets or sets the most attempts in flight through one rendered identity; <see langword="null"/> for the pool's default.</summary>
    public int? MaxConcurrencyPerIdentity { get; set; }
}
