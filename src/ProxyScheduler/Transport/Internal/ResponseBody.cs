using System.Buffers;

namespace ProxyScheduler.Transport.Internal;

/// <summary>
/// A buffered response body: an exact array, or the first <see cref="Length"/> bytes of an array rented from
/// <see cref="Pool"/> (for the post-processing stage, which gives it back when the item is done).
/// </summary>
internal readonly struct ResponseBody
{
    public static readonly ResponseBody Empty = new([], 0, null);

    public ResponseBody(byte[] array, int length, ArrayPool<byte>? pool)
    {
        Array = array;
        Length = length;
        Pool = pool;
    }

    public byte[] Array { get; }

    public int Length { get; }

    /// <summary>Gets the pool the array was rented from; <see langword="null"/> when the array is the body's own.</summary>
    public ArrayPool<byte>? Pool { get; }

    public ReadOnlyMemory<byte> Memory => new(Array, 0, Length);

    /// <summary>Gives a rented array back to its pool; an owned array is left to the garbage collector.</summary>
    public void Return() => Pool?.Return(Array);
}
