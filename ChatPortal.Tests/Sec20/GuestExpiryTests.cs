using System.Net.WebSockets;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Sec20;

/// <summary>
/// Issue 20, item 2: guest rows that posted used to stay for ever. Now a guest expires once its
/// last connection has been closed for <c>Guests:ExpireAfterHours</c>: its messages are deleted
/// through the core (delete events that catch-up sees, text and image purged), then its row.
/// A guest that is still connected is kept.
/// </summary>
public sealed class GuestExpiryTests
{
    [Fact]
    public async Task A_guest_that_posted_expires_with_its_data_after_its_last_connection_and_a_connected_one_stays()
    {
        await using var portal = await PortalProcess.StartAsync(new Dictionary<string, string>
        {
            ["Guests__ExpireAfterHours"] = "0.0003",      // about a second
            ["Guests__SweepIntervalMinutes"] = "0.01",    // a sweep every 0.6 s
        });
        await using var stays = await WsClient.ConnectAsync(portal.BaseUri);
        var staysName = (await stays.WaitForAsync(f => f.Is("openSuccess"))).Get("user.name")!;
        await stays.SendTextAsync("I am still here");

        var goes = await WsClient.ConnectAsync(portal.BaseUri);
        var goesName = (await goes.WaitForAsync(f => f.Is("openSuccess"))).Get("user.name")!;
        var secret = "guest-secret-" + Guid.NewGuid().ToString("N")[..8];
        await goes.SendTextAsync(secret);
        await goes.SendBytesAsync(PortalHelpers.TinyPng(), WebSocketMessageType.Binary);
        await stays.WaitForAsync(f => f.Is("message") && f.Get("message") == secret);
        await stays.WaitForAsync(f => f.Binary);
        await goes.DisposeAsync();

        await using var db = portal.OpenDb();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await db.Users.AnyAsync(u => u.Name == goesName) && DateTime.UtcNow < deadline) await Task.Delay(200);
        Assert.False(await db.Users.AnyAsync(u => u.Name == goesName), "the expired guest's row is still there");

        // Its posts are deleted events now (catch-up sees them go), with no text and no image left.
        var posts = await db.Messages.AsNoTracking().Where(m => m.Kind == MessageKind.Text || m.Kind == MessageKind.Image)
            .Where(m => m.Text == secret || m.DeletedAt != null).ToListAsync();
        Assert.DoesNotContain(posts, m => m.Text == secret);
        Assert.Equal(2, posts.Count(m => m.DeletedAt != null));
        foreach (var p in posts.Where(m => m.DeletedAt != null))
            Assert.True(await db.Messages.AnyAsync(m => m.Kind == MessageKind.Delete && m.TargetId == p.Id));
        Assert.Equal(0, await db.Images.CountAsync());
        var images = Path.Combine(portal.DataDir, "images");
        var files = Directory.Exists(images) ? Directory.GetFiles(images).Length : 0;
        Assert.Equal(0, files);

        // The connected guest is still there, and still chatting.
        Assert.True(await db.Users.AnyAsync(u => u.Name == staysName));
        Assert.True(await db.Messages.AnyAsync(m => m.Text == "I am still here" && m.DeletedAt == null));
        Assert.Equal(WebSocketState.Open, stays.Socket.State);
    }
}
