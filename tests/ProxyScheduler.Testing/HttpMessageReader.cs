using System.Globalization;
using System.Text;

namespace ProxyScheduler.Testing;

/// <summary>Reads HTTP/1.1 message heads and bodies from a stream, keeping what it read past a head; writes simple responses.</summary>
internal sealed class HttpMessageReader(Stream stream)
{
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    /// <summary>Reads the next message head (request line and headers, without the blank line); <see langword="null"/> at the end of the stream.</summary>
    public async Task<string?> ReadHeadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var span = _buffer.AsSpan(_start, _end - _start);
            var at = span.IndexOf("\r\n\r\n"u8);
            if (at >= 0)
            {
                var head = Encoding.ASCII.GetString(span[..at]);
                _start += at + 4;
                return head;
            }

            if (_end - _start == _buffer.Length)
            {
                throw new IOException("The message head is larger than 64 KiB.");
            }

            if (!await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                return null;
            }
        }
    }

    public async Task<byte[]> ReadBodyAsync(int length, CancellationToken cancellationToken)
    {
        if (length > _buffer.Length)
        {
            throw new IOException("Request bodies over 64 KiB are not supported by this test server.");
        }

        while (_end - _start < length)
        {
            if (!await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new IOException("The body ended early.");
            }
        }

        var body = _buffer.AsSpan(_start, length).ToArray();
        _start += length;
        return body;
    }

    /// <summary>Takes the bytes read past the last head and not consumed yet (a tunnel's first bytes).</summary>
    public ReadOnlyMemory<byte> TakeBuffered()
    {
        var rest = _buffer.AsMemory(_start, _end - _start).ToArray();
        _start = _end = 0;
        return rest;
    }

    /// <summary>Splits a head into its request line's parts and its headers.</summary>
    public static (string Method, string Target, List<(string Name, string Value)> Headers) Parse(string head)
    {
        var lines = head.Split("\r\n");
        var requestLine = lines[0].Split(' ');
        var headers = lines.Skip(1).Where(l => l.Contains(':', StringComparison.Ordinal))
            .Select(l => (Name: l[..l.IndexOf(':', StringComparison.Ordinal)].Trim(), Value: l[(l.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim())).ToList();
        return (requestLine[0], requestLine.Length > 1 ? requestLine[1] : string.Empty, headers);
    }

    public static string? Header(List<(string Name, string Value)> headers, string name) =>
        headers.FirstOrDefault(h => h.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;

    public static int ContentLength(List<(string Name, string Value)> headers) =>
        Header(headers, "Content-Length") is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : 0;

    public static async Task WriteResponseAsync(Stream stream, int status, string reason, IEnumerable<(string Name, string Value)> headers, byte[] body)
    {
        var head = new StringBuilder();
        head.Append(CultureInfo.InvariantCulture, $"HTTP/1.1 {status} {reason}\r\nContent-Length: {body.Length}\r\n");
        foreach (var (name, value) in headers)
        {
            head.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        }

        head.Append("\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString())).ConfigureAwait(false);
        await stream.WriteAsync(body).ConfigureAwait(false);
    }

    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        var n = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
        _end += n;
        return n > 0;
    }
}
