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
        Assert.True((await ann.RequestAsync("ping")).Is("pong"));
        Assert.Single(ann.Where(f => f.Is("receipt")));
        list = await ann.RequestAsync("receipts", ("room", room));
        Assert.DoesNotContain(list.Json.GetProperty("cursors").EnumerateArray(), c => c.GetProperty("user").GetProperty("id").GetInt64() == benId);

        Assert.Equal("bad_request", (await ben.RequestAsync("read", ("room", room))).Get("code"));
        Assert.Equal("bad_request", (await ben.RequestAsync("read_receipts")).Get("code"));
    }
}
