namespace ProxyScheduler;

/// <summary>Why a request ended without a usable response.</summary>
public enum RequestFailureReason
{
    /// <summary>The last attempt exceeded its attempt timeout, and no retry was left.</summary>
    AttemptTimeout,

    /// <summary>The request's overall deadline passed before it completed.</summary>
    DeadlineExceeded,

    /// <summary>The connection failed (refused, reset, DNS, TLS, protocol error), and no retry was left.</summary>
    TransportError,

    /// <summary>The response body was larger than <see cref="ProxySchedulerOptions.MaxResponseBodySize"/>.</summary>
    ResponseTooLarge,

    /// <summary>The request was redirected more than <see cref="ProxySchedulerOptions.MaxRedirects"/> times.</summary>
    TooManyRedirects,

    /// <summary>A redirect had no usable <c>Location</c>, or pointed at a scheme other than http or https.</summary>
    InvalidRedirect,

    /// <summary>The scheduler was disposed before the request completed.</summary>
    SchedulerDisposed,

    /// <summary><see cref="ScheduledResponse.EnsureSuccessStatusCode"/> found a status outside 200-299.</summary>
    UnsuccessfulStatusCode,
}
