using ChatPortal.Chat;
using ChatPortal.Chat.Conversations;
using ChatPortal.Chat.Governance;
using ChatPortal.Data;
using ChatPortal.Tests.Governance;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Conversations;

/// <summary>Reactions and pins in the core (issue 15): one row per (message, user, emoji), clear errors, events through the session, catch-up, purge.</summary>
public sealed class ReactionCoreTests
{
    private static ChatReactions Reactions(IChatCore core) => core.Services.GetRequiredService<ChatReactions>();

    [Fact]
    public async Task A_reaction_is_one_row_per_message_user_and_emoji_and_reaches_the_room_once_per_change()
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var ben = await core.CreateUserAsync("ben");
        var room = await core.CreateRoomAsync("reactions", false, ann, ben);
        var m = await core.PostAsync(ann, room, "react to me");
        var tab = RecordingSink.Open(core, ben);
        Assert.True((await tab.Session.JoinAsync(room, since: m.Id)).Ok);
        await tab.WaitForAsync(o => o.Any(x => x is ValueTuple<string, RoomJoin>));

        var first = await Reactions(core).ReactAsync(ann, m.Id, "👍");
        var again = await Reactions(core).ReactAsync(ann, m.Id, "👍"); // the same reaction twice: nothing changes
        var other = await Reactions(core).ReactAsync(ben, m.Id, "👍");
        var heart = await Reactions(core).ReactAsync(ben, m.Id, "❤️");
        Assert.True(first.Ok && again.Ok && other.Ok && heart.Ok, first.Error?.Message ?? again.Error?.Message ?? heart.Error?.Message);
        var thumbs = Assert.Single(other.Value!, r => r.Emoji == "👍");
        Assert.Equal(2, thumbs.Count);
        Assert.Equal(["ann", "ben"], thumbs.Users.Select(u => u.Name));

        var rows = await core.WithDbAsync(db => db.Reactions.Where(r => r.MessageId == m.Id).ToListAsync());
        Assert.Equal(3, rows.Count);
        // Three changes, three events; the repeat made none.
        var events = (await tab.WaitForAsync(o => o.OfType<ReactionChanged>().Count() >= 3)).OfType<ReactionChanged>().ToList();
        await Task.Delay(100);
        Assert.Equal(3, tab.Events.OfType<ReactionChanged>().Count());
        Assert.Equal(["👍", "👍", "❤️"], events.Select(e => e.Emoji));
        Assert.Equal(2, events[^1].Reactions.Count);

        var removed = await Reactions(core).ReactAsync(ann, m.Id, "👍", add: false);
        Assert.True(removed.Ok);
        Assert.Equal(1, Assert.Single(removed.Value!, r => r.Emoji == "👍").Count);
        var gone = (await tab.WaitForAsync(o => o.OfType<ReactionChanged>().Count() >= 4)).OfType<ReactionChanged>().Last();
        Assert.False(gone.Added);
        Assert.Equal(2, await core.WithDbAsync(db => db.Reactions.CountAsync(r => r.MessageId == m.Id)));

