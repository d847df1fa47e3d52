using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatPortal.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ChatPortal.Tests.Identity;

/// <summary>A person the test provider knows.</summary>
public sealed record IdpUser(string Login, string Password, string Subject, string Name, string? Email, bool EmailVerified,
    string[] Groups, bool WithPicture = false);

/// <summary>
/// A small OpenID Connect provider on a loopback port, written for the tests: discovery, JWKS,
/// an authorize endpoint with its own login page (code flow, PKCE S256 required), a token
/// endpoint (client secret, single-use code, redirect URI and code verifier checked) that issues
/// an RS256-signed id token, userinfo, and a picture with metadata in it. It records what it saw
/// so tests can prove PKCE was used.
/// </summary>
public sealed class TestIdentityProvider : IAsyncDisposable
{
    public const string ClientId = "chatportal";
    public const string ClientSecret = "test-client-secret";
    private readonly WebApplication _app;
    private readonly RSA _key = RSA.Create(2048);
    private readonly string _kid = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
    private readonly ConcurrentDictionary<string, Grant> _codes = new();
    private readonly ConcurrentDictionary<string, IdpUser> _accessTokens = new();
    private readonly ConcurrentDictionary<string, IdpUser> _users = new(StringComparer.Ordinal);
    private int _pkceVerified;
    private int _pkceRejected;

    private sealed record Grant(string ClientId, string RedirectUri, string Challenge, string? Nonce, IdpUser User);

    private TestIdentityProvider(WebApplication app, int port)
    {
        _app = app;
        Issuer = $"http://127.0.0.1:{port}";
    }

    public string Issuer { get; }
    /// <summary>Token requests whose code verifier matched the challenge.</summary>
    public int PkceVerified => Volatile.Read(ref _pkceVerified);
    public int PkceRejected => Volatile.Read(ref _pkceRejected);
    /// <summary>A PNG with a tEXt chunk holding this marker: the portal must not pass it on.</summary>
    public static readonly string PictureMarker = "SECRET-CAMERA-METADATA";

    public void Add(IdpUser user) => _users[user.Login] = user;

    /// <summary>The portal's settings for this provider (environment variables of the portal process).</summary>
    public Dictionary<string, string> PortalSettings(string? adminGroup = null) => new()
    {
        ["Oidc__Authority"] = Issuer,
        ["Oidc__ClientId"] = ClientId,
        ["Oidc__ClientSecret"] = ClientSecret,
        ["Oidc__DisplayName"] = "TestID",
        ["Oidc__RequireHttpsMetadata"] = "false",
        ["Oidc__RoomGroups__team-red"] = "red-room",
        ["Oidc__AdminGroup"] = adminGroup ?? "",
        // The picture lives on this loopback provider: only tests allow loopback for the SSRF-safe client.
        ["SafeHttp__AllowedAddresses__0"] = "127.0.0.1",
    };

    public static async Task<TestIdentityProvider> StartAsync()
    {
        var port = PortalProcess.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var idp = new TestIdentityProvider(app, port);
        idp.Map(app);
        await app.StartAsync();
        return idp;
    }

