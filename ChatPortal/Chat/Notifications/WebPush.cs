using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using ChatPortal.Data;
using ChatPortal.Hosting;
using ChatPortal.Security;
using Lib.Net.Http.WebPush;
using Lib.Net.Http.WebPush.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat.Notifications;

/// <summary>Push and notification settings (section <c>Notifications</c>).</summary>
public sealed class NotificationOptions
{
    public const string Section = "Notifications";
    /// <summary>Stored messages waiting to be looked at for notifications; beyond it the oldest work is dropped (chat never waits).</summary>
    public int QueueCapacity { get; set; } = 4096;
    /// <summary>VAPID contact (<c>mailto:</c> or <c>https:</c>) that push services may use to reach the operator.</summary>
    public string? PushSubject { get; set; }
    /// <summary>Browsers (push subscriptions) one user may register; the oldest goes when one more comes.</summary>
    public int MaxSubscriptionsPerUser { get; set; } = 10;
    /// <summary>
    /// How old this node's copy of who wants every message of a room may get before it is read again
    /// (changes made on this node apply at once; those made on another node within this many seconds).
    /// </summary>
    public double LevelsRefreshSeconds { get; set; } = 30;
    /// <summary>Tests only: accept <c>http://</c> push endpoints (real push services are https).</summary>
    public bool AllowHttpPushEndpoints { get; set; }
}

/// <summary>
/// The VAPID key pair (P-256), generated once into the data folder (<c>push/vapid.json</c>) so that
/// subscriptions stay valid across restarts and every node of a cluster signs with the same key.
/// </summary>
public sealed class VapidKeys
{
    public VapidKeys(IOptions<PortalOptions> portal, IWebHostEnvironment env, ILogger<VapidKeys> log)
    {
        var folder = Path.Combine(portal.Value.ResolveDataPath(env.ContentRootPath), "push");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, "vapid.json");
        if (!File.Exists(path))
        {
            using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var p = ec.ExportParameters(includePrivateParameters: true);
            var json = JsonSerializer.Serialize(new StoredKeys(Base64Url([0x04, .. p.Q.X!, .. p.Q.Y!]), Base64Url(p.D!)), KeyJson.Default.StoredKeys);
            try
            {
                // CreateNew: when two nodes start at once, one writes and the other reads it.
                using var f = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
                using var w = new StreamWriter(f);
                w.Write(json);
                if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                log.LogInformation("Generated the Web Push (VAPID) key pair in {Path}", path);
            }
            catch (IOException) when (File.Exists(path))
            {
            }
        }
        StoredKeys? keys = null;
        for (var i = 0; i < 50 && keys is null; i++)
        {
            try { keys = JsonSerializer.Deserialize(File.ReadAllText(path), KeyJson.Default.StoredKeys); }
            catch (Exception ex) when (ex is IOException or JsonException) { Thread.Sleep(20); } // the other node is still writing
        }
        if (keys is null) throw new InvalidOperationException($"The VAPID keys in {path} cannot be read.");
        PublicKey = keys.PublicKey;
        PrivateKey = keys.PrivateKey;
    }

    /// <summary>Uncompressed P-256 point, base64url: the browser's <c>applicationServerKey</c>.</summary>
    public string PublicKey { get; }
    public string PrivateKey { get; }

    internal static string Base64Url(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    internal sealed record StoredKeys(string PublicKey, string PrivateKey);
}

