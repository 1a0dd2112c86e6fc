namespace ProxyScheduler.Classification.Internal;

/// <summary>The names of the response classes in metric tags and trace tags (snake case, stable).</summary>
internal static class ResponseClassNames
{
    /// <summary>Gets the tag value of <paramref name="outcome"/>.</summary>
    public static string Of(ResponseClass outcome) => outcome switch
    {
        ResponseClass.Success => "success",
        ResponseClass.ProxyFailure => "proxy_failure",
        ResponseClass.Blocked => "blocked",
        ResponseClass.Throttled => "throttled",
        ResponseClass.TargetFailure => "target_failure",
        _ => "fatal",
    };
}
