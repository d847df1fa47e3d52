using System.Net;
using System.Net.WebSockets;
using ChatPortal.Admin;
using ChatPortal.Data;
using ChatPortal.Images;
using ChatPortal.Tests.Admin;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Sec20;

/// <summary>
/// Issue 20, item 5: images of deleted messages and rooms are no longer served and their files
/// go; uploads that were refused or never sent do not stay on disk; the cache lifetime is one a
/// delete can honour; a user's stored images have a quota.
/// </summary>
public sealed class ImageRetentionTests
{
    private static async Task<(long MessageId, string ImageId)> PostImageAsync(WsClient ws, string room = "lobby")
    {
        var clientId = Guid.NewGuid().ToString("N");
        await ws.SendJsonAsync(new { type = "image", id = clientId, room, client_id = clientId });
        await ws.SendBytesAsync(PortalHelpers.TinyPng(), WebSocketMessageType.Binary);
        var ack = await ws.WaitForAsync(f => f.Get("reply_to") == clientId);
        Assert.True(ack.Is("ack"), ack.ToString());
        var msg = await ws.WaitForAsync(f => f.Is("message") && f.Get("message.client_id") == clientId);
        return (ack.GetLong("message_id"), msg.Get("message.image.id")!);
    }

    private static async Task<HttpStatusCode> WaitForStatusAsync(PortalProcess portal, string path, HttpStatusCode wanted)
    {
        using var http = portal.CreateClient();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        HttpStatusCode status;
        while ((status = (await http.GetAsync(path)).StatusCode) != wanted && DateTime.UtcNow < deadline) await Task.Delay(100);
        return status;
    }

    private static int FileCount(PortalProcess portal)
    {
        var dir = Path.Combine(portal.DataDir, "images");
        return Directory.Exists(dir) ? Directory.GetFiles(dir).Length : 0;
    }

    [Fact]
    public async Task A_deleted_messages_image_is_no_longer_served_and_its_file_is_gone_and_caching_is_short()
    {
        await using var portal = await PortalProcess.StartAsync();
        await using var ws = await portal.MemberSocketAsync(PortalHelpers.UniqueName("snap"));
        var (messageId, imageId) = await PostImageAsync(ws);
        using var http = portal.CreateClient();
        using (var served = await http.GetAsync($"/images/{imageId}"))
        {
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
            var cache = served.Headers.CacheControl!;
            Assert.False(cache.ToString().Contains("immutable", StringComparison.Ordinal), cache.ToString());
            Assert.InRange(cache.MaxAge!.Value, TimeSpan.Zero, TimeSpan.FromHours(1));
        }
        Assert.True(File.Exists(Path.Combine(portal.DataDir, "images", imageId)));

        Assert.True((await ws.RequestAsync("delete", ("message_id", messageId))).Is("deleted"));
        Assert.Equal(HttpStatusCode.NotFound, await WaitForStatusAsync(portal, $"/images/{imageId}", HttpStatusCode.NotFound));
        Assert.False(File.Exists(Path.Combine(portal.DataDir, "images", imageId)));
        await using var db = portal.OpenDb();
        Assert.False(await db.Images.AnyAsync(i => i.Id == imageId));
    }

