using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.WebSockets;

/// <summary>
/// The real portal (child process) the socket tests share, with limits tightened so that the
/// deadline, expiry and size tests are quick, and the per-user rate limit raised so tests can
/// send many messages.
/// </summary>
public sealed class WsPortalFixture : IAsyncLifetime
{
    public const string AllowedOrigin = "http://allowed.example";
    public const double TicketSeconds = 4;
    public const int MaxText = 32 * 1024;
    public const int MaxBinary = 256 * 1024;

    public PortalProcess Portal { get; private set; } = default!;
    public Uri BaseUri => Portal.BaseUri;

    public async ValueTask InitializeAsync()
    {
        Portal = await PortalProcess.StartAsync(new Dictionary<string, string>
        {
            ["Chat__RateLimitBurst"] = "100000",
            ["Chat__RateLimitPerSecond"] = "100000",
            ["WebSockets__AuthTimeoutSeconds"] = "3",
            ["WebSockets__TicketLifetimeSeconds"] = TicketSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["WebSockets__MaxTextMessageBytes"] = MaxText.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["WebSockets__MaxBinaryMessageBytes"] = MaxBinary.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["WebSockets__AllowedOrigins__0"] = AllowedOrigin,
            // Short, so LimitsTests sees a silent peer dropped; but a socket reads its pongs only between its requests
            // (a join and its catch-up are handled before the next read), and with 2 s a socket of this shared portal
            // was dropped once on a fully loaded CI machine (ReactionSocketTests, the twenty-fifth session).
            ["WebSockets__KeepAliveIntervalSeconds"] = "1",
            ["WebSockets__KeepAliveTimeoutSeconds"] = "5",
            // Verbose logs, so "tokens never appear in logs" is checked against everything the server says.
            ["Logging__LogLevel__Default"] = "Debug",
            ["Logging__LogLevel__Microsoft.EntityFrameworkCore"] = "Information",
        });
    }

    public async ValueTask DisposeAsync() => await Portal.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class WsPortalCollection : ICollectionFixture<WsPortalFixture>
{
    public const string Name = "ws-portal";
}

/// <summary>HTTP and database helpers around a running portal.</summary>
public static class PortalHelpers
{
    private static int _names;

    /// <summary>A nickname no other test uses (letters and digits only).</summary>
    public static string UniqueName(string prefix) => $"{prefix}{Interlocked.Increment(ref _names)}x{Random.Shared.Next(1000, 9999)}";

    /// <summary>Signs in (or registers) through the real sign-in form; the cookies end up in <paramref name="cookies"/>.</summary>
    public static async Task<CookieContainer> SignInAsync(this PortalProcess portal, string name, string password = "secret-pw-1")
    {
        var cookies = new CookieContainer();
        using var http = portal.CreateClient(cookies: cookies);
        var page = await http.GetStringAsync("/login");
        var token = Regex.Match(page, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(token), "no antiforgery token on /login");
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "login",
            ["__RequestVerificationToken"] = token,
            ["Input.Name"] = name,
            ["Input.Password"] = password,
            ["Input.RememberMe"] = "true",
            ["Input.ReturnUrl"] = "/",
        });
        using var r = await http.PostAsync("/login", form);
        Assert.True(r.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Found or HttpStatusCode.SeeOther,
            $"sign-in of {name} answered {(int)r.StatusCode}: {await r.Content.ReadAsStringAsync()}");
        Assert.Contains(cookies.GetCookies(portal.BaseUri).Cast<Cookie>(), c => c.Name == ".ChatPortal.User");
        return cookies;
    }

    public static async Task<string> TicketAsync(this PortalProcess portal, CookieContainer cookies)
    {
        using var http = portal.CreateClient(cookies: cookies);
        using var r = await http.PostAsync("/api/ws/ticket", null);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var json = await r.Content.ReadFromJsonAsync<JsonElement>();
        return json.GetProperty("ticket").GetString()!;
    }

    public static async Task<(HttpStatusCode Status, JsonElement Body)> PostTokenAsync(this PortalProcess portal, string name, string password,
        string? label = null)
    {
        using var http = portal.CreateClient();
        using var r = await http.PostAsJsonAsync("/api/auth/token", new { name, password, label });
        var body = await r.Content.ReadFromJsonAsync<JsonElement>();
        return (r.StatusCode, body);
    }

    /// <summary>An API token for a (new or existing) account.</summary>
    public static async Task<string> TokenAsync(this PortalProcess portal, string name, string password = "secret-pw-1")
    {
        var (status, body) = await portal.PostTokenAsync(name, password);
        Assert.True(status == HttpStatusCode.OK, $"token for {name}: {(int)status} {body}");
        return body.GetProperty("token").GetString()!;
    }

    /// <summary>A v1 socket authenticated with a fresh token of <paramref name="name"/>.</summary>
    public static async Task<WsClient> MemberSocketAsync(this PortalProcess portal, string name, string? join = "lobby", long? since = null)
    {
        var token = await portal.TokenAsync(name);
        var ws = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1");
        var welcome = await ws.AuthAsync(token: token);
        Assert.True(welcome.Is("welcome"), welcome.ToString());
        if (join is not null) await ws.JoinAsync(join, since);
        return ws;
    }

    public static ChatDbContext OpenDb(this PortalProcess portal) =>
        new(new DbContextOptionsBuilder<ChatDbContext>()
            .UseSqlite($"Data Source={Path.Combine(portal.DataDir, "chatportal.db")};Pooling=False").Options);

    /// <summary>Creates a room straight in the portal's database (the back office does this in production).</summary>
    public static async Task<Room> CreateRoomAsync(this PortalProcess portal, string slug, bool allowGuests, bool isPrivate = false)
    {
        await using var db = portal.OpenDb();
        var room = new Room
        {
            Slug = slug,
            Name = slug,
            AllowGuests = allowGuests,
            IsPrivate = isPrivate,
            InviteCode = ChatRooms.NewInviteCode(),
            CreatedAt = DateTimeOffset.UtcNow,
        };
        db.Rooms.Add(room);
        await db.SaveChangesAsync();
        return room;
    }

    /// <summary>A real 1×1 PNG (the server checks images by content).</summary>
    public static byte[] TinyPng() => Convert.FromBase64String(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==");
}
