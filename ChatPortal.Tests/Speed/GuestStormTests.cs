using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Speed;

/// <summary>
/// Issue 19: guest rows are written in batches (one transaction for every guest that arrived meanwhile,
/// the same for guests leaving). Many guests connecting and leaving at once must each still get their own
/// row and name, and leave no row behind unless they posted.
/// </summary>
public sealed class GuestStormTests
{
    [Fact]
    public async Task Guests_connecting_and_leaving_at_once_each_get_a_row_and_only_the_ones_that_posted_keep_it()
    {
        const int count = 120;
        await using var portal = await PortalProcess.StartAsync();
        var sockets = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => WsClient.ConnectAsync(portal.BaseUri)));
        try
        {
            var names = new List<string>();
            foreach (var s in sockets) names.Add((await s.WaitForAsync(f => f.Is("openSuccess"))).Get("user.name")!);
            Assert.Equal(count, names.Distinct(StringComparer.Ordinal).Count());
            await using (var db = portal.OpenDb())
                Assert.Equal(count, await db.Users.CountAsync(u => u.Kind == UserKind.Guest && names.Contains(u.Name)));

            // Two of them post; everyone sees it.
            await sockets[0].SendTextAsync("storm post one");
            await sockets[1].SendTextAsync("storm post two");
            await sockets[^1].WaitForAsync(f => f.Is("message") && f.Get("message") == "storm post two");
            await sockets[^1].WaitForAsync(f => f.Is("message") && f.Get("message") == "storm post one");
        }
        finally
        {
            await Task.WhenAll(sockets.Select(s => s.DisposeAsync().AsTask()));
        }

        await using var check = portal.OpenDb();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await check.Users.CountAsync(u => u.Kind == UserKind.Guest) > 2 && DateTime.UtcNow < deadline) await Task.Delay(100);
        var left = await check.Users.Where(u => u.Kind == UserKind.Guest).Select(u => u.Id).ToListAsync();
        Assert.Equal(2, left.Count);
        Assert.Equal(2, await check.Messages.Where(m => m.Text!.StartsWith("storm post")).Select(m => m.SenderId).Distinct()
            .CountAsync(id => left.Contains(id)));
    }
}