[JsonSerializable(typeof(VapidKeys.StoredKeys))]
[JsonSerializable(typeof(PushPayload))]
[JsonSerializable(typeof(VapidClaims))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class KeyJson : JsonSerializerContext;

/// <summary>What the service worker shows (sent encrypted: the push service cannot read it).</summary>
public sealed record PushPayload(string Title, string Body, string Url, string Tag);

/// <summary>Browsers' push subscriptions: add (from the page), list, remove.</summary>
public sealed class PushSubscriptions(IDbContextFactory<ChatDbContext> dbFactory, IOptions<NotificationOptions> options, TimeProvider time)
{
    /// <summary>Stores (or moves to this user) a subscription; null when saved, else why not.</summary>
    public async Task<string?> AddAsync(long userId, string? endpoint, string? p256dh, string? auth, CancellationToken ct = default)
    {
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || endpoint!.Length > 2000)
            return "The endpoint is not a URL.";
        if (uri.Scheme != "https" && !(options.Value.AllowHttpPushEndpoints && uri.Scheme == "http"))
            return "Push endpoints must be https.";
        if (!IsKey(p256dh, 65) || !IsKey(auth, 16)) return "The subscription keys are malformed.";
        var hash = Hash(endpoint);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var row = await db.PushSubscriptions.FirstOrDefaultAsync(s => s.EndpointHash == hash, ct);
        if (row is null)
        {
            db.PushSubscriptions.Add(new PushSubscriptionRecord
            {
                UserId = userId,
                Endpoint = endpoint,
                EndpointHash = hash,
                P256dh = p256dh!,
                Auth = auth!,
                CreatedAt = time.GetUtcNow(),
            });
        }
        else
        {
            // The same browser signed in as someone else: it now belongs to this user only.
            row.UserId = userId;
            row.P256dh = p256dh!;
            row.Auth = auth!;
        }
        await db.SaveChangesAsync(ct);
        var keep = Math.Max(1, options.Value.MaxSubscriptionsPerUser);
        var extra = await db.PushSubscriptions.Where(s => s.UserId == userId).OrderByDescending(s => s.Id).Skip(keep).Select(s => s.Id).ToListAsync(ct);
        if (extra.Count > 0) await db.PushSubscriptions.Where(s => extra.Contains(s.Id)).ExecuteDeleteAsync(ct);
        return null;
    }

    public async Task<bool> RemoveAsync(long userId, string? endpoint, CancellationToken ct = default)
    {
        if (string.IsNullOrEmpty(endpoint)) return false;
        var hash = Hash(endpoint);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.PushSubscriptions.Where(s => s.EndpointHash == hash && s.UserId == userId).ExecuteDeleteAsync(ct) > 0;
    }

    public async Task<IReadOnlyList<PushSubscriptionRecord>> ListAsync(long userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.PushSubscriptions.AsNoTracking().Where(s => s.UserId == userId).ToListAsync(ct);
    }

    internal async Task DeleteAsync(long id, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.PushSubscriptions.Where(s => s.Id == id).ExecuteDeleteAsync(ct);
    }

    internal async Task TouchAsync(long id, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var now = time.GetUtcNow();
        await db.PushSubscriptions.Where(s => s.Id == id).ExecuteUpdateAsync(u => u.SetProperty(s => s.LastPushAt, now), ct);
    }

    internal static string Hash(string endpoint) => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(endpoint)));

    private static bool IsKey(string? s, int bytes)
    {
        if (string.IsNullOrEmpty(s) || s.Length > 200) return false;
        try
        {
            var b64 = s.Replace('-', '+').Replace('_', '/');
            b64 = b64.PadRight(b64.Length + (4 - b64.Length % 4) % 4, '=');
            return Convert.FromBase64String(b64).Length == bytes;
        }
        catch (FormatException) { return false; }
    }
}

/// <summary>
/// Sends Web Push messages (RFC 8030/8291/8292 through Lib.Net.Http.WebPush) over the SSRF-safe client:
/// the endpoint is a URL a browser gave us, so it must not reach inside. A 404 or 410 from the push
/// service means the subscription is gone: it is deleted.
/// </summary>
public sealed class PushSender : IDisposable
{
    private readonly PushServiceClient _client;
    private readonly VapidAuthentication _vapid;
    private readonly PushSubscriptions _subscriptions;
    private readonly ILogger<PushSender> _log;
    private long _sent;
    private long _expired;

    public PushSender(VapidKeys keys, SafeHttpClient http, PushSubscriptions subscriptions, IOptions<NotificationOptions> options,
        IOptions<PortalOptions> portal, ILogger<PushSender> log)
    {
        _subscriptions = subscriptions;
        _log = log;
        var subject = Subject(options.Value, portal.Value);
        _vapid = new VapidAuthentication(keys.PublicKey, keys.PrivateKey) { Subject = subject };
        _client = new PushServiceClient(http.CreateClient(new VapidTokenHandler(keys, subject)))
        {
            DefaultAuthentication = _vapid,
            DefaultAuthenticationScheme = VapidAuthenticationScheme.Vapid,
            DefaultTimeToLive = 3600,
            AutoRetryAfter = false,
        };
    }

    public long Sent => Interlocked.Read(ref _sent);
    public long Expired => Interlocked.Read(ref _expired);

    private static string Subject(NotificationOptions o, PortalOptions p)
    {
        if (!string.IsNullOrWhiteSpace(o.PushSubject)) return o.PushSubject.Trim();
        return p.PublicBaseUrl is { Length: > 0 } url && url.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
            ? url.TrimEnd('/') : "mailto:chatportal@localhost";
    }

