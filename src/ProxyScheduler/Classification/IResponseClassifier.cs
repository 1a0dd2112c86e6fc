namespace ProxyScheduler.Classification;

/// <summary>
/// Decides what an attempt's response or exception means (<see cref="ResponseClass"/>): it feeds proxy health, per-host
/// blocks and the retry decision. Registered with <c>AddResponseClassifier</c> and chosen by <see cref="Name"/> in
/// <see cref="ClassificationOptions.Classifier"/> or, per host pattern, <see cref="HostOptions.Classifier"/>.
/// Caller cancellations, deadlines and disposal are never classified: they never count against a proxy.
/// </summary>
public interface IResponseClassifier
{
    /// <summary>Gets the name used in configuration.</summary>
    string Name { get; }

    /// <summary>Classifies one attempt.</summary>
    /// <param name="context">The attempt's response or exception.</param>
    /// <returns>The class.</returns>
    ResponseClass Classify(in ResponseClassificationContext context);

    /// <summary>
    /// Says whom an attempt that was not a success blames (see <see cref="AttemptBlame"/>): the proxy, the (proxy, host)
    /// pair, or the host. The default implementation is <see cref="DefaultResponseClassifier.DefaultBlame"/>; override it
    /// when a custom classifier knows better (a provider's own error page, say).
    /// </summary>
    /// <param name="context">The attempt's response or exception.</param>
    /// <param name="responseClass">What <see cref="Classify"/> made of it.</param>
    /// <returns>Whom the attempt blames; <see cref="AttemptBlame.None"/> for a success.</returns>
    AttemptBlame Blame(in ResponseClassificationContext context, ResponseClass responseClass) => DefaultResponseClassifier.DefaultBlame(in context, responseClass);
}
