using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Sessions;

/// <summary>Issue 21 item 4 in the core: rooms users create, browse, join and leave, and group conversations, with their events.</summary>
public sealed class UserRoomsTests
{
    private static UserRooms UserRooms(CoreHarness core) => core.Services.GetRequiredService<UserRooms>();

    [Fact]
    public async Task A_user_creates_a_public_room_every_connected_user_hears_of_it_and_guests_and_private_rooms_stay_out()
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var bea = await core.CreateUserAsync("bea");
        var guest = await core.CreateUserAsync("guest-1", UserKind.Guest);
        var beaSink = RecordingSink.Open(core, bea);
        var guestSink = RecordingSink.Open(core, guest);

        var created = await UserRooms(core).CreateAsync(ann, "  Book Club  ", "Reading together", isPrivate: false);
        Assert.True(created.Ok, created.Error?.Message);
        var room = created.Value!;
        Assert.Equal(("book-club", "Book Club", "Reading together", false), (room.Slug, room.Name, room.Topic, room.IsPrivate));
        Assert.False(room.AllowGuests); // new rooms keep guests out until the back office lets them in
        Assert.Contains(await core.Rooms.ListMembersAsync(room.Id), u => u.Id == ann.Id);

        var heard = await beaSink.WaitForAsync(o => o.OfType<RoomListed>().Any());
        Assert.Equal(room.Id, heard.OfType<RoomListed>().Single().Room.Id);
        Assert.Contains(await core.Rooms.ListAsync(bea), r => r.Id == room.Id);

        // A private room is nobody else's business; the guest heard of neither.
        var secret = (await UserRooms(core).CreateAsync(ann, "Secret plans", null, isPrivate: true)).Value!;
        Assert.True(secret.IsPrivate);
        await core.PostAsync(ann, room, "a marker after both rooms");
        Assert.DoesNotContain(await core.Rooms.ListAsync(bea), r => r.Id == secret.Id);
        Assert.DoesNotContain(await UserRooms(core).BrowseAsync(bea, null), l => l.Room.Id == secret.Id);
        Assert.Single(beaSink.Events.OfType<RoomListed>());
        Assert.Empty(guestSink.Events.OfType<RoomListed>());

