namespace ProxyScheduler.Redis;

/// <summary>What became of one entry of the work queue, as a worker recorded it.</summary>
/// <param name="EntryId">The stream entry id (the request's id in the queue).</param>
/// <param name="Request">The request (decoded); <see langword="null"/> for an entry that could not be decoded.</param>
/// <param name="Response">The response, when there was one.</param>
/// <param name="Exception">Why there was none.</param>
/// <param name="Deliveries">How many times the entry was delivered (more than 1 after a worker died holding it).</param>
/// <param name="Recorded">
/// <see langword="true"/> when this worker recorded the entry's outcome; <see langword="false"/> when another worker had
/// already recorded one (a duplicate of work that was claimed from a worker that did not die after all).
/// </param>
public sealed record WorkQueueOutcome(string EntryId, ScheduledRequest? Request, ScheduledResponse? Response, Exception? Exception, int Deliveries, bool Recorded);