    /// <summary>Pushes to every subscription of the user; how many accepted it.</summary>
    public async Task<int> SendAsync(long userId, PushPayload payload, CancellationToken ct = default)
    {
        var json = JsonSerializer.Serialize(payload, KeyJson.Default.PushPayload);
        var delivered = 0;
        foreach (var s in await _subscriptions.ListAsync(userId, ct))
        {
            var subscription = new PushSubscription { Endpoint = s.Endpoint };
            subscription.SetKey(PushEncryptionKeyName.P256DH, s.P256dh);
            subscription.SetKey(PushEncryptionKeyName.Auth, s.Auth);
            try
            {
                await _client.RequestPushMessageDeliveryAsync(subscription, new PushMessage(json)
                {
                    Topic = TopicOf(payload.Tag),
                    Urgency = PushMessageUrgency.High,
                }, ct);
                delivered++;
                Interlocked.Increment(ref _sent);
                await _subscriptions.TouchAsync(s.Id, ct);
            }
            catch (PushServiceClientException ex) when (ex.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Gone)
            {
                Interlocked.Increment(ref _expired);
                _log.LogInformation("Push subscription {Id} of user {User} has expired ({Status}); deleted", s.Id, userId, (int)ex.StatusCode);
                await _subscriptions.DeleteAsync(s.Id, ct);
            }
            catch (PushServiceClientException ex)
            {
                _log.LogWarning("Push to subscription {Id} failed: {Status} {Message}", s.Id, (int)ex.StatusCode, ex.Message);
            }
            catch (HttpRequestException ex)
            {
                _log.LogWarning("Push to subscription {Id} failed: {Message}", s.Id, ex.InnerException?.Message ?? ex.Message);
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                _log.LogWarning("Push to subscription {Id} timed out", s.Id);
            }
        }
        return delivered;
    }

    /// <summary>A later push with the same topic replaces an undelivered one (≤ 32 URL-safe characters).</summary>
    private static string TopicOf(string tag) => new([.. tag.Where(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_').Take(32)]);

    public void Dispose() => _vapid.Dispose();
}

/// <summary>
/// Signs the VAPID token (RFC 8292, ES256) for each push service origin. Lib.Net.Http.WebPush names
/// the audience without the port (<c>scheme://host</c>); RFC 8292 says the origin, which includes a
/// non-default port, and a push service that checks it would refuse ours. So the library's header
/// is replaced with one whose audience is the endpoint's origin. Tokens live 12 hours and are
/// reused for an hour per origin.
/// </summary>
internal sealed class VapidTokenHandler(VapidKeys keys, string subject) : DelegatingHandler
{
    private readonly ECDsa _key = ImportKey(keys);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (string Token, DateTimeOffset Renew)> _tokens = new();

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.RequestUri is { } uri && request.Headers.Authorization?.Scheme is "vapid" or "WebPush")
        {
            var audience = uri.GetLeftPart(UriPartial.Authority);
            var now = DateTimeOffset.UtcNow;
            if (!_tokens.TryGetValue(audience, out var cached) || cached.Renew <= now)
                _tokens[audience] = cached = (Token(audience, now.AddHours(12)), now.AddHours(1));
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("vapid", $"t={cached.Token}, k={keys.PublicKey}");
            request.Headers.Remove("Crypto-Key");
        }
        return base.SendAsync(request, cancellationToken);
    }

    private string Token(string audience, DateTimeOffset expires)
    {
        var header = VapidKeys.Base64Url("{\"typ\":\"JWT\",\"alg\":\"ES256\"}"u8.ToArray());
        var claims = VapidKeys.Base64Url(JsonSerializer.SerializeToUtf8Bytes(
            new VapidClaims(audience, expires.ToUnixTimeSeconds(), subject), KeyJson.Default.VapidClaims));
        var input = header + "." + claims;
        var signature = _key.SignData(System.Text.Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256); // r‖s, 64 bytes
        return input + "." + VapidKeys.Base64Url(signature);
    }

    private static ECDsa ImportKey(VapidKeys keys)
    {
        var q = FromBase64Url(keys.PublicKey);
        return ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = q[1..33], Y = q[33..65] },
            D = FromBase64Url(keys.PrivateKey),
        });
    }

    private static byte[] FromBase64Url(string s)
    {
        var b = s.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(b.PadRight(b.Length + (4 - b.Length % 4) % 4, '='));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _key.Dispose();
        base.Dispose(disposing);
    }
}

internal sealed record VapidClaims(
    [property: JsonPropertyName("aud")] string Aud,
    [property: JsonPropertyName("exp")] long Exp,
    [property: JsonPropertyName("sub")] string Sub);
