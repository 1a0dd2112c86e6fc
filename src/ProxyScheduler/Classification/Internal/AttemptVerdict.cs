using System.Net;

namespace ProxyScheduler.Classification.Internal;

/// <summary>What a failed attempt looked like, in words a person reads in a snapshot, a log or a failure message.</summary>
internal enum FailureKind : byte
{
    None,
    ConnectionRefused,
    NameResolution,
    Timeout,
    Reset,
    TunnelRejected,
    ProxyAuthentication,
    ProxyStatus,
    Blocked,
    Throttled,
    TargetStatus,
    Other,
}

/// <summary>One attempt's verdict: its class, whom it blames, and what the failure looked like.</summary>
internal readonly record struct AttemptVerdict(ResponseClass Class, AttemptBlame Blame, FailureKind Kind)
{
    public static AttemptVerdict Success => new(ResponseClass.Success, AttemptBlame.None, FailureKind.None);

    /// <summary>What the attempt's status or exception looked like.</summary>
    public static FailureKind KindOf(ResponseClass responseClass, HttpStatusCode? status, Exception? exception)
    {
        if (responseClass is ResponseClass.Success or ResponseClass.Fatal && exception is null)
        {
            return FailureKind.None;
        }

        if (status is { } code)
        {
            return code switch
            {
                HttpStatusCode.ProxyAuthenticationRequired or HttpStatusCode.Unauthorized => FailureKind.ProxyAuthentication,
                _ when responseClass == ResponseClass.Blocked => FailureKind.Blocked,
                _ when responseClass == ResponseClass.Throttled => FailureKind.Throttled,
                _ when responseClass == ResponseClass.ProxyFailure => FailureKind.ProxyStatus,
                _ => FailureKind.TargetStatus,
            };
        }

        return exception switch
        {
            TimeoutException => FailureKind.Timeout,
            HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError } h when h.InnerException is TimeoutException => FailureKind.Timeout,
            HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError } => FailureKind.ConnectionRefused,
            HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError } => FailureKind.NameResolution,
            HttpRequestException { HttpRequestError: HttpRequestError.ProxyTunnelError } h when h.Message.Contains("'407'", StringComparison.Ordinal) => FailureKind.ProxyAuthentication,
            HttpRequestException { HttpRequestError: HttpRequestError.ProxyTunnelError } => FailureKind.TunnelRejected,
            HttpRequestException or IOException => FailureKind.Reset,
            _ => FailureKind.Other,
        };
    }

    /// <summary>The kind in a few words.</summary>
    public static string Describe(FailureKind kind) => kind switch
    {
        FailureKind.ConnectionRefused => "connection refused",
        FailureKind.NameResolution => "name not resolved",
        FailureKind.Timeout => "timed out",
        FailureKind.Reset => "connection reset",
        FailureKind.TunnelRejected => "tunnel rejected",
        FailureKind.ProxyAuthentication => "proxy authentication failed (407)",
        FailureKind.ProxyStatus => "proxy error status",
        FailureKind.Blocked => "blocked",
        FailureKind.Throttled => "throttled",
        FailureKind.TargetStatus => "error status",
        FailureKind.Other => "failed",
        _ => "none",
    };
}
