namespace ProxyScheduler.Transport.Internal;

/// <summary>Names of the <c>IHttpClientFactory</c> clients the scheduler owns. Names are opaque and carry no secrets.</summary>
internal static class TransportClientNames
{
    /// <summary>The client for requests sent without a proxy.</summary>
    public const string Direct = "ProxyScheduler.Direct";
}
