using System.Buffers.Binary;
using SkiaSharp;

using ChatPortal.Tests.Infrastructure;

namespace ChatPortal.Tests.Rich;

/// <summary>Real images made in the test (Skia encodes PNG, JPEG and WebP; GIF is written by hand) and crafted bad files.</summary>
internal static class TestImages
{
    public static byte[] Encode(SKEncodedImageFormat format, int width = 64, int height = 48, bool noise = false)
    {
        using var bitmap = new SKBitmap(width, height);
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.Teal);
            using var paint = new SKPaint { Color = SKColors.Orange };
            canvas.DrawCircle(width / 2f, height / 2f, Math.Min(width, height) / 3f, paint);
        }
        if (noise)
        {
            var rng = new Random(42);
            for (var y = 0; y < height; y++)
                for (var x = 0; x < width; x++)
                    bitmap.SetPixel(x, y, new SKColor((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256)));
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, 90);
        return data.ToArray();
    }

    public static byte[] Png(int width = 64, int height = 48, bool noise = false) => Encode(SKEncodedImageFormat.Png, width, height, noise);

    /// <summary>
    /// A real GIF89a. The LZW stream uses 7-bit colours and so 8-bit codes; a clear code every
    /// 100 pixels keeps the code size from growing, so every code is exactly one byte.
    /// </summary>
    public static byte[] Gif(int width = 40, int height = 30)
    {
        var ms = new MemoryStream();
        ms.Write("GIF89a"u8);
        WriteU16(ms, width);
        WriteU16(ms, height);
        ms.WriteByte(0xF6); // global colour table, 128 entries
        ms.WriteByte(0);
        ms.WriteByte(0);
        for (var i = 0; i < 128; i++)
        {
            ms.WriteByte((byte)(i * 2));
            ms.WriteByte((byte)(255 - i * 2));
            ms.WriteByte((byte)(i % 2 == 0 ? 40 : 200));
        }
        ms.WriteByte(0x2C);
        WriteU16(ms, 0);
        WriteU16(ms, 0);
        WriteU16(ms, width);
        WriteU16(ms, height);
        ms.WriteByte(0);
        ms.WriteByte(7); // LZW minimum code size
        var codes = new List<byte> { 128 };
        var sinceClear = 0;
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                if (sinceClear == 100) { codes.Add(128); sinceClear = 0; }
                codes.Add((byte)((x + y) % 128));
                sinceClear++;
            }
        codes.Add(129); // end of information
        for (var i = 0; i < codes.Count; i += 255)
        {
            var n = Math.Min(255, codes.Count - i);
            ms.WriteByte((byte)n);
            ms.Write(codes.GetRange(i, n).ToArray());
        }
        ms.WriteByte(0);
        ms.WriteByte(0x3B);
        return ms.ToArray();
    }

    /// <summary>A PNG signature and IHDR chunk claiming the given size, followed by whatever bytes.</summary>
    public static byte[] PngHeader(int width, int height, ReadOnlySpan<byte> rest)
    {
        var ms = new MemoryStream();
        ms.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        Span<byte> chunk = stackalloc byte[4 + 4 + 13 + 4];
        BinaryPrimitives.WriteUInt32BigEndian(chunk, 13);
        "IHDR"u8.CopyTo(chunk[4..]);
        BinaryPrimitives.WriteUInt32BigEndian(chunk[8..], (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(chunk[12..], (uint)height);
        chunk[16] = 8; // bit depth
        chunk[17] = 6; // RGBA
        BinaryPrimitives.WriteUInt32BigEndian(chunk[21..], Crc32(chunk[4..21]));
        ms.Write(chunk);
        ms.Write(rest);
        return ms.ToArray();
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }

    private static void WriteU16(Stream s, int v)
    {
        s.WriteByte((byte)(v & 0xFF));
        s.WriteByte((byte)(v >> 8));
    }
}