    [Fact]
    public async Task An_upload_refused_by_the_rate_limit_leaves_no_file_behind()
    {
        await using var portal = await PortalProcess.StartAsync(new Dictionary<string, string>
        {
            ["Chat__RateLimitBurst"] = "1", ["Chat__RateLimitPerSecond"] = "0.01",
        });
        await using var ws = await portal.MemberSocketAsync(PortalHelpers.UniqueName("limited"));
        Assert.True((await ws.RequestAsync("send", ("room", "lobby"), ("text", "uses the only token"))).Is("ack"));
        await ws.SendJsonAsync(new { type = "image", id = "img1", room = "lobby" });
        await ws.SendBytesAsync(PortalHelpers.TinyPng(), WebSocketMessageType.Binary);
        var refused = await ws.WaitForAsync(f => f.Get("reply_to") == "img1");
        Assert.Equal("rate_limited", refused.Get("code"));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (FileCount(portal) > 0 && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Equal(0, FileCount(portal));
        await using var db = portal.OpenDb();
        Assert.Equal(0, await db.Images.CountAsync());
    }

    [Fact]
    public async Task Orphaned_uploads_and_stray_files_are_swept_once_old_enough()
    {
        await using var portal = await PortalProcess.StartAsync(new Dictionary<string, string>
        {
            ["Images__OrphanMinutes"] = "0.02",          // 1.2 s
            ["Images__CleanupIntervalMinutes"] = "0.01", // a sweep every 0.6 s
        });
        await using var ws = await portal.MemberSocketAsync(PortalHelpers.UniqueName("keeper"));
        var (_, kept) = await PostImageAsync(ws); // posted: stays
        // "Picked but never sent": a stored upload no message refers to (what the web composer leaves).
        var orphan = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        var images = Path.Combine(portal.DataDir, "images");
        await File.WriteAllBytesAsync(Path.Combine(images, orphan), PortalHelpers.TinyPng());
        await using (var db = portal.OpenDb())
        {
            var uploader = await db.Users.SingleAsync(u => u.Name.StartsWith("keeper"));
            db.Images.Add(new StoredImage
            {
                Id = orphan, ContentType = "image/png", Width = 1, Height = 1, Length = 70, UploaderId = uploader.Id,
                CreatedAt = DateTimeOffset.UtcNow,
            });
            await db.SaveChangesAsync();
        }
        // A file with no row at all (a crash between the file and its row).
        var stray = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        await File.WriteAllBytesAsync(Path.Combine(images, stray), PortalHelpers.TinyPng());

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((File.Exists(Path.Combine(images, orphan)) || File.Exists(Path.Combine(images, stray))) && DateTime.UtcNow < deadline)
            await Task.Delay(200);
        Assert.False(File.Exists(Path.Combine(images, orphan)), "the orphaned upload is still on disk");
        Assert.False(File.Exists(Path.Combine(images, stray)), "the stray file is still on disk");
        Assert.True(File.Exists(Path.Combine(images, kept)), "a posted image was swept");
        await using var check = portal.OpenDb();
        Assert.False(await check.Images.AnyAsync(i => i.Id == orphan));
        Assert.True(await check.Images.AnyAsync(i => i.Id == kept));
    }

    [Fact]
    public async Task A_users_stored_images_have_a_quota()
    {
        await using var portal = await PortalProcess.StartAsync(new Dictionary<string, string>
        {
            ["Images__MaxBytesPerUser"] = (PortalHelpers.TinyPng().Length * 2).ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        await using var ws = await portal.MemberSocketAsync(PortalHelpers.UniqueName("hoarder"));
        await PostImageAsync(ws);
        await PostImageAsync(ws);
        await ws.SendJsonAsync(new { type = "image", id = "third", room = "lobby" });
        await ws.SendBytesAsync(PortalHelpers.TinyPng(), WebSocketMessageType.Binary);
        Assert.Equal("image_quota", (await ws.WaitForAsync(f => f.Get("reply_to") == "third")).Get("code"));
    }

    [Fact]
    public async Task Deleting_a_room_removes_its_images()
    {
        await using var h = await AdminHarness.StartAsync();
        var (_, boss) = await h.CreateAdminAsync();
        var user = await h.CreateUserAsync("painter");
        var created = await h.Get<AdminRooms>().CreateAsync(boss, new RoomInput { Name = "Gallery", Slug = "gallery" });
        Assert.True(created.Ok);
        var room = created.Value!;
        var images = new ImageStore(h.Get<Microsoft.EntityFrameworkCore.IDbContextFactory<ChatDbContext>>(),
            Microsoft.Extensions.Options.Options.Create(new ChatPortal.Hosting.PortalOptions { DataPath = h.DataDir }),
            Microsoft.Extensions.Options.Options.Create(new ImageOptions()), new TestEnvironment(h.DataDir), TimeProvider.System);
        var saved = await images.SaveAsync(PortalHelpers.TinyPng(), user.Id);
        Assert.True(saved.Ok);
        Assert.True((await h.Commands.PostAsync(user, room.Id, null, imageId: saved.Value!.Id)).Ok);
        Assert.NotNull(images.PathOf(saved.Value.Id));

        Assert.True((await h.Get<AdminRooms>().DeleteAsync(boss, room.Id)).Ok);
        Assert.Null(images.PathOf(saved.Value.Id));
        Assert.False(await h.Db(db => db.Images.AnyAsync(i => i.Id == saved.Value.Id)));
    }
}
