using System.Buffers.Text;
using System.Text;

namespace ChatPortal.LoadGen;

internal enum FrameKind { Other, Delivery, Ack }

/// <summary>What differs between protocols: handshake, how a message is sent, what a frame means.</summary>
internal interface IProtocolDriver
{
    string? SubProtocol { get; }
    bool UsesAcks { get; }
    bool EchoesToSender { get; }
    /// <summary>Before the measured connects: what each connection needs beforehand (v1 token runs: the tokens).</summary>
    Task PrepareAsync(LoadOptions o, CancellationToken ct) => Task.CompletedTask;
    Task HandshakeAsync(Client client, LoadOptions o, CancellationToken ct);
    /// <summary>The upgrade request's Authorization header, if the connection authenticates there.</summary>
    Task<string?> AuthorizationAsync(int index, LoadOptions o, CancellationToken ct) => Task.FromResult<string?>(null);
    /// <summary>The URL connection <paramref name="index"/> opens (v1 --upgrade-join: its room in the query).</summary>
    Uri UrlFor(int index, LoadOptions o) => o.Url;
    ReadOnlyMemory<byte> Encode(string text, int sender, int seq);
    FrameKind Classify(ReadOnlySpan<byte> frame, out long sentTicks);
}

internal static class Drivers
{
    public static IProtocolDriver For(LoadOptions o) => o.Protocol switch
    {
        "plain" => new PlainDriver(),
        "v1" => new V1Driver(),
        _ => throw new ArgumentException($"unknown protocol {o.Protocol}"),
    };

    /// <summary>Reads the sender's timestamp out of "ts=NNN" in the frame.</summary>
    public static long Timestamp(ReadOnlySpan<byte> frame)
    {
        var at = frame.IndexOf("ts="u8);
        return at >= 0 && Utf8Parser.TryParse(frame[(at + 3)..], out long ticks, out _) ? ticks : 0;
    }
}

/// <summary>
/// The original chat room's protocol (also spoken by the peers): raw text frames in, and
/// <c>{"type":"message","message":...}</c> out to everyone but the sender.
/// </summary>
internal sealed class PlainDriver : IProtocolDriver
{
    public string? SubProtocol => null;
    public bool UsesAcks => false;
    public bool EchoesToSender => false;

    public Task HandshakeAsync(Client client, LoadOptions o, CancellationToken ct) =>
        o.Joined.Length == 0 ? Task.CompletedTask : client.ExpectAsync(Encoding.UTF8.GetBytes(o.Joined), ct);

    public ReadOnlyMemory<byte> Encode(string text, int sender, int seq) => Encoding.UTF8.GetBytes(text);

    public FrameKind Classify(ReadOnlySpan<byte> frame, out long sentTicks)
    {
        sentTicks = 0;
        if (frame.IndexOf("\"type\":\"message\""u8) < 0) return FrameKind.Other;
        sentTicks = Drivers.Timestamp(frame);
        return FrameKind.Delivery;
    }
}

/// <summary>
/// <c>chatportal.v1</c>: hello → auth (guest, or an API token from <c>POST /api/auth/token</c>) →
/// join → <c>send</c> frames with a client id; counts <c>ack</c>s (stored) and <c>message</c> deliveries
/// (the sender gets its own message too).
/// </summary>
internal sealed class V1Driver : IProtocolDriver
{
    public string? SubProtocol => "chatportal.v1";
    public bool UsesAcks => true;
    public bool EchoesToSender => true;
    private string _room = "lobby";
    private string[] _tokens = [];

    /// <summary>
    /// Token runs: every connection's API token is issued before the connects are timed (a client that
    /// connects with a token already has one; issuing it signs in with a password hash, which is not
    /// connection setup). Eight at a time.
    /// </summary>
    public async Task PrepareAsync(LoadOptions o, CancellationToken ct)
    {
        if (o.Auth is not ("token" or "bearer")) return;
        _tokens = new string[o.Conns + o.WarmupConns]; // the warm-up connections are users of their own
        // --token-cache=FILE: tokens issued by an earlier run against the same server (and data folder) are used
        // again, as a returning bot would; only the missing ones are issued (a password sign-in each).
        var cached = o.TokenCache.Length > 0 && File.Exists(o.TokenCache) ? await File.ReadAllLinesAsync(o.TokenCache, ct) : [];
        using var gate = new SemaphoreSlim(8);
        await Task.WhenAll(Enumerable.Range(0, _tokens.Length).Select(async i =>
        {
            if (i < cached.Length && cached[i].Length > 0)
            {
                _tokens[i] = cached[i];
                return;
            }
            await gate.WaitAsync(ct);
            try { _tokens[i] = await TokenAsync(o, i, ct); }
            finally { gate.Release(); }
        }));
        if (o.TokenCache.Length > 0 && _tokens.Length > cached.Length) await File.WriteAllLinesAsync(o.TokenCache, _tokens, ct);
    }

