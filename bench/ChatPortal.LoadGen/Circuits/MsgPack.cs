using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace ChatPortal.LoadGen.Circuits;

/// <summary>
/// The little of MessagePack that SignalR's hub protocol needs (Blazor's "blazorpack" is SignalR's
/// MessagePack hub protocol under another name): arrays, maps, nil, bools, integers, strings, binary.
/// Written by hand so that 1,000 circuits cost one small state machine each, not a HubConnection.
/// </summary>
internal static class MsgPack
{
    public static void Array(ArrayBufferWriter<byte> w, int count)
    {
        if (count < 16) Byte(w, (byte)(0x90 | count));
        else { Byte(w, 0xdc); BinaryPrimitives.WriteUInt16BigEndian(w.GetSpan(2), (ushort)count); w.Advance(2); }
    }

    public static void EmptyMap(ArrayBufferWriter<byte> w) => Byte(w, 0x80);

    public static void Nil(ArrayBufferWriter<byte> w) => Byte(w, 0xc0);

    public static void Bool(ArrayBufferWriter<byte> w, bool v) => Byte(w, v ? (byte)0xc3 : (byte)0xc2);

    public static void Int(ArrayBufferWriter<byte> w, long v)
    {
        if (v is >= 0 and < 128) { Byte(w, (byte)v); return; }
        Byte(w, 0xd3);
        BinaryPrimitives.WriteInt64BigEndian(w.GetSpan(8), v);
        w.Advance(8);
    }

    public static void Str(ArrayBufferWriter<byte> w, string? s)
    {
        if (s is null) { Nil(w); return; }
        var n = Encoding.UTF8.GetByteCount(s);
        if (n < 32) Byte(w, (byte)(0xa0 | n));
        else { Byte(w, 0xdb); BinaryPrimitives.WriteUInt32BigEndian(w.GetSpan(4), (uint)n); w.Advance(4); }
        w.Advance(Encoding.UTF8.GetBytes(s, w.GetSpan(n)));
    }

    private static void Byte(ArrayBufferWriter<byte> w, byte b) { w.GetSpan(1)[0] = b; w.Advance(1); }
}

/// <summary>A forward-only MessagePack reader over one message.</summary>
internal ref struct MsgPackReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _pos;

    public int ReadArrayHeader()
    {
        var b = _data[_pos++];
        if ((b & 0xf0) == 0x90) return b & 0x0f;
        return b switch
        {
            0xdc => (int)U(2),
            0xdd => (int)U(4),
            _ => throw new FormatException($"array expected, got 0x{b:x2}"),
        };
    }

    public bool TryReadNil()
    {
        if (_data[_pos] != 0xc0) return false;
        _pos++;
        return true;
    }

    public long ReadInt()
    {
        var b = _data[_pos++];
        if (b < 0x80) return b;
        if (b >= 0xe0) return (sbyte)b;
        return b switch
        {
            0xcc => (long)U(1),
            0xcd => (long)U(2),
            0xce => (long)U(4),
            0xcf => (long)U(8),
            0xd0 => (sbyte)U(1),
            0xd1 => (short)U(2),
            0xd2 => (int)U(4),
            0xd3 => (long)U(8),
            _ => throw new FormatException($"integer expected, got 0x{b:x2}"),
        };
    }

    public string? ReadString()
    {
        if (TryReadNil()) return null;
        var b = _data[_pos++];
        var n = (b & 0xe0) == 0xa0 ? b & 0x1f : b switch
        {
            0xd9 => (int)U(1),
            0xda => (int)U(2),
            0xdb => (int)U(4),
            _ => throw new FormatException($"string expected, got 0x{b:x2}"),
        };
        var s = Encoding.UTF8.GetString(_data.Slice(_pos, n));
        _pos += n;
        return s;
    }

    public ReadOnlySpan<byte> ReadBinary()
    {
        var b = _data[_pos++];
        var n = b switch
        {
            0xc4 => (int)U(1),
            0xc5 => (int)U(2),
            0xc6 => (int)U(4),
            _ => throw new FormatException($"binary expected, got 0x{b:x2}"),
        };
        var s = _data.Slice(_pos, n);
        _pos += n;
        return s;
    }

    /// <summary>Skips one value of any type (headers, arguments we do not need).</summary>
    public void Skip()
    {
        var b = _data[_pos++];
        switch (b)
        {
            case < 0x80 or >= 0xe0 or 0xc0 or 0xc2 or 0xc3: return;
            case >= 0x80 and <= 0x8f: SkipN(2 * (b & 0x0f)); return;
            case >= 0x90 and <= 0x9f: SkipN(b & 0x0f); return;
            case >= 0xa0 and <= 0xbf: _pos += b & 0x1f; return;
            case 0xc4 or 0xd9: _pos += (int)U(1); return;
            case 0xc5 or 0xda: _pos += (int)U(2); return;
            case 0xc6 or 0xdb: _pos += (int)U(4); return;
            case 0xc7: { var n = (int)U(1); _pos += 1 + n; return; }
            case 0xc8: { var n = (int)U(2); _pos += 1 + n; return; }
            case 0xc9: { var n = (int)U(4); _pos += 1 + n; return; }
            case 0xca or 0xce or 0xd2: _pos += 4; return;
            case 0xcb or 0xcf or 0xd3: _pos += 8; return;
            case 0xcc or 0xd0: _pos += 1; return;
            case 0xcd or 0xd1: _pos += 2; return;
            case 0xd4: _pos += 2; return;
            case 0xd5: _pos += 3; return;
            case 0xd6: _pos += 5; return;
            case 0xd7: _pos += 9; return;
            case 0xd8: _pos += 17; return;
            case 0xdc: SkipN((int)U(2)); return;
            case 0xdd: SkipN((int)U(4)); return;
            case 0xde: SkipN(2 * (int)U(2)); return;
            case 0xdf: SkipN(2 * (int)U(4)); return;
            default: throw new FormatException($"unknown MessagePack byte 0x{b:x2}");
        }
    }

    private void SkipN(int n)
    {
        for (var i = 0; i < n; i++) Skip();
    }

    private ulong U(int n)
    {
        ulong v = 0;
        for (var i = 0; i < n; i++) v = (v << 8) | _data[_pos++];
        return v;
    }
}
