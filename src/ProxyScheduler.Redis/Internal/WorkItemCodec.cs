using System.Globalization;
using System.Text.Json;
using ProxyScheduler.Proxies;
using ProxyScheduler.Proxies.Sessions;
using StackExchange.Redis;

namespace ProxyScheduler.Redis.Internal;

/// <summary>A <see cref="ScheduledRequest"/> as the fields of a stream entry, and back. <see cref="ScheduledRequest.State"/> does not travel.</summary>
internal static class WorkItemCodec
{
    public static NameValueEntry[] Encode(ScheduledRequest request)
    {
        var fields = new List<NameValueEntry>(8)
        {
            new("m", request.Method.Method),
            new("u", request.RequestUri.AbsoluteUri),
        };
        if (request.Headers.Count > 0)
        {
            fields.Add(new("h", JsonSerializer.Serialize(request.Headers)));
        }

        if (request.Content is { } content)
        {
            fields.Add(new("b", content.ToArray()));
        }

        Add(fields, "ct", request.ContentType);
        if (request.Priority != 0)
        {
            fields.Add(new("p", request.Priority));
        }

        Add(fields, "s", request.SessionKey);
        if (request.Deadline is { } deadline)
        {
            fields.Add(new("dl", (long)deadline.TotalMilliseconds));
        }

        if (request.AttemptTimeout is { } timeout)
        {
            fields.Add(new("at", (long)timeout.TotalMilliseconds));
        }

        Add(fields, "px", request.Proxy?.ToString());
        Add(fields, "r", request.Rotation?.ToString());
        return [.. fields];
    }

    /// <exception cref="FormatException">The entry is not a request.</exception>
    public static ScheduledRequest Decode(NameValueEntry[] values)
    {
        var fields = values.ToDictionary(v => (string)v.Name!, v => v.Value, StringComparer.Ordinal);
        if (!fields.TryGetValue("u", out var uri) || !Uri.TryCreate((string?)uri, UriKind.Absolute, out var requestUri))
        {
            throw new FormatException("The entry has no absolute request URI.");
        }

        try
        {
            var request = new ScheduledRequest(requestUri)
            {
                Method = fields.TryGetValue("m", out var m) ? new HttpMethod((string)m!) : HttpMethod.Get,
                Content = fields.TryGetValue("b", out var b) ? (byte[])b! : null,
                ContentType = fields.TryGetValue("ct", out var ct) ? (string?)ct : null,
                Priority = fields.TryGetValue("p", out var p) ? (int)p : 0,
                SessionKey = fields.TryGetValue("s", out var s) ? (string?)s : null,
                Deadline = fields.TryGetValue("dl", out var dl) ? TimeSpan.FromMilliseconds((long)dl) : null,
                AttemptTimeout = fields.TryGetValue("at", out var at) ? TimeSpan.FromMilliseconds((long)at) : null,
                Proxy = fields.TryGetValue("px", out var px) ? ProxyRequirement.Parse((string)px!) : null,
                Rotation = fields.TryGetValue("r", out var r) ? Enum.Parse<ProxyRotation>((string)r!) : null,
            };
            if (fields.TryGetValue("h", out var h) && JsonSerializer.Deserialize<Dictionary<string, string>>((string)h!) is { } headers)
            {
                foreach (var (name, value) in headers)
                {
                    request.Headers[name] = value;
                }
            }

            return request;
        }
        catch (Exception ex) when (ex is ArgumentException or JsonException or InvalidCastException or OverflowException)
        {
            throw new FormatException($"The entry is not a valid request: {ex.Message}", ex);
        }
    }

    private static void Add(List<NameValueEntry> fields, string name, string? value)
    {
        if (value is not null)
        {
            fields.Add(new(name, value));
        }
    }

    public static string Outcome(string status, ScheduledResponse? response, Exception? exception, string worker, int deliveries, DateTimeOffset now) =>
        JsonSerializer.Serialize(new
        {
            status,
            statusCode = response is null ? (int?)null : (int)response.StatusCode,
            attempts = response?.Attempts ?? (exception as RequestFailedException)?.Attempts,
            error = exception switch
            {
                null => null,
                RequestFailedException failed => failed.Reason.ToString(),
                _ => exception.GetType().Name,
            },
            worker,
            deliveries,
            at = now.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture),
        });
}
