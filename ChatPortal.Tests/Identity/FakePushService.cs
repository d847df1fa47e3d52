using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ChatPortal.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ChatPortal.Tests.Identity;

/// <summary>A push that the fake service accepted: the decrypted payload and the checked VAPID claims.</summary>
public sealed record ReceivedPush(string SubscriptionId, string Payload, string Audience, string Subject, long Expires)
{
    public JsonElement Json => JsonDocument.Parse(Payload).RootElement;
}

/// <summary>
/// A Web Push service on a loopback port, like the ones browsers subscribe to. It holds each
/// subscription's private key and auth secret (as a browser would), and for every push it
/// verifies the VAPID token (RFC 8292: ES256 JWT, audience = this origin, expiry, the server key
/// in <c>k</c>) and decrypts the aes128gcm body (RFC 8291 / RFC 8188), all with .NET's own crypto.
/// A push that fails either check is answered 400 and recorded as a failure. Subscriptions can be
/// told to answer 410 Gone (expired) instead.
/// </summary>
public sealed class FakePushService : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Subscriber> _subscribers = new();
    private readonly ConcurrentQueue<ReceivedPush> _received = new();
    private readonly ConcurrentQueue<string> _failures = new();
    private readonly ConcurrentDictionary<string, int> _requests = new();

    private sealed class Subscriber(ECDiffieHellman key, byte[] auth, int status)
    {
        public ECDiffieHellman Key { get; } = key;
        public byte[] Auth { get; } = auth;
        public int Status { get; set; } = status;
    }

    private FakePushService(WebApplication app, int port)
    {
        _app = app;
        Origin = $"http://127.0.0.1:{port}";
    }

    public string Origin { get; }
    /// <summary>The portal's VAPID public key (base64url), which every token must carry and be signed with.</summary>
    public string? ExpectedServerKey { get; set; }
    public IReadOnlyList<ReceivedPush> Received => [.. _received];
    public IReadOnlyList<string> Failures => [.. _failures];
    public int RequestsFor(string id) => _requests.GetValueOrDefault(id);

    public static async Task<FakePushService> StartAsync()
    {
        var port = PortalProcess.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var service = new FakePushService(app, port);
        app.MapPost("/push/{id}", service.ReceiveAsync);
        await app.StartAsync();
        return service;
    }

    /// <summary>A new browser subscription: what the page would POST to the portal (endpoint and keys).</summary>
    public (string Id, string Endpoint, string P256dh, string Auth) Subscribe(int status = 201)
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var key = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var auth = RandomNumberGenerator.GetBytes(16);
        _subscribers[id] = new Subscriber(key, auth, status);
        return (id, $"{Origin}/push/{id}", B64(PublicPoint(key)), B64(auth));
    }

    public async Task<ReceivedPush> WaitForAsync(string subscriptionId, Func<ReceivedPush, bool>? match = null, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var found = _received.FirstOrDefault(p => p.SubscriptionId == subscriptionId && (match?.Invoke(p) ?? true));
            if (found is not null) return found;
            if (!_failures.IsEmpty) throw new InvalidOperationException("A push failed the checks: " + string.Join(" | ", _failures));
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"No push for {subscriptionId}; received {_received.Count}.");
            await Task.Delay(50);
        }
    }

    private async Task<IResult> ReceiveAsync(string id, HttpRequest request)
    {
        _requests.AddOrUpdate(id, 1, (_, n) => n + 1);
        if (!_subscribers.TryGetValue(id, out var s)) return Results.NotFound();
        if (s.Status is 404 or 410) return Results.StatusCode(s.Status);
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body);
        try
        {
            var (aud, sub, exp) = VerifyVapid(request.Headers.Authorization.ToString());
            if (request.Headers.ContentEncoding != "aes128gcm") throw new InvalidOperationException($"Content-Encoding is '{request.Headers.ContentEncoding}'");
            if (!int.TryParse(request.Headers["TTL"], out _)) throw new InvalidOperationException("no TTL header");
            var payload = Decrypt(s, body.ToArray());
            _received.Enqueue(new ReceivedPush(id, payload, aud, sub, exp));
            return Results.StatusCode(201);
        }
        catch (Exception ex)
        {
            _failures.Enqueue(ex.Message);
            return Results.BadRequest(ex.Message);
        }
    }

    /// <summary>RFC 8292: <c>vapid t=JWT, k=key</c>; ES256 over the first two parts with the key in k.</summary>
    private (string Aud, string Sub, long Exp) VerifyVapid(string header)
    {
        if (!header.StartsWith("vapid ", StringComparison.Ordinal)) throw new InvalidOperationException($"Authorization is not 'vapid': {header}");
        var parts = header[6..].Split(',').Select(p => p.Trim().Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var jwt = parts["t"];
        var k = parts["k"];
        if (ExpectedServerKey is not null && k != ExpectedServerKey) throw new InvalidOperationException("k is not the portal's VAPID key");
        var pieces = jwt.Split('.');
        if (pieces.Length != 3) throw new InvalidOperationException("the VAPID token is not a JWT");
        using var head = JsonDocument.Parse(FromB64(pieces[0]));
        if (head.RootElement.GetProperty("alg").GetString() != "ES256") throw new InvalidOperationException("alg is not ES256");
        var point = FromB64(k);
        using var ec = ECDsa.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, Q = new ECPoint { X = point[1..33], Y = point[33..65] } });
        if (!ec.VerifyData(Encoding.ASCII.GetBytes(pieces[0] + "." + pieces[1]), FromB64(pieces[2]), HashAlgorithmName.SHA256))
            throw new InvalidOperationException("the VAPID signature does not verify");
        using var claims = JsonDocument.Parse(FromB64(pieces[1]));
        var aud = claims.RootElement.GetProperty("aud").GetString()!;
        var exp = claims.RootElement.GetProperty("exp").GetInt64();
        var sub = claims.RootElement.GetProperty("sub").GetString()!;
        if (aud != Origin) throw new InvalidOperationException($"aud is {aud}, not {Origin}");
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (exp <= now || exp > now + 24 * 3600) throw new InvalidOperationException($"exp {exp} is out of range");
        if (!sub.StartsWith("mailto:", StringComparison.Ordinal) && !sub.StartsWith("https:", StringComparison.Ordinal))
            throw new InvalidOperationException($"sub is {sub}");
        return (aud, sub, exp);
    }

    /// <summary>RFC 8188 header (salt, rs, keyid = the server's ephemeral key), RFC 8291 keys, one AES-128-GCM record.</summary>
    private static string Decrypt(Subscriber s, byte[] body)
    {
        var salt = body[..16];
        var rs = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(16));
        var idLength = body[20];
        var serverPublic = body[21..(21 + idLength)];
        var record = body[(21 + idLength)..];
        if (idLength != 65 || serverPublic[0] != 4) throw new InvalidOperationException("keyid is not a P-256 point");
        if (record.Length > rs) throw new InvalidOperationException("more than one record");

        using var server = ECDiffieHellman.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = serverPublic[1..33], Y = serverPublic[33..65] },
        });
        var ecdh = s.Key.DeriveRawSecretAgreement(server.PublicKey);
        var keyInfo = Encoding.ASCII.GetBytes("WebPush: info\0").Concat(PublicPoint(s.Key)).Concat(serverPublic).ToArray();
        var ikm = HKDF.DeriveKey(HashAlgorithmName.SHA256, ecdh, 32, s.Auth, keyInfo);
        var cek = HKDF.DeriveKey(HashAlgorithmName.SHA256, ikm, 16, salt, Encoding.ASCII.GetBytes("Content-Encoding: aes128gcm\0"));
        var nonce = HKDF.DeriveKey(HashAlgorithmName.SHA256, ikm, 12, salt, Encoding.ASCII.GetBytes("Content-Encoding: nonce\0"));
        var plain = new byte[record.Length - 16];
        using (var gcm = new AesGcm(cek, 16))
            gcm.Decrypt(nonce, record[..^16], record[^16..], plain);
        var end = plain.Length - 1;
        while (end >= 0 && plain[end] == 0) end--;
        if (end < 0 || plain[end] != 2) throw new InvalidOperationException("no last-record delimiter");
        return Encoding.UTF8.GetString(plain, 0, end);
    }

    private static byte[] PublicPoint(ECDiffieHellman key)
    {
        var p = key.ExportParameters(false);
        return [4, .. p.Q.X!, .. p.Q.Y!];
    }

    private static string B64(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] FromB64(string s)
    {
        var b = s.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(b.PadRight(b.Length + (4 - b.Length % 4) % 4, '='));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        foreach (var s in _subscribers.Values) s.Key.Dispose();
    }
}
