using System.Net;
using System.Text;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;
using SkiaSharp;

namespace ChatPortal.Tests.Integrations;

/// <summary>
/// An incoming hook's <c>icon_url</c> shown as the message's avatar (issue 16, as Slack does): the page may load images
/// from our origin only, so the portal fetches the icon once (SafeHttp, loopback allowed for the test only), re-encodes
/// it as a small JPEG and serves it at <c>/hook-icons/{message id}</c> to readers of the room.
/// </summary>
[Collection(IntegrationPortalCollection.Name)]
public sealed class HookIconTests(IntegrationPortalFixture fx)
{
    [Fact]
    public async Task The_icon_is_fetched_once_reencoded_small_and_served_only_to_readers_of_the_room()
    {
        await using var icons = new IconServer();
        var room = await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName("hookicon").ToLowerInvariant(), allowGuests: false, isPrivate: true);
        var member = PortalHelpers.UniqueName("iconann");
        var outsider = PortalHelpers.UniqueName("iconbob");
        var memberCookies = await fx.Portal.SignInAsync(member);
        var outsiderCookies = await fx.Portal.SignInAsync(outsider);
        await using (var db = fx.Portal.OpenDb())
        {
            var userId = await db.Users.Where(u => u.Name == member).Select(u => u.Id).SingleAsync();
            db.RoomMembers.Add(new Data.RoomMember { RoomId = room.Id, UserId = userId, JoinedAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }
        var hook = await fx.Portal.AddIncomingAsync(room.Id, "Deploys");
        var withIcon = await PostAsync(room.Id, hook.Token, $$"""{"text":"with icon","username":"CI","icon_url":"{{icons.Url}}/icon.png"}""");
        var plain = await PostAsync(room.Id, hook.Token, """{"text":"no icon"}""");
        var notAnImage = await PostAsync(room.Id, hook.Token, $$"""{"text":"html icon","icon_url":"{{icons.Url}}/page.html"}""");

        using var asMember = fx.Portal.CreateClient(cookies: memberCookies);
        for (var i = 0; i < 2; i++)
        {
            using var r = await asMember.GetAsync($"/hook-icons/{withIcon}");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("image/jpeg", r.Content.Headers.ContentType?.MediaType);
            Assert.Equal("nosniff", r.Headers.GetValues("X-Content-Type-Options").Single());
            using var bitmap = SKBitmap.Decode(await r.Content.ReadAsByteArrayAsync());
            Assert.NotNull(bitmap);
            Assert.True(bitmap.Width <= 64 && bitmap.Width > 0, $"{bitmap.Width} px wide");
            var pixel = bitmap.GetPixel(bitmap.Width / 2, bitmap.Height / 2);
            Assert.True(pixel.Red > 200 && pixel.Green < 60 && pixel.Blue < 60, pixel.ToString()); // the red icon, redrawn by us
        }
        Assert.Equal(1, icons.Hits("/icon.png")); // fetched once, then served from the data folder

        using (var r = await asMember.GetAsync($"/hook-icons/{plain}")) Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        using (var r = await asMember.GetAsync($"/hook-icons/{notAnImage}")) Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        using (var outsiderClient = fx.Portal.CreateClient(cookies: outsiderCookies))
        using (var r = await outsiderClient.GetAsync($"/hook-icons/{withIcon}")) Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        using (var anonymous = fx.Portal.CreateClient())
        using (var r = await anonymous.GetAsync($"/hook-icons/{withIcon}")) Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        Assert.Equal(1, icons.Hits("/icon.png"));
    }

    private async Task<long> PostAsync(long roomId, string token, string json)
    {
        using var http = fx.Portal.CreateClient();
        using var response = await http.PostAsync($"hooks/{token}", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var db = fx.Portal.OpenDb();
        return await db.Messages.Where(m => m.RoomId == roomId).MaxAsync(m => m.Id);
    }

    /// <summary>Serves a red 200×120 PNG at /icon.png and an HTML page at /page.html on loopback, counting requests.</summary>
    private sealed class IconServer : IAsyncDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly Dictionary<string, int> _hits = [];
        private readonly Task _loop;
        private readonly byte[] _png;

        public IconServer()
        {
            using var bitmap = new SKBitmap(200, 120);
            bitmap.Erase(new SKColor(230, 20, 20));
            using var image = SKImage.FromBitmap(bitmap);
            using var data = image.Encode(SKEncodedImageFormat.Png, 100);
            _png = data.ToArray();
            var port = Infrastructure.PortalProcess.FreePort();
            Url = $"http://127.0.0.1:{port}";
            _listener.Prefixes.Add(Url + "/");
            _listener.Start();
            _loop = Task.Run(LoopAsync);
        }

        public string Url { get; }

        public int Hits(string path)
        {
            lock (_hits) return _hits.GetValueOrDefault(path);
        }

        private async Task LoopAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext ctx;
                try { ctx = await _listener.GetContextAsync(); }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException) { return; }
                var path = ctx.Request.Url!.AbsolutePath;
                lock (_hits) _hits[path] = _hits.GetValueOrDefault(path) + 1;
                var (type, body) = path == "/icon.png" ? ("image/png", _png) : ("text/html", "<html>not an icon</html>"u8.ToArray());
                ctx.Response.ContentType = type;
                await ctx.Response.OutputStream.WriteAsync(body);
                ctx.Response.Close();
            }
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            _listener.Close();
            await _loop;
        }
    }
}
