using System.Buffers;

namespace ProxyScheduler.Transport.Internal;

/// <summary>Reads a response body fully into memory, enforcing a size cap before and while reading.</summary>
internal static class ResponseBodyReader
{
    private const int InitialBufferSize = 16 * 1024;

    public static async ValueTask<byte[]> ReadAsync(HttpContent content, long maxSize, CancellationToken cancellationToken)
    {
        var declared = content.Headers.ContentLength;
        if (declared > maxSize)
        {
            throw new ResponseTooLargeException(declared.Value, maxSize);
        }

        if (declared == 0)
        {
            return [];
        }

        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            if (declared is { } length)
            {
                // Known length: read straight into an array of exactly that size.
                var exact = new byte[length];
                var read = 0;
                while (read < exact.Length)
                {
                    var n = await stream.ReadAsync(exact.AsMemory(read), cancellationToken).ConfigureAwait(false);
                    if (n == 0)
                    {
                        throw new HttpIOException(HttpRequestError.ResponseEnded, "The response ended before its declared Content-Length.");
                    }

                    read += n;
                }

                return exact;
            }

            // Unknown length (chunked, or decompressed): read into pooled buffers, growing, then copy out once.
            var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(InitialBufferSize, Math.Max(maxSize, 1)));
            var total = 0;
            try
            {
                while (true)
                {
                    if (total == buffer.Length)
                    {
                        var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, Math.Min(maxSize + 1, Array.MaxLength)));
                        buffer.AsSpan(0, total).CopyTo(larger);
                        ArrayPool<byte>.Shared.Return(buffer);
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

                return buffer.AsSpan(0, total).ToArray();
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
