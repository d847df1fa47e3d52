using Bunit;
using ChatPortal.Chat;
using ChatPortal.Chat.Conversations;
using ChatPortal.Components.Chat;
using ChatPortal.Tests.Web;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Conversations;

/// <summary>The room view with reactions, pins and saved messages, against the real core (bUnit).</summary>
public sealed class ConversationViewTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Reactions_from_elsewhere_show_live_with_who_reacted_and_a_click_toggles_mine()
    {
        await using var h = await ComponentHarness.StartAsync("alice");
        var lobby = await h.LobbyAsync();
        var bob = await h.Core.CreateUserAsync("bob");
        var m = (await h.Core.Commands.PostAsync(bob, lobby.Id, "react here")).Value!;
        var reactions = h.Core.Services.GetRequiredService<ChatReactions>();
        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll(".msg")), Wait);
        Assert.Empty(cut.FindAll(".reaction"));

        // Someone else reacts (another tab, a socket, another node): the chip appears live.
        Assert.True((await reactions.ReactAsync(bob, m.Id, "🎉")).Ok);
        cut.WaitForAssertion(() => Assert.Equal("🎉 1", Assert.Single(cut.FindAll(".reaction")).TextContent.Trim()), Wait);
        var chip = cut.Find(".reaction");
        Assert.Equal("bob reacted with 🎉", chip.GetAttribute("title"));
        Assert.DoesNotContain("reaction-mine", chip.ClassList);

        // Clicking the chip adds mine; the title names me too.
        await cut.InvokeAsync(() => cut.Find(".reaction").Act());
        cut.WaitForAssertion(() => Assert.Equal("🎉 2", cut.Find(".reaction").TextContent.Trim()), Wait);
        Assert.Contains("reaction-mine", cut.Find(".reaction").ClassList);
        Assert.Equal("bob, you reacted with 🎉", cut.Find(".reaction").GetAttribute("title"));
        Assert.Equal(2, await h.Core.WithDbAsync(db => db.Reactions.CountAsync(r => r.MessageId == m.Id)));

        // The picker: the quick row adds a second emoji.
        await cut.InvokeAsync(() => cut.Find(".msg-react").Act());
        await cut.InvokeAsync(() => cut.FindAll(".quick-reaction").Single(b => b.TextContent == "👍").Click());
        cut.WaitForAssertion(() => Assert.Equal(["🎉", "👍"], cut.FindAll(".reaction").Select(r => r.GetAttribute("data-emoji"))), Wait);
        Assert.Empty(cut.FindAll("#reaction-picker"));

        // Clicking my chip again takes mine back.
        await cut.InvokeAsync(() => cut.FindAll(".reaction").Single(r => r.GetAttribute("data-emoji") == "👍").Act());
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll(".reaction")), Wait);
    }

    [Fact]
    public async Task Pins_show_on_the_message_and_in_the_pinned_panel_and_saves_in_the_saved_panel()
    {
        await using var h = await ComponentHarness.StartAsync("carol");
        var lobby = await h.LobbyAsync();
        var dan = await h.Core.CreateUserAsync("dan");
        var m = (await h.Core.Commands.PostAsync(dan, lobby.Id, "pin worthy")).Value!;
        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll(".msg")), Wait);

        await cut.InvokeAsync(() => cut.Find(".msg-pin").Act());
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find(".msg .msg-pinned")), Wait);
        await cut.InvokeAsync(() => cut.Find("#pins-toggle").Click());
        cut.WaitForAssertion(() => Assert.Equal("pin worthy", cut.Find("#pins-panel .panel-text").TextContent), Wait);

        // Unpinned elsewhere: the message and the open panel follow live.
        Assert.True((await h.Core.Services.GetRequiredService<ChatReactions>().PinAsync(dan, m.Id, pin: false)).Ok);
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll(".msg .msg-pinned")), Wait);
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("#pins-panel .panel-item")), Wait);
        Assert.Single(cut.FindAll(".msg")); // no message was posted for either change

        await cut.InvokeAsync(() => cut.Find(".msg-save").Act());
        await cut.InvokeAsync(() => cut.Find("#saved-toggle").Click());
        cut.WaitForAssertion(() => Assert.Equal("pin worthy", cut.Find("#saved-panel .panel-text").TextContent), Wait);
        await cut.InvokeAsync(() => cut.Find("#saved-panel .panel-unsave").Click());
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("#saved-panel .panel-item")), Wait);
        Assert.Equal(0, await h.Core.WithDbAsync(db => db.SavedMessages.CountAsync()));
    }

    [Fact]
    public async Task A_bad_reaction_shows_the_localized_error_in_the_view()
    {
        await using var h = await ComponentHarness.StartAsync("erin");
        var lobby = await h.LobbyAsync();
        var m = (await h.Core.Commands.PostAsync(h.Me, lobby.Id, "mine")).Value!;
        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll(".msg")), Wait);
        var emoji = Enumerable.Range(0, 50).Select(i => char.ConvertFromUtf32(0x1F400 + i));
        foreach (var e in emoji) Assert.True((await h.Core.Services.GetRequiredService<ChatReactions>().ReactAsync(h.Me, m.Id, e)).Ok);
        cut.WaitForAssertion(() => Assert.Equal(50, cut.FindAll(".reaction").Count), Wait);
        await cut.InvokeAsync(() => cut.Find(".msg-react").Act());
        await cut.InvokeAsync(() => cut.FindAll(".quick-reaction").Single(b => b.TextContent == "🙏").Click());
        cut.WaitForAssertion(() => Assert.Contains(cut.FindAll(".notice"), n => n.TextContent.Contains("50 different reactions")), Wait);
        Assert.Equal(50, cut.FindAll(".reaction").Count);
    }

    [Fact]
    public async Task Threads_open_beside_the_room_keep_their_replies_out_of_it_and_count_unread_replies()
    {
        await using var h = await ComponentHarness.StartAsync("fay");
        var lobby = await h.LobbyAsync();
        var gus = await h.Core.CreateUserAsync("gus");
        var root = (await h.Core.Commands.PostAsync(h.Me, lobby.Id, "my question")).Value!;
        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll(".msg")), Wait);

        // Someone answers in the thread: the room shows a reply count, not the reply; the Threads badge counts it.
        Assert.True((await h.Core.Commands.PostAsync(gus, lobby.Id, "an answer", links: new MessageLinks(ThreadId: root.Id))).Ok);
        cut.WaitForAssertion(() => Assert.Equal("1 replies", cut.Find(".msg-thread-summary .thread-count").TextContent.Trim()), Wait);
        Assert.Single(cut.FindAll(".msg"));
        cut.WaitForAssertion(() => Assert.Contains("1", cut.Find(".threads-badge").TextContent), Wait);

        // Opening the thread shows it, and reading it clears the unread count.
        await cut.InvokeAsync(() => cut.Find(".msg-thread-summary").Act());
        cut.WaitForAssertion(() => Assert.Equal(["my question", "an answer"], cut.FindAll("#thread-panel .thread-item .msg-text").Select(e => e.TextContent)), Wait);
        Assert.Equal(0, Assert.Single(await h.Core.Services.GetRequiredService<ChatThreads>().ThreadsAsync(h.Me)).Unread);

        // Replying from the panel: "also send to the room" puts it in the room too.
        cut.Find("#thread-input").Input("thanks!");
        cut.Find("#thread-also").Change(true);
        await cut.InvokeAsync(() => cut.Find("#thread-send").Click());
        cut.WaitForAssertion(() => Assert.Equal(3, cut.FindAll("#thread-panel .thread-item").Count), Wait);
        cut.WaitForAssertion(() => Assert.Equal(["my question", "thanks!"], cut.FindAll(".msg .msg-text").Select(e => e.TextContent)), Wait);
        cut.WaitForAssertion(() => Assert.Equal("2 replies", cut.Find(".msg-thread-summary .thread-count").TextContent.Trim()), Wait);
        Assert.NotNull(cut.Find(".msg .msg-in-thread"));

        // A quote-reply from the room.
        await cut.InvokeAsync(() => cut.FindAll(".msg")[0].QuerySelector(".msg-quote")!.Act());
        Assert.Contains("my question", cut.Find("#composer-quote").TextContent);
        cut.Find("#composer-input").Input("quoting you");
        await cut.InvokeAsync(() => cut.FindComponent<Composer>().Instance.SendAsync());
        cut.WaitForAssertion(() => Assert.Equal("my question", cut.FindAll(".msg")[^1].QuerySelector(".msg-quote-block .quote-text")!.TextContent), Wait);
        Assert.Empty(cut.FindAll("#composer-quote"));
    }
}
