using System.Text;

namespace ProxyScheduler.Politeness.Internal;

/// <summary>
/// One <c>Allow</c> or <c>Disallow</c> path pattern of a robots.txt, compiled once (RFC 9309, section 2.2.3): <c>*</c>
/// matches any sequence of characters and a final <c>$</c> anchors the end of the path. Matching takes time linear in
/// the pattern and the path whatever the pattern: the literal pieces between the stars are found left to right, each
/// with a Knuth–Morris–Pratt scan that starts where the previous piece ended, so no character of the path is looked at
/// twice by the same piece and nothing backtracks. (Taking the leftmost occurrence of each piece is exact for patterns
/// whose only wildcard is <c>*</c>: an earlier end never leaves less room for the pieces after it.)
/// </summary>
internal sealed class RobotsPattern
{
    private readonly string[] _pieces;
    private readonly int[][] _failure;
    private readonly bool _anchored;

    private RobotsPattern(string normalized, bool allow)
    {
        Text = normalized;
        Allow = allow;
        _anchored = normalized.EndsWith('$');
        var body = _anchored ? normalized[..^1] : normalized;
        _pieces = body.Split('*');
        _failure = new int[_pieces.Length][];
        for (var i = 0; i < _pieces.Length; i++)
        {
            _failure[i] = FailureTable(_pieces[i]);
        }
    }

    /// <summary>Gets the pattern as matched (percent-encoding normalised).</summary>
    public string Text { get; }

    /// <summary>Gets how specific the pattern is: its length in octets after normalisation (the longest match wins).</summary>
    public int Length => Text.Length;

    /// <summary>Gets a value indicating whether the rule allows (<c>Allow</c>) rather than disallows.</summary>
    public bool Allow { get; }

    /// <summary>Compiles the value of an <c>Allow</c> or <c>Disallow</c> line.</summary>
    public static RobotsPattern Compile(string value, bool allow) => new(RobotsPath.Normalize(value), allow);

    /// <summary>Whether the pattern matches <paramref name="path"/>, which must already be normalised with <see cref="RobotsPath.Normalize"/>.</summary>
    public bool Matches(string path)
    {
        var span = path.AsSpan();
        var first = _pieces[0];
        if (_pieces.Length == 1)
        {
            return _anchored ? span.SequenceEqual(first) : span.StartsWith(first, StringComparison.Ordinal);
        }

        if (!span.StartsWith(first, StringComparison.Ordinal))
        {
            return false;
        }

        var position = first.Length;
        var end = span.Length;
        var lastMiddle = _pieces.Length - 1;
        if (_anchored)
        {
            // The last piece must end the path; the pieces between the stars must fit before it.
            var last = _pieces[^1];
            end -= last.Length;
            if (end < position || !span[end..].SequenceEqual(last))
            {
                return false;
            }

            lastMiddle--;
        }

        for (var i = 1; i <= lastMiddle; i++)
        {
            var found = IndexOf(span[..end], position, _pieces[i], _failure[i]);
            if (found < 0)
            {
                return false;
            }

            position = found + _pieces[i].Length;
        }

        return true;
    }

    /// <inheritdoc/>
    public override string ToString() => (Allow ? "Allow: " : "Disallow: ") + Text;

    // Knuth–Morris–Pratt: the first index at or after 'start' where 'piece' occurs in 'text', in O(text - start) steps.
    private static int IndexOf(ReadOnlySpan<char> text, int start, string piece, int[] failure)
    {
        if (piece.Length == 0)
        {
            return start;
        }

        var matched = 0;
        for (var i = start; i < text.Length; i++)
        {
            while (matched > 0 && text[i] != piece[matched])
            {
                matched = failure[matched - 1];
            }

            if (text[i] == piece[matched])
            {
                matched++;
                if (matched == piece.Length)
                {
                    return i - piece.Length + 1;
                }
            }
        }

        return -1;
    }

    private static int[] FailureTable(string piece)
    {
        var table = new int[piece.Length];
        var k = 0;
        for (var i = 1; i < piece.Length; i++)
        {
            while (k > 0 && piece[i] != piece[k])
            {
                k = table[k - 1];
            }

            if (piece[i] == piece[k])
            {
                k++;
            }

            table[i] = k;
        }

        return table;
    }
}

/// <summary>
/// The percent-encoding normalisation RFC 9309 (section 2.2.2) asks for before a path and a pattern are compared:
/// characters outside US-ASCII are UTF-8 percent-encoded; a percent-encoded octet of an unreserved character
/// (<c>A–Z a–z 0–9 - . _ ~</c>) is decoded; every other percent-encoding is kept, with upper-case hex digits; a
/// <c>%</c> that starts no escape becomes <c>%25</c>. Reserved characters stay as they are written (encoded or not).
/// So <c>/%62%61%7A</c> and <c>/baz</c> match, while <c>%2F</c> and <c>/</c> stay different.
/// </summary>
internal static class RobotsPath
{
    /// <summary>Normalises <paramref name="value"/> (a path and query, or a pattern: <c>*</c> and <c>$</c> are kept as they are).</summary>
    public static string Normalize(string value)
    {
        if (IsNormal(value))
        {
            return value;
        }

        var builder = new StringBuilder(value.Length + 16);
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '%' && i + 2 < value.Length && IsHex(value[i + 1]) && IsHex(value[i + 2]))
            {
                var octet = (HexValue(value[i + 1]) << 4) | HexValue(value[i + 2]);
                if (IsUnreserved(octet))
                {
                    builder.Append((char)octet);
                }
                else
                {
                    AppendEncoded(builder, (byte)octet);
                }

                i += 2;
            }
            else if (c == '%')
            {
                builder.Append("%25"); // a '%' that starts no escape is the character itself, encoded
            }
            else if (c < 0x80)
            {
                builder.Append(c);
            }
            else
            {
                // Outside US-ASCII: the UTF-8 octets of the code point, each percent-encoded (a lone surrogate as U+FFFD).
                var rune = Rune.TryGetRuneAt(value, i, out var r) ? r : Rune.ReplacementChar;
                var count = rune.EncodeToUtf8(utf8);
                for (var k = 0; k < count; k++)
                {
                    AppendEncoded(builder, utf8[k]);
                }

                if (rune.Utf16SequenceLength == 2)
                {
                    i++;
                }
            }
        }

        return builder.ToString();
    }

    private static bool IsNormal(string value)
    {
        foreach (var c in value)
        {
            if (c is '%' or >= (char)0x80)
            {
                return false;
            }
        }

        return true;
    }

    private static void AppendEncoded(StringBuilder builder, byte octet) =>
        builder.Append('%').Append("0123456789ABCDEF"[octet >> 4]).Append("0123456789ABCDEF"[octet & 0xF]);

    private static bool IsUnreserved(int octet) =>
        octet is (>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '.' or '_' or '~';

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