    public async Task HandshakeAsync(Client client, LoadOptions o, CancellationToken ct)
    {
        _room = o.Room;
        // --pipeline: auth and join go out at once, before the hello (the server handles a socket's frames in order,
        // so the join is taken after the auth); the four replies are then read. Otherwise one step per reply.
        var join = o.Room is "" or "-" ? null : $"{{\"type\":\"join\",\"id\":2,\"room\":\"{RoomOf(client.Index)}\"}}"; // idle-socket runs: in no room
        if (o.UpgradeJoin && join is not null)
        {
            // --upgrade-join: the room went with the upgrade request (?join=); the server joins it once the socket is
            // authenticated — with a token on the upgrade, no frame from the client at all.
            if (o.Auth != "bearer") await client.SendTextAsync(await AuthFrameAsync(client, o, ct), ct);
            await client.ExpectAsync("\"type\":\"caught_up\""u8.ToArray(), ct);
            return;
        }
        if (o.Auth == "bearer")
        {
            // The token went with the upgrade (Authorization header, set before connecting): hello and welcome come
            // without an auth frame. --pipeline: the join goes out at once.
            if (!o.Pipeline) await client.ExpectAsync("\"type\":\"welcome\""u8.ToArray(), ct);
            if (join is null)
            {
                if (o.Pipeline) await client.ExpectAsync("\"type\":\"welcome\""u8.ToArray(), ct);
                return;
            }
            await client.SendTextAsync(join, ct);
            await client.ExpectAsync("\"type\":\"caught_up\""u8.ToArray(), ct);
            return;
        }
        if (!o.Pipeline) await client.ExpectAsync("\"type\":\"hello\""u8.ToArray(), ct);
        var auth = await AuthFrameAsync(client, o, ct);
        if (o.Pipeline)
        {
            await client.SendTextAsync(auth, ct);
            if (join is not null) await client.SendTextAsync(join, ct);
            await client.ExpectAsync(join is null ? "\"type\":\"welcome\""u8.ToArray() : "\"type\":\"caught_up\""u8.ToArray(), ct);
            return;
        }
        await client.SendTextAsync(auth, ct);
        await client.ExpectAsync("\"type\":\"welcome\""u8.ToArray(), ct);
        if (join is null) return;
        await client.SendTextAsync(join, ct);
        await client.ExpectAsync("\"type\":\"caught_up\""u8.ToArray(), ct);
    }

    private async Task<string> AuthFrameAsync(Client client, LoadOptions o, CancellationToken ct)
    {
        if (o.Auth != "token") return "{\"type\":\"auth\",\"id\":1,\"guest\":true}";
        var token = client.Index < _tokens.Length ? _tokens[client.Index] : await TokenAsync(o, client.Index, ct);
        return $"{{\"type\":\"auth\",\"id\":1,\"token\":\"{token}\"}}";
    }

    public Uri UrlFor(int index, LoadOptions o) => o.UpgradeJoin && o.Room is not ("" or "-")
        ? new UriBuilder(o.Url) { Query = (o.Url.Query.Length > 1 ? o.Url.Query[1..] + "&" : "") + "join=" + Uri.EscapeDataString(RoomOf(index)) }.Uri
        : o.Url;

    /// <summary>--auth=bearer: the connection's token as the upgrade request's Authorization header.</summary>
    public async Task<string?> AuthorizationAsync(int index, LoadOptions o, CancellationToken ct) =>
        o.Auth != "bearer" ? null : "Bearer " + (index < _tokens.Length ? _tokens[index] : await TokenAsync(o, index, ct));

    private static readonly HttpClient Http = new();

    private static async Task<string> TokenAsync(LoadOptions o, int index, CancellationToken ct)
    {
        var http = new UriBuilder(o.Url) { Scheme = o.Url.Scheme == "wss" ? "https" : "http", Path = "/api/auth/token", Query = "" }.Uri;
        var body = $"{{\"name\":\"{o.UserPrefix}{index}\",\"password\":\"loadgen-password-1\",\"label\":\"loadgen\"}}";
        using var res = await Http.PostAsync(http, new StringContent(body, Encoding.UTF8, "application/json"), ct);
        var json = await res.Content.ReadAsStringAsync(ct);
        if (!res.IsSuccessStatusCode) throw new InvalidOperationException($"token: {(int)res.StatusCode} {json}");
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("token").GetString()!;
    }

    /// <summary>--room=storage-{i}: each connection in a room of its own (<c>admin create-room</c> made them).</summary>
    private string RoomOf(int index) => _room.Replace("{i}", index.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

    public ReadOnlyMemory<byte> Encode(string text, int sender, int seq) =>
        Encoding.UTF8.GetBytes($"{{\"type\":\"send\",\"id\":{seq + 10},\"room\":\"{RoomOf(sender)}\",\"text\":\"{text}\",\"client_id\":\"lg-{Run}-{sender}-{seq}\"}}");

    /// <summary>Client ids are unique per run: token users persist between runs, and a repeated id would be acked as a duplicate, not stored.</summary>
    private readonly string Run = Guid.NewGuid().ToString("N")[..8]; // per driver, i.e. per run (also when one process runs several)

    public FrameKind Classify(ReadOnlySpan<byte> frame, out long sentTicks)
    {
        sentTicks = 0;
        if (frame.StartsWith("{\"type\":\"ack\""u8)) return FrameKind.Ack;
        if (frame.StartsWith("{\"type\":\"message\""u8))
        {
            sentTicks = Drivers.Timestamp(frame);
            return FrameKind.Delivery;
        }
        if (frame.IndexOf("\"type\":\"ack\""u8) >= 0) return FrameKind.Ack;
        if (frame.IndexOf("\"type\":\"message\""u8) >= 0) { sentTicks = Drivers.Timestamp(frame); return FrameKind.Delivery; }
        return FrameKind.Other;
    }
}
