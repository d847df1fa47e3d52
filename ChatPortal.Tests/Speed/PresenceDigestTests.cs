using ChatPortal.Tests.WebSockets;

namespace ChatPortal.Tests.Speed;

/// <summary>
/// Issue 19: joins and leaves of a busy room must not cost O(room size) frames each. Above
/// <c>Chat:PresenceAnnounceUpTo</c> sessions in a room, presence reaches clients as a summary
/// (<c>presence_summary</c>, the number online) at most once per interval; the list stays one request away.
/// </summary>
public sealed class PresenceDigestTests
{
    [Fact]
    public async Task A_busy_room_gets_one_presence_summary_instead_of_an_event_per_arrival()
    {
        await using var portal = await InProcessPortal.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:PresenceAnnounceUpTo"] = "3",
            ["Chat:PresenceSummaryInterval"] = "00:00:00.300",
        });
        var (watcher, _) = await portal.MemberAsync(PortalHelpers.UniqueName("watcher"));
        await using var plain = await WsClient.ConnectAsync(portal.BaseUri); // a plain guest in the lobby too
        await plain.WaitForAsync(f => f.Is("openSuccess"));
        var names = Enumerable.Range(1, 6).Select(i => PortalHelpers.UniqueName($"arrival{i}")).ToList();
        var arrivals = new List<WsClient>();
        try
        {
            foreach (var name in names) arrivals.Add((await portal.MemberAsync(name)).Socket);

            // The first arrivals are announced one by one (a quiet room)…
            await watcher.WaitForAsync(f => f.Is("presence") && f.Get("user.name") == names[0]);
            // …then the room is busy: a summary with everyone online, and no event for the last one.
            var summary = await watcher.WaitForAsync(f => f.Is("presence_summary") && f.Get("online") == "8");
            Assert.Equal(watcher.Where(f => f.Is("joined")).Single().Get("room.id"), summary.Get("room_id"));
            Assert.Empty(watcher.Where(f => f.Is("presence") && f.Get("user.name") == names[^1]));
            Assert.True(watcher.Where(f => f.Is("presence")).Count < names.Count);

            // The list is one request away.
            await watcher.SendJsonAsync(new { type = "online", id = 77, room = "lobby" });
            var online = await watcher.WaitForAsync(f => f.Is("online") && f.Get("reply_to") == "77");
            Assert.Equal(8, online.Json.GetProperty("users").GetArrayLength());

            // Departures the same way.
            foreach (var a in arrivals.Take(3)) await a.DisposeAsync();
            await watcher.WaitForAsync(f => f.Is("presence_summary") && f.Get("online") == "5");
        }
        finally
        {
            foreach (var a in arrivals) await a.DisposeAsync();
            await watcher.DisposeAsync();
        }
        // The plain protocol is unchanged: no new frame type reaches it.
        Assert.Empty(plain.Where(f => f.Is("presence_summary")));
    }

    /// <summary>
    /// A join's reply lists at most <c>Chat:JoinOnlineListUpTo</c> of the online users (in list order,
    /// name then id) with the total beside them, so a connect to a busy room costs O(1), not O(room);
    /// the v1 <c>online</c> request still gives everyone.
    /// </summary>
    [Fact]
    public async Task A_join_in_a_busy_room_lists_the_first_users_and_the_total()
    {
        await using var portal = await InProcessPortal.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:JoinOnlineListUpTo"] = "3",
        });
        var sockets = new List<WsClient>();
        try
        {
            // Each guest is in the room (its openSuccess came) before the next connects: the counts are exact.
            async Task<WsFrame> GuestAsync()
            {
                var socket = await WsClient.ConnectAsync(portal.BaseUri);
                sockets.Add(socket);
                return await socket.WaitForAsync(f => f.Is("openSuccess"));
            }
            // Two plain guests: a room of two is listed whole.
            await GuestAsync();
            var second = await GuestAsync();
            Assert.Equal(2, second.Json.GetProperty("all").GetArrayLength());
            Assert.Equal("2", second.Get("online"));

            await GuestAsync();
            await GuestAsync();
            var fifth = await GuestAsync();
            Assert.Equal("5", fifth.Get("online"));
            var listed = fifth.Json.GetProperty("all").EnumerateArray().Select(u => u.GetProperty("name").GetString()!).ToList();
            Assert.Equal(3, listed.Count);
            // The first three of the whole list, in its order.
            var names = new List<string>();
            foreach (var s in sockets) names.Add((await s.WaitForAsync(f => f.Is("openSuccess"))).Get("user.name")!);
            Assert.Equal(names.Order(StringComparer.OrdinalIgnoreCase).Take(3), listed);

            // A v1 member's joined frame: three listed, six online; "online" lists all six.
            var (member, _) = await portal.MemberAsync(PortalHelpers.UniqueName("member"));
            sockets.Add(member);
            var joined = member.Where(f => f.Is("joined")).Single();
            Assert.Equal(3, joined.Json.GetProperty("online").GetArrayLength());
            Assert.Equal("6", joined.Get("online_count"));
            await member.SendJsonAsync(new { type = "online", id = 5, room = "lobby" });
            var online = await member.WaitForAsync(f => f.Is("online") && f.Get("reply_to") == "5");
            Assert.Equal(6, online.Json.GetProperty("users").GetArrayLength());
        }
        finally
        {
            foreach (var s in sockets) await s.DisposeAsync();
        }
    }

    /// <summary>
    /// In a busy room presence reaches a v1 client as summaries, so a list in its <c>joined</c> could not be kept
    /// current: the reply carries the count only and the list is one request away (10,000 clients back after a
    /// restart each carried 100 names before). In a quiet room the list comes whole; the legacy plain
    /// <c>openSuccess</c> keeps its list either way.
    /// </summary>
    [Fact]
    public async Task A_v1_join_in_a_busy_room_carries_the_count_and_leaves_the_list_to_the_online_request()
    {
        await using var portal = await InProcessPortal.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:PresenceAnnounceUpTo"] = "3",
        });
        var sockets = new List<WsClient>();
        try
        {
            // A quiet room: the whole list, the member itself in it.
            var (first, firstUser) = await portal.MemberAsync(PortalHelpers.UniqueName("first"));
            sockets.Add(first);
            var quiet = first.Where(f => f.Is("joined")).Single();
            var quietNames = quiet.Json.GetProperty("online").EnumerateArray().Select(u => u.GetProperty("name").GetString()).ToList();
            Assert.Contains(firstUser.Name, quietNames);
            Assert.Equal(quiet.Get("online_count"), quietNames.Count.ToString());

            // Three plain guests make the lobby busy (more than three subscribers); each openSuccess still lists everyone.
            for (var i = 0; i < 3; i++)
            {
                var guest = await WsClient.ConnectAsync(portal.BaseUri);
                sockets.Add(guest);
                var open = await guest.WaitForAsync(f => f.Is("openSuccess"));
                Assert.Equal(quietNames.Count + i + 1, open.Json.GetProperty("all").GetArrayLength());
            }

            var (late, lateUser) = await portal.MemberAsync(PortalHelpers.UniqueName("late"));
            sockets.Add(late);
            var busy = late.Where(f => f.Is("joined")).Single();
            Assert.False(busy.Json.TryGetProperty("online", out _), busy.Text);
            Assert.Equal((quietNames.Count + 4).ToString(), busy.Get("online_count"));
            Assert.Equal("lobby", busy.Get("room.slug"));

            await late.SendJsonAsync(new { type = "online", id = 9, room = "lobby" });
            var online = await late.WaitForAsync(f => f.Is("online") && f.Get("reply_to") == "9");
            var everyone = online.Json.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("name").GetString()).ToList();
            Assert.Equal(quietNames.Count + 4, everyone.Count);
            Assert.Contains(firstUser.Name, everyone);
            Assert.Contains(lateUser.Name, everyone);
        }
        finally
        {
            foreach (var s in sockets) await s.DisposeAsync();
        }
    }
}
