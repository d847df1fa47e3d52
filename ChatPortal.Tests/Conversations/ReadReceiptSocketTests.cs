using ChatPortal.Tests.WebSockets;

namespace ChatPortal.Tests.Conversations;

/// <summary>Read receipts over <c>chatportal.v1</c> on the real portal; the opt-out hides the user from frames and lists.</summary>
[Collection(WsPortalCollection.Name)]
public sealed class ReadReceiptSocketTests(WsPortalFixture fx)
{
    [Fact]
    public async Task Read_sends_a_receipt_to_the_room_receipts_lists_cursors_and_hidden_users_send_none()
    {
        var room = (await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName("rr").ToLowerInvariant(), allowGuests: true)).Slug;
        await using var ann = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ann"), room);
        await using var ben = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ben"), room);
        var benId = ben.Frames.First(f => f.Is("welcome")).GetLong("user.id");
        await using var cat = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("cat"), room);
        var catId = cat.Frames.First(f => f.Is("welcome")).GetLong("user.id");
        var ack = await ann.RequestAsync("send", ("room", room), ("text", "read me"), ("client_id", Guid.NewGuid().ToString("N")));
        var id = ack.GetLong("message_id");

        Assert.True((await ben.RequestAsync("read", ("room", room), ("message_id", id))).Is("read"));
        var receipt = await ann.WaitForAsync(f => f.Is("receipt"));
        Assert.Equal((benId, id), (receipt.GetLong("user.id"), receipt.GetLong("last_read_id")));
        var list = await ann.RequestAsync("receipts", ("room", room));
        Assert.Contains(list.Json.GetProperty("cursors").EnumerateArray(), c => c.GetProperty("user").GetProperty("id").GetInt64() == benId
            && c.GetProperty("last_read_id").GetInt64() == id);

        Assert.Equal("true", (await ben.RequestAsync("read_receipts", ("hidden", true))).Get("changed"));
        var next = (await ann.RequestAsync("send", ("room", room), ("text", "again"), ("client_id", Guid.NewGuid().ToString("N")))).GetLong("message_id");
        Assert.True((await ben.RequestAsync("read", ("room", room), ("message_id", next))).Is("read"));
        // A marker: cat reads after ben; had ben's move been announced, it would come with or before hers.
        Assert.True((await cat.RequestAsync("read", ("room", room), ("message_id", next))).Is("read"));
        await ann.WaitForAsync(f => f.Is("receipt") && f.GetLong("user.id") == catId);
        Assert.Single(ann.Where(f => f.Is("receipt") && f.GetLong("user.id") == benId));
        Assert.DoesNotContain(ann.Where(f => f.Is("receipts") && f.Get("reply_to") is null), f => f.Json.GetProperty("cursors").EnumerateArray()
            .Any(c => c.GetProperty("user").GetProperty("id").GetInt64() == benId));
        list = await ann.RequestAsync("receipts", ("room", room));
        Assert.DoesNotContain(list.Json.GetProperty("cursors").EnumerateArray(), c => c.GetProperty("user").GetProperty("id").GetInt64() == benId);

        Assert.Equal("bad_request", (await ben.RequestAsync("read", ("room", room))).Get("code"));
        Assert.Equal("bad_request", (await ben.RequestAsync("read_receipts")).Get("code"));
    }

    /// <summary>Members who read at the same moment reach the room as one <c>receipts</c> frame (no reply_to), each once.</summary>
    [Fact]
    public async Task Members_reading_at_once_reach_the_room_as_one_receipts_frame()
    {
        var room = (await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName("rb").ToLowerInvariant(), allowGuests: true)).Slug;
        await using var ann = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ann"), room);
        var readers = new List<WsClient>();
        for (var i = 0; i < 6; i++) readers.Add(await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName($"读{i}"), room));
        try
        {
            var ids = readers.Select(r => r.Frames.First(f => f.Is("welcome")).GetLong("user.id")).ToHashSet();
            var id = (await ann.RequestAsync("send", ("room", room), ("text", "大家好"), ("client_id", Guid.NewGuid().ToString("N")))).GetLong("message_id");
            await Task.WhenAll(readers.Select(r => r.RequestAsync("read", ("room", room), ("message_id", id))));

            IEnumerable<(long User, long Read)> Announced() =>
                ann.Where(f => f.Is("receipt")).Select(f => (f.GetLong("user.id"), f.GetLong("last_read_id")))
                    .Concat(ann.Where(f => f.Is("receipts") && f.Get("reply_to") is null).SelectMany(f => f.Json.GetProperty("cursors").EnumerateArray()
                        .Select(c => (c.GetProperty("user").GetProperty("id").GetInt64(), c.GetProperty("last_read_id").GetInt64()))));
            await ann.WaitForAsync(_ => Announced().Select(a => a.User).ToHashSet().SetEquals(ids));
            Assert.All(Announced(), a => Assert.Equal(id, a.Read));
            Assert.Equal(ids.Count, Announced().Count()); // each reader once
            var frames = ann.Where(f => f.Is("receipt") || (f.Is("receipts") && f.Get("reply_to") is null)).Count();
            Assert.True(frames < ids.Count, $"{frames} frames for {ids.Count} readers who read at once");
            Assert.Contains(ann.Frames, f => f.Is("receipts") && f.Get("reply_to") is null);
        }
        finally
        {
            foreach (var r in readers) await r.DisposeAsync();
        }
    }
}
