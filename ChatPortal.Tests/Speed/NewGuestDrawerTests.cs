using ChatPortal.Chat;
using ChatPortal.Tests.WebSockets;

namespace ChatPortal.Tests.Speed;

/// <summary>
/// Issue 19, reconnect storm: every guest made by a socket's <c>auth</c> gets the same list of rooms in its welcome (the
/// public rooms that allow guests), so it is read once and kept until a room changes — 10,000 guests coming back after
/// a restart each read it before. What a guest is shown must still follow every room change at once.
/// </summary>
public sealed class NewGuestDrawerTests
{
    [Fact]
    public async Task New_guests_share_a_read_of_their_rooms_and_see_every_room_change_at_once()
    {
        await using var portal = await InProcessPortal.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:GuestBurstPerAddress"] = "0", // every guest comes from one address
        });
        async Task<List<string>> GuestRoomsAsync()
        {
            await using var s = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1");
            var welcome = await s.AuthAsync(guest: true);
            Assert.True(welcome.Is("welcome"), welcome.ToString());
            Assert.Empty(welcome.Json.GetProperty("direct").EnumerateArray());
            return welcome.Json.GetProperty("rooms").EnumerateArray().Select(r => r.GetProperty("slug").GetString()!).ToList();
        }

        var first = await GuestRoomsAsync();
        Assert.Equal(["lobby"], first);
        var reads = portal.Rooms.NewGuestDrawerReads;
        for (var i = 0; i < 4; i++) Assert.Equal(first, await GuestRoomsAsync());
        // Kept (a read is reused at most NewGuestDrawerKeptFor, so four quick guests cross that at most once).
        Assert.InRange(portal.Rooms.NewGuestDrawerReads - reads, 0, 1);

        // A new room for guests, a members' room and a private one: the next guest is shown the first only.
        var open = (await portal.Rooms.CreateAsync(new RoomSpec(PortalHelpers.UniqueName("teahouse").ToLowerInvariant(), "茶馆", null,
            IsPrivate: false, AllowGuests: true, IsArchived: false)))!;
        await portal.Rooms.CreateAsync(new RoomSpec(PortalHelpers.UniqueName("members").ToLowerInvariant(), "Members", null, false, false, false));
        await portal.Rooms.CreateAsync(new RoomSpec(PortalHelpers.UniqueName("secret").ToLowerInvariant(), "Secret", null, true, false, false));
        Assert.Equal(["lobby", open.Slug], await GuestRoomsAsync());

        // Closed to guests, archived, reopened, deleted: each shows in the very next guest's welcome.
        Assert.True((await portal.Rooms.UpdateAsync(open.Id, r => { r.AllowGuests = false; return null; })).Ok);
        Assert.Equal(["lobby"], await GuestRoomsAsync());
        Assert.True((await portal.Rooms.UpdateAsync(open.Id, r => { r.AllowGuests = true; r.IsArchived = true; return null; })).Ok);
        Assert.Equal(["lobby"], await GuestRoomsAsync());
        Assert.True((await portal.Rooms.UpdateAsync(open.Id, r => { r.IsArchived = false; return null; })).Ok);
        Assert.Equal(["lobby", open.Slug], await GuestRoomsAsync());
        Assert.True((await portal.Rooms.DeleteAsync(open.Id)).Ok);
        Assert.Equal(["lobby"], await GuestRoomsAsync());
    }
}
