using System.Globalization;
using System.Net.WebSockets;
using Bunit;
using ChatPortal.Admin;
using ChatPortal.Components.Chat;
using ChatPortal.Tests.Cluster;
using ChatPortal.Tests.WebSockets;

namespace ChatPortal.Tests.Sessions;

/// <summary>
/// When someone loses access to a room — removed from it, the room made private, archived or
/// deleted, or the user banned — every open session of theirs (a v1 socket and a web tab, on the
/// node where the back office acted and on another node) stops getting the room at once: it is
/// told, the next post reaches none of them, and their catch-up and history refuse the room.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class AccessEndsTests(PostgresFixture pg)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private static int _names;

    public static TheoryData<string, bool> Cases()
    {
        var data = new TheoryData<string, bool>();
        foreach (var change in new[] { "removed", "made-private", "archived", "deleted", "banned" })
        {
            data.Add(change, false);
            data.Add(change, true);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Losing_access_ends_delivery_to_every_session_on_every_node_and_refuses_catch_up(string change, bool cluster)
    {
        await using var site = await AccessSite.StartAsync(cluster ? pg : null);
        var rooms = site.OnA<AdminRooms>();
        var n = Interlocked.Increment(ref _names).ToString(CultureInfo.InvariantCulture);
        var (carol, _) = await AccessSite.SocketAsync(site.A, "carol" + n);
        var (dave, _) = await AccessSite.SocketAsync(site.B, "dave" + n);
        var (aliceA, aliceId) = await AccessSite.SocketAsync(site.A, "alice" + n);
        var (aliceB, _) = await AccessSite.SocketAsync(site.B, "alice" + n);
        await using var _1 = carol;
        await using var _2 = dave;
        await using var _3 = aliceA;
        await using var _4 = aliceB;

        // A private room of the three (or, to be made private, a public room alice reads without being a member).
        var slug = "vault" + n;
        var created = await rooms.CreateAsync(site.Admin, new RoomInput { Name = slug, Slug = slug, IsPrivate = change != "made-private" });
        Assert.True(created.Ok, created.ToString());
        var room = created.Value!;
        foreach (var who in new[] { "carol", "dave", "alice" })
            Assert.True((await rooms.AddMemberAsync(site.Admin, room.Id, who + n)).Ok);
        foreach (var ws in new[] { carol, dave, aliceA, aliceB })
            Assert.True((await ws.JoinAsync(slug)).Is("joined"));
        var tabA = await site.TabAsync(site.A, aliceId, slug);
        var tabB = await site.TabAsync(site.B, aliceId, slug);
        var tabs = new[] { tabA, tabB };
        Assert.True((await carol.RequestAsync("send", ("room", slug), ("text", "before"), ("client_id", "c1"))).Is("ack"));
        foreach (var ws in new[] { aliceA, aliceB }) await ws.WaitForAsync(f => f.Is("message") && f.Get("message.text") == "before", Wait);
        foreach (var tab in tabs) tab.WaitForAssertion(() => Assert.Contains("before", Texts(tab)), Wait);
        // Every session has joined by now (opening a public room makes its reader a member, so an
        // earlier removal could be undone by a tab still joining); she may still read the public room.
        if (change == "made-private")
            Assert.True((await rooms.RemoveMemberAsync(site.Admin, room.Id, aliceId)).Ok);

        // The back office acts on node A.
        switch (change)
        {
            case "removed":
                Assert.True((await rooms.RemoveMemberAsync(site.Admin, room.Id, aliceId)).Ok);
                break;
            case "made-private":
                Assert.True((await rooms.UpdateAsync(site.Admin, room.Id, new RoomInput { Name = slug, Slug = slug, IsPrivate = true })).Ok);
                break;
            case "archived":
                Assert.True((await rooms.SetArchivedAsync(site.Admin, room.Id, true)).Ok);
                break;
            case "deleted":
                Assert.True((await rooms.DeleteAsync(site.Admin, room.Id)).Ok);
                break;
            case "banned":
                Assert.True((await site.OnA<AdminChatUsers>().BanAsync(site.Admin, aliceId, "spam")).Ok);
                break;
        }

        // Every session of alice's is told, on both nodes.
        if (change == "banned")
        {
            foreach (var ws in new[] { aliceA, aliceB }) Assert.Equal(WebSocketCloseStatus.PolicyViolation, await ws.WaitClosedAsync(Wait));
            foreach (var tab in tabs) tab.WaitForAssertion(() => tab.Find("#session-ended"), Wait);
        }
        else
        {
            foreach (var ws in new[] { aliceA, aliceB })
                await ws.WaitForAsync(f => f.Is("left") && f.Get("room_id") == room.Id.ToString(CultureInfo.InvariantCulture), Wait);
            foreach (var tab in tabs) tab.WaitForAssertion(() => tab.Find("#room-lost"), Wait);
        }

        // Their catch-up and history refuse the room (while it is archived, for an archived one).
        if (change != "banned")
        {
            var history = await aliceA.RequestAsync("history", ("room", room.Id));
            Assert.True(history.Is("error"), history.ToString());
            Assert.Equal(change == "archived" ? "archived" : "not_found", history.Get("code"));
            var rejoin = await aliceB.RequestAsync("join", ("room", room.Id), ("since", 0));
            Assert.True(rejoin.Is("error"), rejoin.ToString());
            Assert.Equal(change == "archived" ? "archived" : "not_found", rejoin.Get("code"));
        }
        // A page opened anew refuses the room too.
        var fresh = await site.TabAsync(site.B, aliceId, slug);
        fresh.WaitForAssertion(() => fresh.Find("#room-error"), Wait);

        // The next post reaches none of alice's sessions.
        if (change == "deleted")
        {
            var onA = await carol.RequestAsync("send", ("room", room.Id), ("text", "after"), ("client_id", "c2"));
            var onB = await dave.RequestAsync("send", ("room", room.Id), ("text", "after"), ("client_id", "d2"));
            Assert.Equal("not_found", onA.Get("code"));
            Assert.Equal("not_found", onB.Get("code")); // node B forgot the room too
        }
        else
        {
            if (change == "archived")
            {
                // Nobody posts in an archived room; once it is open again, the sessions that lost it stay out until they join again.
                Assert.True((await rooms.SetArchivedAsync(site.Admin, room.Id, false)).Ok);
                Assert.True((await carol.JoinAsync(slug)).Is("joined"));
                Assert.True((await dave.JoinAsync(slug)).Is("joined"));
            }
            Assert.True((await carol.RequestAsync("send", ("room", slug), ("text", "after"), ("client_id", "c2"))).Is("ack"));
            await dave.WaitForAsync(f => f.Is("message") && f.Get("message.text") == "after", Wait);
        }
        await Task.Delay(500); // what would have reached the other node by now has (dave is on node B)
        foreach (var ws in new[] { aliceA, aliceB })
            Assert.DoesNotContain(ws.Frames, f => f.Is("message") && f.Get("message.text") == "after");
        foreach (var tab in tabs) Assert.DoesNotContain("after", Texts(tab));
    }

    private static List<string> Texts(IRenderedComponent<RoomPage> tab) =>
        tab.FindAll(".msg .msg-text").Select(e => e.TextContent).ToList();
}
