using System.Globalization;
using ChatPortal.Chat;
using ChatPortal.Chat.Conversations;
using ChatPortal.Tests.WebSockets;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Speed;

/// <summary>
/// Issue 19, reconnect storm: after a restart thousands of clients rejoin with the same last event id. Their
/// catch-ups share database reads (those asking while a read runs share the next one), and still every client
/// gets every message exactly once, in order — including the ones posted while the crowd was catching up. The read
/// receipts a catch-up replays are shared the same way.
/// </summary>
public sealed class SharedCatchUpTests
{
    [Fact]
    public async Task A_crowd_rejoining_with_the_same_event_id_shares_reads_and_misses_nothing()
    {
        const int crowd = 60;
        await using var portal = await InProcessPortal.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:RateLimitBurst"] = "1000", // one poster posts 30 in a row
            ["Chat:RateLimitPerSecond"] = "1000",
            ["Limits:GuestBurstPerAddress"] = "0", // the crowd comes from one address
        });
        var metrics = portal.Services.GetRequiredService<ChatMetrics>();
        var receipts = portal.Services.GetRequiredService<ReadReceipts>();
        var (poster, posterUser) = await portal.MemberAsync(PortalHelpers.UniqueName("poster"));
        var sockets = new List<WsClient>();
        try
        {
            var posted = new List<long>();
            async Task PostAsync(int n)
            {
                var ack = await poster.RequestAsync("send", ("room", "lobby"), ("text", $"storm {n}"), ("client_id", $"storm-{n}"));
                Assert.True(ack.Is("ack"), ack.ToString());
                posted.Add(long.Parse(ack.Get("message_id")!, CultureInfo.InvariantCulture));
            }
            for (var i = 0; i < 20; i++) await PostAsync(i);
            var since = posted[0] - 1; // the crowd saw everything before the first of these
            // The poster has read up to the 20th: every rejoining client learns it from its catch-up's receipts.
            Assert.True((await poster.RequestAsync("read", ("room", "lobby"), ("message_id", posted[^1]))).Is("read"));
            var posterRead = posted[^1];

            for (var i = 0; i < crowd; i++)
            {
                var s = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1");
                sockets.Add(s);
                Assert.True((await s.AuthAsync(guest: true)).Is("welcome"));
            }
            var before = metrics.CatchUpTotals;
            var receiptReadsBefore = receipts.CursorReads;
            // All rejoin at once while more messages are posted.
            var joins = sockets.Select((s, i) => s.SendJsonAsync(new { type = "join", id = 500 + i, room = "lobby", since })).ToList();
            for (var i = 20; i < 30; i++) await PostAsync(i);
            await Task.WhenAll(joins);

            foreach (var s in sockets)
            {
                await s.WaitForAsync(f => f.Is("caught_up"));
                var got = await s.WaitForCountAsync(f => f.Is("message") && f.Get("message.client_id")?.StartsWith("storm-", StringComparison.Ordinal) == true, posted.Count);
                var ids = s.Where(f => f.Is("message") && f.Get("message.client_id")?.StartsWith("storm-", StringComparison.Ordinal) == true)
                    .Select(f => long.Parse(f.Get("message.id")!, CultureInfo.InvariantCulture)).ToList();
                Assert.Equal(posted, ids); // each exactly once, in order: no gap between the shared read and the live feed
                Assert.Contains(s.Frames, f => f.Is("receipt") && f.GetLong("user.id") == posterUser.Id && f.GetLong("last_read_id") == posterRead);
            }
            var after = metrics.CatchUpTotals;
            var catchUps = after.CatchUps - before.CatchUps;
            var reads = after.Reads - before.Reads;
            Assert.True(catchUps >= crowd, $"{catchUps} catch-ups for {crowd} joins");
            Assert.True(reads < catchUps, $"{reads} reads for {catchUps} catch-ups: none shared");
            var receiptReads = receipts.CursorReads - receiptReadsBefore;
            Assert.InRange(receiptReads, 1, crowd - 1); // read, and shared
        }
        finally
        {
            foreach (var s in sockets) await s.DisposeAsync();
            await poster.DisposeAsync();
        }
    }
    [Fact]
    public async Task Rejoins_one_after_another_reuse_a_read_until_an_event_of_the_room_arrives()
    {
        await using var portal = await InProcessPortal.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:GuestBurstPerAddress"] = "0",
        });
        var metrics = portal.Services.GetRequiredService<ChatMetrics>();
        var (poster, _) = await portal.MemberAsync(PortalHelpers.UniqueName("poster"));
        await using var _poster = poster;
        async Task<long> PostAsync(string text)
        {
            var ack = await poster.RequestAsync("send", ("room", "lobby"), ("text", text), ("client_id", text));
            Assert.True(ack.Is("ack"), ack.ToString());
            return long.Parse(ack.Get("message_id")!, CultureInfo.InvariantCulture);
        }
        var first = await PostAsync("reuse-1");
        var second = await PostAsync("reuse-2");
        var since = first - 1;

        async Task<List<long>> RejoinAsync()
        {
            await using var s = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1");
            Assert.True((await s.AuthAsync(guest: true)).Is("welcome"));
            await s.SendJsonAsync(new { type = "join", id = 7, room = "lobby", since });
            await s.WaitForAsync(f => f.Is("caught_up"));
            return s.Where(f => f.Is("message") && f.Get("message.client_id")?.StartsWith("reuse-", StringComparison.Ordinal) == true)
                .Select(f => long.Parse(f.Get("message.id")!, CultureInfo.InvariantCulture)).ToList();
        }

        var before = metrics.CatchUpTotals;
        for (var i = 0; i < 5; i++) Assert.Equal([first, second], await RejoinAsync());
        var afterFive = metrics.CatchUpTotals;
        Assert.Equal(5, afterFive.CatchUps - before.CatchUps);
        Assert.Equal(1, afterFive.Reads - before.Reads); // one read; the next four came while nothing in the room moved

        // A new message moves the room: the next rejoin reads again and gets it.
        var third = await PostAsync("reuse-3");
        Assert.Equal([first, second, third], await RejoinAsync());
        Assert.Equal(afterFive.Reads + 1, metrics.CatchUpTotals.Reads);
    }

    [Fact]
    public async Task Rejoins_reuse_a_read_of_the_rooms_receipts_until_a_receipt_moves_or_a_reader_hides_theirs()
    {
        await using var portal = await InProcessPortal.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:GuestBurstPerAddress"] = "0",
        });
        var receipts = portal.Services.GetRequiredService<ReadReceipts>();
        var (reader, readerUser) = await portal.MemberAsync(PortalHelpers.UniqueName("读者"));
        var (watcher, _) = await portal.MemberAsync(PortalHelpers.UniqueName("watcher")); // sees each receipt arrive
        await using var _reader = reader;
        await using var _watcher = watcher;
        var posted = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            var ack = await reader.RequestAsync("send", ("room", "lobby"), ("text", $"已读 {i}"), ("client_id", $"receipt-{i}"));
            Assert.True(ack.Is("ack"), ack.ToString());
            posted.Add(long.Parse(ack.Get("message_id")!, CultureInfo.InvariantCulture));
        }
        async Task ReadUpToAsync(long id)
        {
            Assert.True((await reader.RequestAsync("read", ("room", "lobby"), ("message_id", id))).Is("read"));
            await watcher.WaitForAsync(f => f.Is("receipt") && f.GetLong("user.id") == readerUser.Id && f.GetLong("last_read_id") == id);
        }
        // The reader's cursor as a guest rejoining the lobby is told it by its catch-up (null: not told).
        async Task<long?> RejoinAsync()
        {
            await using var s = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1");
            Assert.True((await s.AuthAsync(guest: true)).Is("welcome"));
            await s.SendJsonAsync(new { type = "join", id = 7, room = "lobby", since = posted[0] - 1 });
            await s.WaitForAsync(f => f.Is("caught_up"));
            return s.Where(f => f.Is("receipt") && f.GetLong("user.id") == readerUser.Id).Select(f => (long?)f.GetLong("last_read_id")).LastOrDefault();
        }

        await ReadUpToAsync(posted[0]);
        var before = receipts.CursorReads;
        for (var i = 0; i < 4; i++) Assert.Equal(posted[0], await RejoinAsync());
        // Kept between rejoins (at most ReadReceipts.CursorsKeptFor, so four quick rejoins cross that at most once).
        Assert.InRange(receipts.CursorReads - before, 1, 2);

        // The cursor moves: once its receipt has reached the room, the next rejoin is told the new position.
        await ReadUpToAsync(posted[2]);
        Assert.Equal(posted[2], await RejoinAsync());

        // The reader hides their receipts: the very next rejoin is not told their cursor, and told it again once shown.
        await receipts.SetHiddenAsync(readerUser, true);
        Assert.Null(await RejoinAsync());
        await receipts.SetHiddenAsync(readerUser, false);
        Assert.Equal(posted[2], await RejoinAsync());
    }
}