        // Same name again: another slug; a name without Latin letters gets a random one.
        var again = (await UserRooms(core).CreateAsync(bea, "Book Club", null, false)).Value!;
        Assert.Matches("^book-club-[0-9a-f]{6}$", again.Slug);
        var chinese = (await UserRooms(core).CreateAsync(bea, "读书会", null, false)).Value!;
        Assert.Matches("^room-[0-9a-f]{6}$", chinese.Slug);
        Assert.Equal("读书会", chinese.Name);
    }

    [Fact]
    public async Task Bad_requests_get_clear_errors_and_change_nothing()
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var guest = await core.CreateUserAsync("guest-2", UserKind.Guest);
        var rooms = UserRooms(core);
        var secret = await core.CreateRoomAsync("secret", isPrivate: true);
        var before = await core.WithDbAsync(db => db.Rooms.CountAsync());

        Assert.Equal("name_required", (await rooms.CreateAsync(ann, "   ", null, false)).Error?.Code);
        Assert.Equal("name_too_long", (await rooms.CreateAsync(ann, new string('x', 81), null, false)).Error?.Code);
        Assert.Equal("topic_too_long", (await rooms.CreateAsync(ann, "ok", new string('x', 501), false)).Error?.Code);
        Assert.Equal("forbidden", (await rooms.CreateAsync(guest, "guests room", null, false)).Error?.Code);
        await core.CreateUserAsync("bea");
        Assert.Equal("group_too_small", (await rooms.StartGroupAsync(ann, ["bea", "ann", "BEA"])).Error?.Code);
        Assert.Equal("no_such_user", (await rooms.StartGroupAsync(ann, ["nobody-1", "nobody-2"])).Error?.Code);
        var lobby = (await core.Rooms.GetDefaultAsync())!;
        Assert.Equal("default_room", (await rooms.LeaveAsync(ann, lobby.Id)).Error?.Code);
        Assert.Equal("not_public", (await rooms.JoinAsync(ann, secret.Id)).Error?.Code);
        Assert.Equal(before, await core.WithDbAsync(db => db.Rooms.CountAsync()));

        // A muted user creates nothing either.
        await core.WithDbAsync(async db =>
        {
            var u = await db.Users.SingleAsync(x => x.Id == ann.Id);
            u.MutedUntil = DateTimeOffset.UtcNow.AddHours(1);
            return await db.SaveChangesAsync();
        });
        core.Services.GetRequiredService<UserDirectory>().Invalidate(ann.Id);
        Assert.Equal("muted", (await rooms.CreateAsync(ann, "while muted", null, false)).Error?.Code);
    }

    [Fact]
    public async Task One_user_cannot_flood_everyone_with_new_rooms()
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var bea = await core.CreateUserAsync("bea");
        var rooms = UserRooms(core);
        for (var i = 0; i < Chat.UserRooms.MaxCreationsPerWindow; i++)
            Assert.True((await rooms.CreateAsync(ann, $"room {i}", null, false)).Ok);
        Assert.Equal("rate_limited", (await rooms.CreateAsync(ann, "one too many", null, false)).Error?.Code);
        Assert.DoesNotContain(await core.Rooms.ListAsync(bea), r => r.Name == "one too many");
        Assert.True((await rooms.CreateAsync(bea, "someone else's", null, false)).Ok); // others are not held up
    }

    [Fact]
    public async Task Leaving_a_public_room_takes_it_out_of_the_users_list_until_they_join_again_and_tells_their_sessions()
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var garden = await core.CreateRoomAsync("garden");
        await core.Rooms.EnsureMemberAsync(garden.Id, ann);
        var sink = RecordingSink.Open(core, ann);
        await sink.Session.WatchAsync([garden], presence: true);
        var rooms = UserRooms(core);
        Assert.True((await rooms.BrowseAsync(ann, "gard")).Single().Joined);

        Assert.True((await rooms.LeaveAsync(ann, garden.Id)).Ok);
        await sink.WaitForAsync(o => o.OfType<MemberRemoved>().Any(m => m.User.Id == ann.Id && m.RoomId == garden.Id));
        Assert.DoesNotContain(await core.Rooms.ListAsync(ann), r => r.Id == garden.Id);
        var listing = (await rooms.BrowseAsync(ann, "gard")).Single();
        Assert.False(listing.Joined);
        Assert.Equal(0, listing.Members);

        Assert.True((await rooms.JoinAsync(ann, garden.Id)).Ok);
        Assert.Contains(await core.Rooms.ListAsync(ann), r => r.Id == garden.Id);
        Assert.True((await rooms.BrowseAsync(ann, "gard")).Single().Joined);
        Assert.Equal(0, await core.WithDbAsync(db => db.RoomDepartures.CountAsync()));

        // Deleting the room takes its departures along.
        Assert.True((await rooms.LeaveAsync(ann, garden.Id)).Ok);
        Assert.Equal(1, await core.WithDbAsync(db => db.RoomDepartures.CountAsync()));
        Assert.True((await core.Rooms.DeleteAsync(garden.Id)).Ok);
        Assert.Equal(0, await core.WithDbAsync(db => db.RoomDepartures.CountAsync()));
    }

    [Fact]
    public async Task A_group_conversation_is_private_to_its_people_each_told_at_once()
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var bea = await core.CreateUserAsync("bea");
        var cid = await core.CreateUserAsync("cid");
        var dan = await core.CreateUserAsync("dan");
        var beaSink = RecordingSink.Open(core, bea);
        var danSink = RecordingSink.Open(core, dan);

        var started = await UserRooms(core).StartGroupAsync(ann, ["@bea", " cid ", "BEA", "ann"]);
        Assert.True(started.Ok, started.Error?.Message);
        var group = started.Value!;
        Assert.True(Chat.UserRooms.IsGroup(group));
        Assert.True(group.IsPrivate);
        Assert.Equal("ann, bea, cid", group.Name);
        Assert.Equal(["ann", "bea", "cid"], (await core.Rooms.ListMembersAsync(group.Id)).Select(u => u.Name));
        await beaSink.WaitForAsync(o => o.OfType<MemberAdded>().Any(m => m.RoomId == group.Id && m.User.Id == bea.Id));
        Assert.Contains(await core.Rooms.ListAsync(cid), r => r.Id == group.Id);
        Assert.DoesNotContain(await core.Rooms.ListAsync(dan), r => r.Id == group.Id);
        Assert.Empty(danSink.Events.OfType<RoomListed>());
        Assert.NotNull(await core.Rooms.Directory.CheckReadAsync(dan, group)); // dan may not read it

        // Leaving a group conversation loses it.
        Assert.True((await UserRooms(core).LeaveAsync(cid, group.Id)).Ok);
        Assert.DoesNotContain(await core.Rooms.ListAsync(cid), r => r.Id == group.Id);
    }
}
