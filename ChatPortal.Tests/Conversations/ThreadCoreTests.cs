using ChatPortal.Chat;
using ChatPortal.Chat.Conversations;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Conversations;

/// <summary>Quote-replies and threads in the core: replies stay out of the room unless also sent there; followers and unread counts.</summary>
public sealed class ThreadCoreTests
{
    private static ChatThreads Threads(IChatCore core) => core.Services.GetRequiredService<ChatThreads>();

    [Fact]
    public async Task A_quote_reply_carries_the_quoted_message_live_and_in_pages()
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var ben = await core.CreateUserAsync("ben");
        var room = await core.CreateRoomAsync("quotes", false, ann, ben);
        var other = await core.CreateRoomAsync("elsewhere", false, ann, ben);
        var original = await core.PostAsync(ann, room, "the original point");
        var watcher = new RecordingSubscriber();
        using var sub = core.Fanout.SubscribeRoom(room.Id, watcher);

        var reply = await core.Commands.PostAsync(ben, room.Id, "agreed", links: new MessageLinks(QuoteId: original.Id));
        Assert.True(reply.Ok, reply.Error?.Message);
        var live = (await watcher.WaitForAsync<MessagePosted>(1))[0].Message;
        Assert.Equal((original.Id, "the original point", "ann"), (live.Quote!.Id, live.Quote.Text, live.Quote.Sender.Name));
        var page = await core.History.GetHistoryAsync(room.Id);
        Assert.Equal(original.Id, page[^1].Quote!.Id);

        // A quote of another room's message, or of nothing, is refused and stores nothing.
        var foreign = await core.PostAsync(ann, other, "other room");
        Assert.Equal("not_found", (await core.Commands.PostAsync(ben, room.Id, "x", links: new MessageLinks(QuoteId: foreign.Id))).Error?.Code);
        Assert.Equal("not_found", (await core.Commands.PostAsync(ben, room.Id, "x", links: new MessageLinks(QuoteId: 999_999))).Error?.Code);
        Assert.Equal(2, (await core.History.GetHistoryAsync(room.Id)).Count);

        // The quoted message deleted later: the quote says so instead of showing its text.
        Assert.True((await core.Commands.DeleteAsync(ann, original.Id)).Ok);
        var quote = (await core.History.GetHistoryAsync(room.Id))[^1].Quote!;
        Assert.True(quote.Deleted);
        Assert.Equal("", quote.Text);
    }

    [Fact]
    public async Task Thread_replies_stay_out_of_the_room_unless_also_sent_and_count_on_their_thread()
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var ben = await core.CreateUserAsync("ben");
        var cat = await core.CreateUserAsync("cat");
        var room = await core.CreateRoomAsync("threads", false, ann, ben, cat);
        var root = await core.PostAsync(ann, room, "start a thread");
        await core.History.MarkReadAsync(cat.Id, room.Id, root.Id);

        var r1 = (await core.Commands.PostAsync(ben, room.Id, "in the thread", links: new MessageLinks(ThreadId: root.Id))).Value!;
        var r2 = (await core.Commands.PostAsync(ben, room.Id, "for everyone", links: new MessageLinks(ThreadId: root.Id, AlsoInRoom: true))).Value!;
        Assert.False(r1.InRoom);
        Assert.True(r2.InRoom);

        var page = await core.History.GetHistoryAsync(room.Id);
        Assert.Equal([root.Id, r2.Id], page.Select(m => m.Id));
        Assert.Equal(2, page[0].Thread!.Replies);
        // Room unread counts skip the thread-only reply (it is counted in the thread).
        Assert.Equal(1, (await core.History.UnreadCountsAsync(cat.Id))[room.Id]);

        var thread = await Threads(core).ThreadAsync(cat, root.Id);
        Assert.Equal([r1.Id, r2.Id], thread.Value.Replies.Select(m => m.Id));

        // A reply to a reply is refused: threads are one level deep.
        Assert.Equal("not_a_thread", (await core.Commands.PostAsync(cat, room.Id, "nested", links: new MessageLinks(ThreadId: r1.Id))).Error?.Code);
    }

    [Fact]
    public async Task The_author_repliers_and_mentioned_members_follow_and_unread_counts_are_per_follower()
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var ben = await core.CreateUserAsync("ben");
        var cat = await core.CreateUserAsync("cat");
        var dan = await core.CreateUserAsync("dan");
        var room = await core.CreateRoomAsync("follow", false, ann, ben, cat, dan);
        var root = await core.PostAsync(ann, room, "question");
        await core.Commands.PostAsync(ben, room.Id, "answer one, @cat what do you think?", links: new MessageLinks(ThreadId: root.Id));
        await core.Commands.PostAsync(ben, room.Id, "answer two", links: new MessageLinks(ThreadId: root.Id));

        var annThreads = await Threads(core).ThreadsAsync(ann);
        var entry = Assert.Single(annThreads);
        Assert.Equal((root.Id, 2, 2), (entry.Root.Id, entry.Replies, entry.Unread));
        Assert.Equal(0, Assert.Single(await Threads(core).ThreadsAsync(ben)).Unread); // his own replies
        Assert.Equal(2, Assert.Single(await Threads(core).ThreadsAsync(cat)).Unread); // mentioned
        Assert.Empty(await Threads(core).ThreadsAsync(dan));

        await Threads(core).MarkReadAsync(ann, root.Id);
        Assert.Equal(0, Assert.Single(await Threads(core).ThreadsAsync(ann)).Unread);
        await core.Commands.PostAsync(cat, room.Id, "late reply", links: new MessageLinks(ThreadId: root.Id));
        Assert.Equal(1, Assert.Single(await Threads(core).ThreadsAsync(ann)).Unread);

        // Following by hand, and stopping.
        Assert.True((await Threads(core).FollowAsync(dan, root.Id)).Value);
        Assert.Equal(0, Assert.Single(await Threads(core).ThreadsAsync(dan)).Unread); // follows from now on
        Assert.True((await Threads(core).FollowAsync(ann, root.Id, follow: false)).Value);
        Assert.Empty(await Threads(core).ThreadsAsync(ann));
        Assert.Equal(3, await core.WithDbAsync(db => db.ThreadFollowers.CountAsync())); // ben, cat, dan
    }

    [Fact]
    public async Task A_private_rooms_thread_is_not_found_for_outsiders()
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var eve = await core.CreateUserAsync("eve");
        var room = await core.CreateRoomAsync("hidden", true, ann);
        var root = await core.PostAsync(ann, room, "secret thread");
        Assert.Equal("not_found", (await Threads(core).ThreadAsync(eve, root.Id)).Error?.Code);
        Assert.Equal("not_found", (await Threads(core).FollowAsync(eve, root.Id)).Error?.Code);
        Assert.Equal("not_found", (await core.Commands.PostAsync(eve, room.Id, "x", links: new MessageLinks(ThreadId: root.Id))).Error?.Code);
    }
}