    private void Map(WebApplication app)
    {
        app.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = Issuer,
            ["authorization_endpoint"] = Issuer + "/authorize",
            ["token_endpoint"] = Issuer + "/token",
            ["userinfo_endpoint"] = Issuer + "/userinfo",
            ["jwks_uri"] = Issuer + "/jwks",
            ["response_types_supported"] = new[] { "code" },
            ["subject_types_supported"] = new[] { "public" },
            ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
            ["code_challenge_methods_supported"] = new[] { "S256" },
            ["scopes_supported"] = new[] { "openid", "profile", "email" },
            ["token_endpoint_auth_methods_supported"] = new[] { "client_secret_post", "client_secret_basic" },
        }));
        app.MapGet("/jwks", () =>
        {
            var p = _key.ExportParameters(false);
            return Results.Json(new { keys = new[] { new { kty = "RSA", use = "sig", alg = "RS256", kid = _kid, n = B64(p.Modulus!), e = B64(p.Exponent!) } } });
        });
        app.MapGet("/authorize", (HttpRequest r) =>
        {
            var q = r.Query;
            if (q["client_id"] != ClientId || q["response_type"] != "code" || string.IsNullOrEmpty(q["redirect_uri"]))
                return Results.BadRequest("bad authorization request");
            if (q["code_challenge_method"] != "S256" || string.IsNullOrEmpty(q["code_challenge"]))
                return Results.BadRequest("PKCE (S256) is required");
            return Results.Content(LoginPage(q, null), "text/html");
        });
        app.MapPost("/authorize", async (HttpRequest r) =>
        {
            var f = await r.ReadFormAsync();
            if (!_users.TryGetValue(f["login"].ToString(), out var user) || user.Password != f["password"])
                return Results.Content(LoginPage(f, "Wrong login or password."), "text/html", statusCode: 400);
            var code = B64(RandomNumberGenerator.GetBytes(24));
            _codes[code] = new Grant(f["client_id"]!, f["redirect_uri"]!, f["code_challenge"]!, NullIfEmpty(f["nonce"]), user);
            var redirect = $"{f["redirect_uri"]}?code={Uri.EscapeDataString(code)}&state={Uri.EscapeDataString(f["state"].ToString())}&iss={Uri.EscapeDataString(Issuer)}";
            return Results.Redirect(redirect);
        });
        app.MapPost("/token", async (HttpRequest r) =>
        {
            var f = await r.ReadFormAsync();
            var (clientId, secret) = ClientCredentials(r, f);
            if (clientId != ClientId || secret != ClientSecret) return Results.Json(new { error = "invalid_client" }, statusCode: 401);
            if (f["grant_type"] != "authorization_code" || !_codes.TryRemove(f["code"].ToString(), out var grant))
                return Results.Json(new { error = "invalid_grant" }, statusCode: 400);
            if (grant.RedirectUri != f["redirect_uri"]) return Results.Json(new { error = "invalid_grant", error_description = "redirect_uri" }, statusCode: 400);
            var verifier = f["code_verifier"].ToString();
            if (string.IsNullOrEmpty(verifier) || B64(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))) != grant.Challenge)
            {
                Interlocked.Increment(ref _pkceRejected);
                return Results.Json(new { error = "invalid_grant", error_description = "PKCE" }, statusCode: 400);
            }
            Interlocked.Increment(ref _pkceVerified);
            var access = B64(RandomNumberGenerator.GetBytes(24));
            _accessTokens[access] = grant.User;
            return Results.Json(new { access_token = access, token_type = "Bearer", expires_in = 300, id_token = IdToken(grant) });
        });
        app.MapGet("/userinfo", (HttpRequest r) =>
        {
            var auth = r.Headers.Authorization.ToString();
            if (!auth.StartsWith("Bearer ", StringComparison.Ordinal) || !_accessTokens.TryGetValue(auth[7..], out var user))
                return Results.StatusCode(401);
            return Results.Json(Claims(user, includeGroups: true));
        });
        app.MapGet("/picture/{login}.png", (string login) =>
            _users.TryGetValue(login, out var u) && u.WithPicture ? Results.File(PictureWithMetadata(), "image/png") : Results.NotFound());
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    private static (string? Id, string? Secret) ClientCredentials(HttpRequest r, IFormCollection f)
    {
        var auth = r.Headers.Authorization.ToString();
        if (auth.StartsWith("Basic ", StringComparison.Ordinal))
        {
            var pair = Encoding.UTF8.GetString(Convert.FromBase64String(auth[6..])).Split(':', 2);
            return (Uri.UnescapeDataString(pair[0]), pair.Length > 1 ? Uri.UnescapeDataString(pair[1]) : null);
        }
        return (f["client_id"], f["client_secret"]);
    }

    private Dictionary<string, object> Claims(IdpUser u, bool includeGroups)
    {
        var claims = new Dictionary<string, object>
        {
            ["sub"] = u.Subject,
            ["name"] = u.Name,
            ["preferred_username"] = u.Login,
        };
        if (u.Email is not null)
        {
            claims["email"] = u.Email;
            claims["email_verified"] = u.EmailVerified;
        }
        if (u.WithPicture) claims["picture"] = $"{Issuer}/picture/{u.Login}.png";
        if (includeGroups) claims["groups"] = u.Groups;
        return claims;
    }

    private string IdToken(Grant g)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var payload = new JsonObject
        {
            ["iss"] = Issuer,
            ["aud"] = ClientId,
            ["iat"] = now,
            ["nbf"] = now,
            ["exp"] = now + 300,
        };
        foreach (var (k, v) in Claims(g.User, includeGroups: false))
            payload[k] = JsonSerializer.SerializeToNode(v);
        if (g.Nonce is not null) payload["nonce"] = g.Nonce;
        var header = new JsonObject { ["alg"] = "RS256", ["typ"] = "JWT", ["kid"] = _kid };
        var signingInput = B64(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." + B64(Encoding.UTF8.GetBytes(payload.ToJsonString()));
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signingInput + "." + B64(signature);
    }

    private static string LoginPage(IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> parameters, string? error)
    {
        var sb = new StringBuilder("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>TestID sign-in</title></head><body><h1>TestID</h1>");
        if (error is not null) sb.Append("<p id=\"idp-error\">").Append(WebUtility.HtmlEncode(error)).Append("</p>");
        sb.Append("<form method=\"post\" action=\"/authorize\">");
        foreach (var (k, v) in parameters)
        {
            if (k is "login" or "password") continue;
            sb.Append("<input type=\"hidden\" name=\"").Append(WebUtility.HtmlEncode(k)).Append("\" value=\"").Append(WebUtility.HtmlEncode(v.ToString())).Append("\">");
        }
        sb.Append("<label>Login <input id=\"idp-login\" name=\"login\"></label><label>Password <input id=\"idp-password\" name=\"password\" type=\"password\"></label>");
        sb.Append("<button id=\"idp-submit\" type=\"submit\">Sign in</button></form></body></html>");
        return sb.ToString();
    }

    /// <summary>A 64×48 red PNG with a tEXt chunk carrying <see cref="PictureMarker"/>.</summary>
    public static byte[] PictureWithMetadata()
    {
        using var bitmap = new SkiaSharp.SKBitmap(64, 48);
        bitmap.Erase(new SkiaSharp.SKColor(200, 30, 30));
        using var data = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        var png = data.ToArray();
        // Insert a tEXt chunk right after IHDR (8-byte signature + 25-byte IHDR chunk).
        var text = Encoding.Latin1.GetBytes("Comment\0" + PictureMarker);
        var chunk = new byte[12 + text.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(chunk, text.Length);
        Encoding.ASCII.GetBytes("tEXt").CopyTo(chunk, 4);
        text.CopyTo(chunk, 8);
        var crc = Crc32(chunk.AsSpan(4, 4 + text.Length));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + text.Length), crc);
        return [.. png.AsSpan(0, 33), .. chunk, .. png.AsSpan(33)];
    }

    /// <summary>PNG's CRC-32 (ISO 3309, reflected, polynomial 0xEDB88320).</summary>
    internal static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var i = 0; i < 8; i++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }

    private static string B64(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _key.Dispose();
    }
}
