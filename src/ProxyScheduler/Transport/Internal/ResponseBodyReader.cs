using System.Buffers;

namespace ProxyScheduler.Transport.Internal;

/// <summary>
/// Reads a response body fully into memory, enforcing a size cap before and while reading. Without a pool the body is
/// an array of its exact length; with one, it stays in the array rented from that pool, which the caller gives back.
/// </summary>
internal static class ResponseBodyReader
{
    private const int InitialBufferSize = 16 * 1024;

    /// <summary>Reads at most <paramref name="limit"/> bytes of the body and stops there: a longer body is cut, not failed.</summary>
    public static async ValueTask<ResponseBody> ReadPrefixAsync(HttpContent content, int limit, CancellationToken cancellationToken)
    {
        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new byte[(int)Math.Clamp(content.Headers.ContentLength ?? InitialBufferSize, 1, Math.Max(limit, 1))];
            var total = 0;
            while (total < limit)
            {
                if (total == buffer.Length)
                {
                    Array.Resize(ref buffer, (int)Math.Min((long)buffer.Length * 2, limit));
                }

                var n = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                total += n;
            }

            return new ResponseBody(buffer, total, null);
        }
    }

    public static async ValueTask<ResponseBody> ReadAsync(HttpContent content, long maxSize, ArrayPool<byte>? pool, CancellationToken cancellationToken)
    {
        var declared = content.Headers.ContentLength;
        if (declared > maxSize)
        {
            throw new ResponseTooLargeException(declared.Value, maxSize);
        }

        if (declared == 0)
        {
            return ResponseBody.Empty;
        }

        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            if (declared is { } length)
            {
                // Known length: read straight into an array of that size (exact, or rented).
                var exact = pool is null ? new byte[length] : pool.Rent((int)length);
                var read = 0;
                try
                {
                    while (read < length)
                    {
                        var n = await stream.ReadAsync(exact.AsMemory(read, (int)length - read), cancellationToken).ConfigureAwait(false);
                        if (n == 0)
                        {
                            throw new HttpIOException(HttpRequestError.ResponseEnded, "The response ended before its declared Content-Length.");
                        }

                        read += n;
                    }
                }
                catch
                {
                    pool?.Return(exact);
                    throw;
                }

                return new ResponseBody(exact, read, pool);
            }

            // Unknown length (chunked, or decompressed): read into rented buffers, growing; then either keep the
            // rented buffer (with a pool) or copy out once.
            var rentFrom = pool ?? ArrayPool<byte>.Shared;
            var buffer = rentFrom.Rent((int)Math.Min(InitialBufferSize, Math.Max(maxSize, 1)));
            var total = 0;
            var keep = false;
            try
            {
                while (true)
                {
                    if (total == buffer.Length)
                    {
                        var larger = rentFrom.Rent((int)Math.Min((long)buffer.Length * 2, Math.Min(maxSize + 1, Array.MaxLength)));
                        buffer.AsSpan(0, total).CopyTo(larger);
                        rentFrom.Return(buffer);
                        buffer = larger;
                    }

                    var n = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false);
                    if (n == 0)
                    {
                        break;
                    }

                    total += n;
                    if (total > maxSize)
                    {
                        throw new ResponseTooLargeException(null, maxSize);
                    }
                }

                if (pool is not null)
                {
                    keep = true;
                    return new ResponseBody(buffer, total, pool);
                }

                var copy = buffer.AsSpan(0, total).ToArray();
                return new ResponseBody(copy, copy.Length, null);
            }
            finally
            {
                if (!keep)
                {
                    rentFrom.Return(buffer);
                }
            }
        }
    }
}
