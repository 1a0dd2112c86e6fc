using System.Collections.Concurrent;
using System.Net;

namespace ProxyScheduler.Tests.TestSupport;

/// <summary>
/// A primary handler that answers in-process. By default every request waits until the test answers it; with
/// <see cref="Responder"/> set, requests are answered at once.
/// </summary>
public sealed class FakeHandler : HttpMessageHandler
{
    private readonly ConcurrentQueue<PendingRequest> _pending = new();
    private readonly ConcurrentQueue<PendingRequest> _all = new();
    private int _inFlight;
    private int _maxInFlight;

    public Func<HttpRequestMessage, HttpResponseMessage>? Responder { get; set; }

    public IReadOnlyCollection<PendingRequest> Requests => _all;

    public int Count => _all.Count;

    public int InFlight => Volatile.Read(ref _inFlight);

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    public PendingRequest Next()
    {
        if (!_pending.TryDequeue(out var request))
        {
            throw new InvalidOperationException("No request is pending.");
        }

        return request;
    }

    public bool TryNext(out PendingRequest request) => _pending.TryDequeue(out request!);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var now = Interlocked.Increment(ref _inFlight);
        var max = Volatile.Read(ref _maxInFlight);
        while (now > max && Interlocked.CompareExchange(ref _maxInFlight, now, max) != max)
        {
            max = Volatile.Read(ref _maxInFlight);
        }

        try
        {
            var body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken);
            var pending = new PendingRequest(request, body, cancellationToken);
            _all.Enqueue(pending);
            if (Responder is { } responder)
            {
                return responder(request);
            }

            _pending.Enqueue(pending);
            using (cancellationToken.Register(static s => ((PendingRequest)s!).Completion.TrySetCanceled(), pending))
            {
                return await pending.Completion.Task;
            }
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    public static HttpResponseMessage Response(HttpStatusCode status, string body = "ok", Action<HttpResponseMessage>? configure = null)
    {
        var response = new HttpResponseMessage(status) { Content = new StringContent(body) };
        configure?.Invoke(response);
        return response;
    }
}

public sealed class PendingRequest
{
    public PendingRequest(HttpRequestMessage message, byte[]? body, CancellationToken token)
    {
        Message = message;
        Uri = message.RequestUri!;
        Method = message.Method;
        Body = body;
        Token = token;
        Headers = message.Headers.ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase);
    }

    public HttpRequestMessage Message { get; }

    public Uri Uri { get; }

    public HttpMethod Method { get; }

    public byte[]? Body { get; }

    public CancellationToken Token { get; }

    public IReadOnlyDictionary<string, string> Headers { get; }

    public TaskCompletionSource<HttpResponseMessage> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Respond(HttpStatusCode status, string body = "ok", Action<HttpResponseMessage>? configure = null) =>
        Completion.TrySetResult(FakeHandler.Response(status, body, configure));

    public void Fail(Exception exception) => Completion.TrySetException(exception);
}