        // A page of history carries the reactions, and unread counts ignore the event rows.
        var page = await core.History.GetHistoryAsync(room.Id);
        var shown = Assert.Single(page);
        Assert.Equal(["👍", "❤️"], shown.Reactions!.Select(r => r.Emoji));
        Assert.Empty(await core.History.UnreadCountsAsync(ann.Id));
    }

    [Theory]
    [InlineData("thumbsup")]
    [InlineData(":+1:")]
    [InlineData("👍👍")]
    [InlineData("a")]
    [InlineData("")]
    [InlineData("1")]
    [InlineData("中")]
    [InlineData("<script>")]
    public async Task Anything_but_one_emoji_is_refused_with_a_clear_error_and_stores_nothing(string emoji)
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var room = await core.CreateRoomAsync("bad-emoji", false, ann);
        var m = await core.PostAsync(ann, room, "hi");
        var result = await Reactions(core).ReactAsync(ann, m.Id, emoji);
        Assert.Equal("unknown_emoji", result.Error?.Code);
        Assert.Contains("emoji", result.Error!.Message);
        Assert.Equal(0, await core.WithDbAsync(db => db.Reactions.CountAsync()));
        Assert.Equal(1, await core.WithDbAsync(db => db.Messages.CountAsync(x => x.RoomId == room.Id)));
    }

    [Theory]
    [InlineData("👍🏽")]
    [InlineData("👩‍💻")]
    [InlineData("🇨🇳")]
    [InlineData("1️⃣")]
    [InlineData("❤️")]
    [InlineData("🏳️‍🌈")]
    public void Emoji_with_modifiers_sequences_flags_and_keycaps_are_one_emoji(string emoji) => Assert.True(Emoji.IsEmoji(emoji));

    [Fact]
    public async Task A_message_takes_at_most_50_distinct_emoji_and_existing_ones_still_count()
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var ben = await core.CreateUserAsync("ben");
        var room = await core.CreateRoomAsync("cap", false, ann, ben);
        var m = await core.PostAsync(ann, room, "so many");
        var emoji = Enumerable.Range(0, 51).Select(i => char.ConvertFromUtf32(0x1F600 + i)).ToList();
        foreach (var e in emoji.Take(50))
            Assert.True((await Reactions(core).ReactAsync(ann, m.Id, e)).Ok, e);

        var fiftyFirst = await Reactions(core).ReactAsync(ben, m.Id, emoji[50]);
        Assert.Equal("too_many_reactions", fiftyFirst.Error?.Code);
        var existing = await Reactions(core).ReactAsync(ben, m.Id, emoji[0]);
        Assert.True(existing.Ok, existing.Error?.Message);
        Assert.Equal(50, await core.WithDbAsync(db => db.Reactions.Where(r => r.MessageId == m.Id).Select(r => r.Emoji).Distinct().CountAsync()));
        Assert.Equal(0, await core.WithDbAsync(db => db.Reactions.CountAsync(r => r.Emoji == emoji[50])));
    }

    [Fact]
    public async Task Someone_who_may_not_read_a_private_room_can_neither_react_nor_pin_nor_save_and_learns_nothing()
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var eve = await core.CreateUserAsync("eve");
        var room = await core.CreateRoomAsync("secret", true, ann);
        var m = await core.PostAsync(ann, room, "members only");

        Assert.Equal("not_found", (await Reactions(core).ReactAsync(eve, m.Id, "👍")).Error?.Code);
        Assert.Equal("not_found", (await Reactions(core).PinAsync(eve, m.Id)).Error?.Code);
        Assert.Equal("not_found", (await core.Services.GetRequiredService<SavedMessages>().SaveAsync(eve, m.Id)).Error?.Code);
        Assert.Equal("not_found", (await Reactions(core).PinnedAsync(eve, room.Id)).Error?.Code);
        // The same answer as a message that does not exist.
        Assert.Equal("not_found", (await Reactions(core).ReactAsync(eve, m.Id + 1000, "👍")).Error?.Code);
        Assert.Equal(0, await core.WithDbAsync(async db => await db.Reactions.CountAsync() + await db.Pins.CountAsync() + await db.SavedMessages.CountAsync()));
    }

    [Fact]
    public async Task Pinning_twice_stores_and_announces_it_once_and_posts_nothing()
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var ben = await core.CreateUserAsync("ben");
        var room = await core.CreateRoomAsync("pins", false, ann, ben);
        var m = await core.PostAsync(ann, room, "pin me");
        var watcher = new RecordingSubscriber();
        using var sub = core.Fanout.SubscribeRoom(room.Id, watcher);

        Assert.True((await Reactions(core).PinAsync(ann, m.Id)).Value);
        Assert.False((await Reactions(core).PinAsync(ben, m.Id)).Value); // already pinned: no change
        await watcher.WaitForAsync<PinChanged>(1);
        await Task.Delay(100);
        Assert.Single(watcher.Events.OfType<PinChanged>());
        Assert.Empty(watcher.Events.OfType<MessagePosted>());
        Assert.Equal(1, await core.WithDbAsync(db => db.Pins.CountAsync()));
        Assert.Single(await core.History.GetHistoryAsync(room.Id)); // no "pinned a message" post
        Assert.Equal(1, await core.WithDbAsync(db => db.Messages.CountAsync(x => x.Kind == MessageKind.Pinned)));

        var pins = await Reactions(core).PinnedAsync(ben, room.Id);
        Assert.Equal([m.Id], pins.Value!.Select(x => x.Id));
        Assert.True(pins.Value![0].Pinned);

        Assert.True((await Reactions(core).PinAsync(ben, m.Id, pin: false)).Value);
        Assert.Empty((await Reactions(core).PinnedAsync(ann, room.Id)).Value!);
        Assert.False((await core.History.GetHistoryAsync(room.Id))[0].Pinned);
    }

    [Fact]
    public async Task Catch_up_replays_reactions_and_pins_in_id_order_with_the_state_as_it_is_now()
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var room = await core.CreateRoomAsync("replay", false, ann);
        var m = await core.PostAsync(ann, room, "x");
        await Reactions(core).ReactAsync(ann, m.Id, "🎉");
        await Reactions(core).PinAsync(ann, m.Id);
        await Reactions(core).ReactAsync(ann, m.Id, "🔥");

        var events = await core.History.GetStoredEventsAfterAsync(room.Id, m.Id);
        Assert.Collection(events,
            e => Assert.Equal("🎉", Assert.IsType<ReactionChanged>(e).Emoji),
            e => Assert.True(Assert.IsType<PinChanged>(e).Pinned),
            e => Assert.Equal("🔥", Assert.IsType<ReactionChanged>(e).Emoji));
        Assert.All(events.OfType<ReactionChanged>(), r => Assert.Equal(["🎉", "🔥"], r.Reactions.Select(x => x.Emoji)));
        var ids = events.Select(ChatEvents.StoredId).ToList();
        Assert.Equal(ids.Order(), ids);
        Assert.All(ids, id => Assert.True(id > m.Id));
    }

    [Fact]
    public async Task Saved_messages_are_personal_and_listed_newest_first()
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var ben = await core.CreateUserAsync("ben");
        var room = await core.CreateRoomAsync("saving", false, ann, ben);
        var a = await core.PostAsync(ann, room, "first");
        var b = await core.PostAsync(ann, room, "second");
        var saved = core.Services.GetRequiredService<SavedMessages>();
        Assert.True((await saved.SaveAsync(ben, a.Id)).Value);
        Assert.True((await saved.SaveAsync(ben, b.Id)).Value);
        Assert.False((await saved.SaveAsync(ben, b.Id)).Value);
        Assert.Equal([b.Id, a.Id], (await saved.ListAsync(ben)).Select(x => x.Message.Id));
        Assert.Empty(await saved.ListAsync(ann));
        Assert.True((await saved.SaveAsync(ben, a.Id, save: false)).Value);
        Assert.Equal([b.Id], (await saved.ListAsync(ben)).Select(x => x.Message.Id));
        // Leaving the private room hides it from the list (the row may stay).
        var priv = await core.CreateRoomAsync("priv", true, ann, ben);
        var p = await core.PostAsync(ann, priv, "private");
        Assert.True((await saved.SaveAsync(ben, p.Id)).Ok);
        await core.Rooms.RemoveMemberAsync(priv.Id, ben.Id);
        Assert.DoesNotContain(p.Id, (await saved.ListAsync(ben)).Select(x => x.Message.Id));
    }

    [Fact]
    public async Task Retention_keeps_pinned_messages_and_removes_reactions_and_saves_with_their_message()
    {
        await using var h = await GovernanceHarness.StartAsync();
        var ann = await h.RegisterAsync("ann");
        var room = await h.CreateRoomAsync("keep", false, ann);
        await h.SetRoomRetentionAsync(room.Id, 1);
        var pinned = await h.PostAsync(ann, room, "pinned");
        var plain = await h.PostAsync(ann, room, "reacted");
        var r = h.Services.GetRequiredService<ChatReactions>();
        Assert.True((await r.PinAsync(ann, pinned.Id)).Ok);
        Assert.True((await r.ReactAsync(ann, plain.Id, "👍")).Ok);
        Assert.True((await r.ReactAsync(ann, pinned.Id, "👍")).Ok);
        Assert.True((await h.Services.GetRequiredService<SavedMessages>().SaveAsync(ann, plain.Id)).Ok);
        await h.AgeAsync(await h.WithDbAsync(db => db.Messages.Where(m => m.RoomId == room.Id).Select(m => m.Id).ToListAsync()), TimeSpan.FromDays(3));

        await h.Get<Retention>().RunAsync("(test)", roomId: room.Id);

        var left = await h.RowsAsync(room.Id);
        Assert.Equal([pinned.Id], left.Select(m => m.Id));
        Assert.Equal([pinned.Id], await h.WithDbAsync(db => db.Reactions.Select(x => x.MessageId).ToListAsync()));
        Assert.Equal(0, await h.WithDbAsync(db => db.SavedMessages.CountAsync()));
        Assert.Equal(1, await h.WithDbAsync(db => db.Pins.CountAsync()));
    }

    [Fact]
    public async Task Deleting_the_room_deletes_its_reactions_and_pins()
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var room = await core.CreateRoomAsync("doomed", false, ann);
        var m = await core.PostAsync(ann, room, "bye");
        Assert.True((await Reactions(core).ReactAsync(ann, m.Id, "😢")).Ok);
        Assert.True((await Reactions(core).PinAsync(ann, m.Id)).Ok);
        Assert.True((await core.Rooms.DeleteAsync(room.Id)).Ok);
        Assert.Equal(0, await core.WithDbAsync(async db => await db.Reactions.CountAsync() + await db.Pins.CountAsync()));
    }
}
