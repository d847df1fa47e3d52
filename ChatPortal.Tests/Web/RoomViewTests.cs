using Bunit;
using ChatPortal.Chat;
using ChatPortal.Components.Chat;
using ChatPortal.Data;
using Microsoft.AspNetCore.Components;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Web;

/// <summary>The room view against the real core: history, live messages, the composer, the online list.</summary>
public sealed class RoomViewTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static Task<long> ReadUpToAsync(ComponentHarness h, long roomId) =>
        h.Core.WithDbAsync(db => db.RoomMembers.Where(m => m.RoomId == roomId && m.UserId == h.Me.Id)
            .Select(m => m.LastReadMessageId).SingleAsync());

    /// <summary>Waits until the user's saved read mark in the room reaches <paramref name="id"/> (the view saves every other second).</summary>
    private static async Task ReadReachesAsync(ComponentHarness h, long roomId, long id)
    {
        var until = DateTime.UtcNow + Wait;
        while (await ReadUpToAsync(h, roomId) < id && DateTime.UtcNow < until) await Task.Delay(100);
        Assert.Equal(id, await ReadUpToAsync(h, roomId));
    }

    [Fact]
    public async Task Room_page_renders_history_then_live_messages_as_text()
    {
        await using var h = await ComponentHarness.StartAsync("alice");
        var lobby = await h.LobbyAsync();
        var bob = await h.Core.CreateUserAsync("bob");
        await h.Core.Commands.PostAsync(bob, lobby.Id, "first");
        await h.Core.Commands.PostAsync(bob, lobby.Id, "<b>not bold</b> <script>alert(1)</script>");
        await h.Core.Commands.PostAsync(h.Me, lobby.Id, "mine");

        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));

        cut.WaitForAssertion(() => Assert.Equal(3, cut.FindAll(".msg").Count), Wait);
        var msgs = cut.FindAll(".msg");
        Assert.Equal(["first", "<b>not bold</b> <script>alert(1)</script>", "mine"], msgs.Select(m => m.QuerySelector(".msg-text")!.TextContent).ToArray());
        Assert.Equal(["bob", "bob", "alice"], msgs.Select(m => m.QuerySelector(".msg-sender")!.TextContent).ToArray());
        // Every message has an avatar and a time; the user's own are marked.
        Assert.All(msgs, m => Assert.NotNull(m.QuerySelector(".mud-avatar")));
        Assert.All(msgs, m => Assert.False(string.IsNullOrWhiteSpace(m.QuerySelector("time.msg-time")?.GetAttribute("datetime"))));
        Assert.Equal("B", msgs[0].QuerySelector(".mud-avatar")!.TextContent.Trim());
        Assert.Contains("msg-mine", msgs[2].ClassList);
        Assert.DoesNotContain("msg-mine", msgs[0].ClassList);
        // User text never becomes markup.
        Assert.Empty(cut.FindAll(".msg-text b"));
        Assert.Empty(cut.FindAll(".msg-text script"));
        Assert.Equal("# Lobby", cut.Find("#room-title").TextContent);

        // A message posted elsewhere (another tab, a socket) arrives live, after the history.
        var live = await h.Core.Commands.PostAsync(bob, lobby.Id, "live one 你好");
        Assert.True(live.Ok);
        cut.WaitForAssertion(() => Assert.Equal("live one 你好", cut.FindAll(".msg .msg-text")[^1].TextContent), Wait);
        Assert.Equal(live.Value!.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), cut.FindAll(".msg")[^1].GetAttribute("data-id"));
        Assert.Equal(4, cut.FindAll(".msg").Count);
    }

    [Fact]
    public async Task Nothing_is_marked_read_while_the_tab_is_disconnected_or_the_page_is_hidden()
    {
        await using var h = await ComponentHarness.StartAsync("gail");
        var lobby = await h.LobbyAsync();
        var hal = await h.Core.CreateUserAsync("hal");
        var seen = (await h.Core.Commands.PostAsync(hal, lobby.Id, "seen")).Value!;
        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll(".msg")), Wait);
        Task<long> ReadUpTo() => ReadUpToAsync(h, lobby.Id);
        Task ReadReaches(long id) => ReadReachesAsync(h, lobby.Id, id);
        await ReadReaches(seen.Id); // a visible, focused page read it

        // The tab's connection is gone (a closed tab's circuit is kept a while): it still gets messages, reads none.
        var circuit = h.Context.Services.GetRequiredService<ChatCircuit>();
        circuit.SetConnected(false);
        var away = (await h.Core.Commands.PostAsync(hal, lobby.Id, "while away")).Value!;
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll(".msg").Count), Wait);
        await Task.Delay(TimeSpan.FromSeconds(3)); // the view saves every other second: give a wrong save its chance
        Assert.Equal(seen.Id, await ReadUpTo());
        circuit.SetConnected(true);
        await ReadReaches(away.Id);

        // The page is hidden (another tab or window in front): a new message gets the "New messages" line and stays unread.
        var view = cut.FindComponent<ChatView>().Instance;
        await view.OnAttention(false);
        var hidden = (await h.Core.Commands.PostAsync(hal, lobby.Id, "while hidden")).Value!;
        cut.WaitForAssertion(() => Assert.Equal(hidden.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            cut.Find("#first-unread + .msg").GetAttribute("data-id")), Wait);
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(away.Id, await ReadUpTo());
        await view.OnAttention(true); // looked at: read
        await ReadReaches(hidden.Id);
    }

    [Fact]
    public async Task Composer_sends_the_message_which_appears_and_is_stored()
    {
        await using var h = await ComponentHarness.StartAsync("carol");
        var lobby = await h.LobbyAsync();
        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        cut.WaitForAssertion(() => cut.Find("#composer-input"), Wait);

        // Blank input sends nothing. (The view may still re-render from its join while we type: an
        // action on a handler replaced in between is simply done again on the new one.)
        Act(() => cut.Find("#composer-input").Input("   "));
        Act(() => cut.Find("#send-button").Click());
        Act(() => cut.Find("#composer-input").Input("hello from the composer\nsecond line"));
        Act(() => cut.Find("#send-button").Click());

        cut.WaitForAssertion(() => Assert.Single(cut.FindAll(".msg")), Wait);
        var msg = cut.Find(".msg");
        Assert.Equal("hello from the composer\nsecond line", msg.QuerySelector(".msg-text")!.TextContent);
        Assert.Contains("msg-mine", msg.ClassList);
        // The live echo of the post can render the message before the post returns and the composer clears.
        cut.WaitForAssertion(() => Assert.Equal("", cut.Find("#composer-input").GetAttribute("value") ?? ""), Wait);

        var stored = await h.Core.WithDbAsync(db => db.Messages.AsNoTracking().Where(m => m.RoomId == lobby.Id).ToListAsync());
        var row = Assert.Single(stored);
        Assert.Equal("hello from the composer\nsecond line", row.Text);
        Assert.Equal(h.Me.Id, row.SenderId);
        Assert.Equal(MessageKind.Text, row.Kind);
        Assert.Equal(row.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), msg.GetAttribute("data-id"));
        // The live echo of our own post does not show it twice.
        await Task.Delay(300);
        Assert.Single(cut.FindAll(".msg"));
    }

    [Fact]
    public async Task Composer_shows_the_core_error_and_keeps_the_draft()
    {
        await using var h = await ComponentHarness.StartAsync("dave");
        var lobby = await h.LobbyAsync();
        await h.Core.WithDbAsync(async db =>
        {
            var u = await db.Users.SingleAsync(x => x.Id == h.Me.Id);
            u.MutedUntil = DateTimeOffset.UtcNow.AddHours(1);
            return await db.SaveChangesAsync();
        });
        h.Core.Users.Invalidate(h.Me.Id);
        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        cut.WaitForAssertion(() => cut.Find("#composer-input"), Wait);

        cut.Find("#composer-input").Input("am I muted?");
        cut.Find("#send-button").Click();

        cut.WaitForAssertion(() => Assert.Contains("muted", cut.Find("#composer-error").TextContent, StringComparison.Ordinal), Wait);
        Assert.Equal("am I muted?", cut.Find("#composer-input").GetAttribute("value"));
        Assert.Empty(cut.FindAll(".msg"));
        Assert.Equal(0, await h.Core.WithDbAsync(db => db.Messages.CountAsync(m => m.RoomId == lobby.Id)));
    }

    [Fact]
    public async Task Online_list_follows_presence_and_notices_follow_membership()
    {
        await using var h = await ComponentHarness.StartAsync("erin");
        var lobby = await h.LobbyAsync();
        var frank = await h.Core.CreateUserAsync("frank");
        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));

        // The viewer is present (the circuit entered the room) and listed as "(you)", not as a link.
        cut.WaitForAssertion(() => Assert.Equal(["erin"], cut.FindAll("#online-list [data-user]").Select(e => e.GetAttribute("data-user")).ToArray()), Wait);
        Assert.Equal("span", cut.Find("#online-list [data-user='erin']").TagName, ignoreCase: true);
        Assert.Contains(h.Core.Sessions.Online(lobby.Id), u => u.Id == h.Me.Id);

        // Two tabs of frank: listed once, and only while a tab is there. Coming online is no notice (issue 21).
        var tab1 = h.Core.EnterRoom(lobby.Id, frank);
        var tab2 = h.Core.EnterRoom(lobby.Id, frank);
        cut.WaitForAssertion(() => Assert.Equal(["erin", "frank"], cut.FindAll("#online-list [data-user]").Select(e => e.GetAttribute("data-user")).ToArray()), Wait);
        var link = cut.Find("#online-list a[data-user='frank']");
        Assert.Equal("/dm/frank", link.GetAttribute("href"));
        Assert.Contains("(2)", cut.Find("#online-list").TextContent, StringComparison.Ordinal);

        tab1.Dispose();
        await Task.Delay(200);
        Assert.Equal(2, cut.FindAll("#online-list [data-user]").Count);
        tab2.Dispose();
        cut.WaitForAssertion(() => Assert.Equal(["erin"], cut.FindAll("#online-list [data-user]").Select(e => e.GetAttribute("data-user")).ToArray()), Wait);
        Assert.Empty(Notices(cut));

        // Joining and leaving the room (membership) are what the notices say, as in Slack.
        Assert.True(await h.Core.Rooms.EnsureMemberAsync(lobby.Id, frank));
        cut.WaitForAssertion(() => Assert.Equal(["frank joined"], Notices(cut)), Wait);
        Assert.True(await h.Core.Rooms.RemoveMemberAsync(lobby.Id, frank.Id));
        cut.WaitForAssertion(() => Assert.Equal(["frank joined", "frank left the room"], Notices(cut)), Wait);

        // Closing the view leaves the room and stops the subscription.
        await h.Context.DisposeComponentsAsync();
        Assert.DoesNotContain(h.Core.Sessions.Online(lobby.Id), u => u.Id == h.Me.Id);
    }

    [Fact]
    public async Task Only_the_latest_page_is_shown_and_older_messages_load_on_request()
    {
        await using var h = await ComponentHarness.StartAsync("gina");
        var lobby = await h.LobbyAsync();
        var bot = await h.Core.CreateUserAsync("historian");
        for (var i = 1; i <= 65; i++)
            Assert.True((await h.Core.Commands.PostAsync(bot, lobby.Id, $"old {i}")).Ok);

        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        cut.WaitForAssertion(() => Assert.Equal(50, cut.FindAll(".msg").Count), Wait);
        Assert.Equal("old 16", cut.FindAll(".msg .msg-text")[0].TextContent);
        Assert.Equal("old 65", cut.FindAll(".msg .msg-text")[^1].TextContent);

        // What the scroll-to-top observer calls (the browser test drives the real scrolling).
        var more = await cut.FindComponent<ChatView>().Instance.OnScrolledToTop();
        Assert.False(more);
        cut.WaitForAssertion(() => Assert.Equal(65, cut.FindAll(".msg").Count), Wait);
        var texts = cut.FindAll(".msg .msg-text").Select(e => e.TextContent).ToList();
        Assert.Equal(Enumerable.Range(1, 65).Select(i => $"old {i}"), texts);
        Assert.Empty(cut.FindAll("#load-older"));
        Assert.Contains("beginning of the conversation", cut.Find(".chat-top").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_new_direct_conversation_appears_live_in_the_drawer_with_its_unread_count()
    {
        await using var h = await ComponentHarness.StartAsync("hana");
        var ivan = await h.Core.CreateUserAsync("ivan");
        var cut = h.Context.Render<ChatNav>();
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-room='lobby']")), Wait);
        Assert.Empty(cut.FindAll("[data-dm]"));
        Assert.Contains("Click a name in the online list", cut.Find("#no-direct").TextContent, StringComparison.Ordinal);

        var dm = await h.Core.Rooms.OpenDirectAsync(ivan, "HANA ");
        Assert.True(dm.Ok, dm.Error?.Message);
        Assert.True((await h.Core.Commands.PostAsync(ivan, dm.Value!.Room.Id, "psst")).Ok);
        Assert.True((await h.Core.Commands.PostAsync(ivan, dm.Value!.Room.Id, "are you there?")).Ok);

        cut.WaitForAssertion(() =>
        {
            var link = cut.Find("[data-dm='ivan']");
            Assert.Equal("/dm/ivan", link.GetAttribute("href"));
            Assert.Equal("2", link.QuerySelector(".unread-badge")?.TextContent.Trim());
        }, Wait);
        Assert.Empty(cut.FindAll("#no-direct"));
    }

    /// <summary>
    /// A message in the room on screen changes nothing in the drawer (no unread count there), so the drawer does not
    /// render for it: in a busy room that was a render of the whole drawer per message per tab. Elsewhere it still counts.
    /// </summary>
    [Fact]
    public async Task The_drawer_does_not_render_for_messages_in_the_room_on_screen_and_still_counts_other_rooms()
    {
        await using var h = await ComponentHarness.StartAsync("lin");
        var lobby = await h.LobbyAsync();
        var mo = await h.Core.CreateUserAsync("mo");
        await h.Core.Rooms.EnsureMemberAsync(lobby.Id, mo);
        var other = await h.Core.CreateRoomAsync("other", false, h.Me, mo);
        var nav = h.Context.Render<ChatNav>();
        nav.WaitForAssertion(() => Assert.NotNull(nav.Find("[data-room='other']")), Wait);
        var page = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        page.WaitForAssertion(() => Assert.NotNull(page.Find("#composer")), Wait);
        await h.Core.PostAsync(mo, lobby, "warm-up");
        page.WaitForAssertion(() => Assert.Contains("warm-up", page.Markup, StringComparison.Ordinal), Wait);
        await Task.Delay(300);

        var navRenders = nav.RenderCount;
        for (var i = 0; i < 5; i++) await h.Core.PostAsync(mo, lobby, $"here {i}");
        page.WaitForAssertion(() => Assert.Contains("here 4", page.Markup, StringComparison.Ordinal), Wait);
        await Task.Delay(300);
        Assert.Equal(navRenders, nav.RenderCount);
        Assert.Null(nav.Find("[data-room='lobby']").QuerySelector(".unread-badge"));

        await h.Core.PostAsync(mo, other, "elsewhere");
        nav.WaitForAssertion(() => Assert.Equal("1", nav.Find("[data-room='other'] .unread-badge").TextContent.Trim()), Wait);
    }

    /// <summary>
    /// A new message renders its own row, and the rows' buttons have no handlers of their own: the list has one for all
    /// of them (a row action names what it does, data-act). Before, the view rebuilt every row per message and replaced
    /// each button's handler; then each row kept ten handlers per circuit (delegates, the circuit's handler table).
    /// </summary>
    [Fact]
    public async Task A_new_message_renders_its_own_row_and_one_handler_serves_the_buttons_of_every_row()
    {
        await using var h = await ComponentHarness.StartAsync("uma");
        var lobby = await h.LobbyAsync();
        var mo = await h.Core.CreateUserAsync("mo");
        await h.Core.Rooms.EnsureMemberAsync(lobby.Id, mo);
        for (var i = 0; i < 4; i++) await h.Core.PostAsync(mo, lobby, $"old {i}");
        var mine = (await h.Core.Commands.PostAsync(h.Me, lobby.Id, "mine")).Value!;
        var page = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        page.WaitForAssertion(() => Assert.Equal(5, page.FindAll(".msg").Count), Wait);
        var buttons = page.FindAll(".msg button.msg-action");
        Assert.Equal(4 * 5 + 7, buttons.Count); // mo's rows: reply, thread, react, pin, save; mine adds edit and delete
        Assert.All(buttons, b => Assert.Null(b.GetAttribute("blazor:onclick")));
        Assert.Equal(["quote", "thread", "react", "pin", "save"], buttons.Take(5).Select(b => b.GetAttribute("data-act")));
        var handler = page.Find("#messages").GetAttribute("blazor:onrowaction");
        Assert.NotNull(handler);
        var rows = page.FindComponents<MessageRow>();
        var renders = rows.Select(r => r.RenderCount).ToArray();

        await h.Core.PostAsync(mo, lobby, "new one");
        page.WaitForAssertion(() => Assert.Equal(6, page.FindAll(".msg").Count), Wait);
        await Task.Delay(200);
        Assert.Equal(renders, rows.Select(r => r.RenderCount)); // the rows on screen did not render again
        Assert.Equal(handler, page.Find("#messages").GetAttribute("blazor:onrowaction"));

        // A row still follows its own message (a reaction) and the view's state for it (the edit box), and only it changes.
        Assert.True((await h.Core.Services.GetRequiredService<ChatPortal.Chat.Conversations.ChatReactions>().ReactAsync(mo, mine.Id, "🎉")).Ok);
        page.WaitForAssertion(() => Assert.NotNull(page.Find($".msg[data-id='{mine.Id}'] .reaction[data-emoji='🎉']")), Wait);
        Assert.Equal(renders[..4], rows.Take(4).Select(r => r.RenderCount));
        page.Find($".msg[data-id='{mine.Id}'] .msg-edit").Act();
        page.WaitForAssertion(() => Assert.NotNull(page.Find($".msg[data-id='{mine.Id}'] #edit-input")), Wait);
        page.Find("#edit-input").Input("mine, edited");
        page.Find("#edit-save").Click();
        page.WaitForAssertion(() => Assert.Equal("mine, edited", page.Find($".msg[data-id='{mine.Id}'] .msg-text").TextContent), Wait);
        Assert.Equal(renders[..4], rows.Take(4).Select(r => r.RenderCount));

        // The handler does only what the row offered: mo's message has no edit or delete for uma.
        var theirs = page.FindAll(".msg")[0];
        page.Find("#messages").TriggerEvent("onrowaction", new RowActionEventArgs { Action = "edit", Id = long.Parse(theirs.GetAttribute("data-id")!) });
        page.Find("#messages").TriggerEvent("onrowaction", new RowActionEventArgs { Action = "delete", Id = long.Parse(theirs.GetAttribute("data-id")!) });
        Assert.Empty(page.FindAll("#edit-input"));
        Assert.Empty(page.FindAll(".msg-confirm"));
        // An unknown action or message does nothing.
        page.Find("#messages").TriggerEvent("onrowaction", new RowActionEventArgs { Action = "explode", Id = mine.Id });
        page.Find("#messages").TriggerEvent("onrowaction", new RowActionEventArgs { Action = "quote", Id = 987654 });
        Assert.Empty(page.FindAll("#composer-quote"));
    }

    [Fact]
    public async Task A_direct_message_whose_room_event_was_missed_is_counted_once_from_its_notice()
    {
        // Under load the drawer can start watching a new conversation's room after its first
        // messages went out: their notices must count them, and a room event plus a notice for the
        // same message must count it once.
        await using var h = await ComponentHarness.StartAsync("jun");
        var kai = await h.Core.CreateUserAsync("kai");
        var cut = h.Context.Render<ChatNav>();
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-room='lobby']")), Wait);
        var dm = await h.Core.Rooms.OpenDirectAsync(kai, "jun");
        Assert.True(dm.Ok, dm.Error?.Message);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-dm='kai']")), Wait);

        // A normal message: its room event and its notice both arrive; counted once.
        await h.Core.PostAsync(kai, dm.Value!, "first");
        cut.WaitForAssertion(() => Assert.Equal("1", cut.Find("[data-dm='kai'] .unread-badge").TextContent.Trim()), Wait);

        // A message the drawer only hears of through its notice (its room event came before it watched).
        var missedId = await h.Core.WithDbAsync(async db =>
        {
            var row = new Message { RoomId = dm.Value!.Room.Id, SenderId = kai.Id, Kind = MessageKind.Text, Text = "missed", CreatedAt = DateTimeOffset.UtcNow };
            db.Messages.Add(row);
            await db.SaveChangesAsync();
            return row.Id;
        });
        var backplane = h.Core.Services.GetRequiredService<ChatPortal.Chat.IChatBackplane>();
        var me = h.Me;
        backplane.Publish(new ChatPortal.Chat.DirectActivity(dm.Value!.Room.Id, me, new ChatPortal.Chat.DirectConversation(dm.Value!.Room, kai), missedId));
        cut.WaitForAssertion(() => Assert.Equal("2", cut.Find("[data-dm='kai'] .unread-badge").TextContent.Trim()), Wait);

        // Its late room event, and the notice again: still counted once. A last normal message shows the
        // drawer is still live (3, not 4 or 5).
        var missed = new ChatPortal.Chat.ChatMessage(missedId, dm.Value!.Room.Id, kai, MessageKind.Text, "missed", DateTimeOffset.UtcNow,
            null, null, null, null, null);
        backplane.Publish(new ChatPortal.Chat.MessagePosted(missed));
        backplane.Publish(new ChatPortal.Chat.DirectActivity(dm.Value!.Room.Id, me, new ChatPortal.Chat.DirectConversation(dm.Value!.Room, kai), missedId));
        await h.Core.PostAsync(kai, dm.Value!, "last");
        cut.WaitForAssertion(() => Assert.Equal("3", cut.Find("[data-dm='kai'] .unread-badge").TextContent.Trim()), Wait);
        await Task.Delay(300);
        Assert.Equal("3", cut.Find("[data-dm='kai'] .unread-badge").TextContent.Trim());
    }

    private static string[] Notices(IRenderedComponent<RoomPage> cut) => cut.FindAll(".notice").Select(n => n.TextContent).ToArray();

    private static void Act(Action action)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                action();
                return;
            }
            catch (Bunit.Rendering.UnknownEventHandlerIdException) when (attempt < 5)
            {
                Thread.Sleep(50);
            }
        }
    }

    [Fact]
    public async Task A_room_left_a_moment_ago_neither_ends_nor_fills_the_view_of_the_room_shown_next()
    {
        await using var h = await ComponentHarness.StartAsync("ivy");
        var lobby = await h.LobbyAsync();
        var jon = await h.Core.CreateUserAsync("jon");
        var corner = await h.Core.CreateRoomAsync("corner", isPrivate: true, h.Me, jon);
        var cut = h.Context.Render<ChatView>(p => p.Add(c => c.Room, corner).Add(c => c.Me, h.Me).Add(c => c.Title, "# corner"));
        var said = (await h.Core.Commands.PostAsync(jon, corner.Id, "in the corner")).Value!;
        cut.WaitForAssertion(() => Assert.Equal("in the corner", cut.Find(".msg .msg-text").TextContent), Wait);
        var view = cut.Instance;
        // Its read mark saved, moving on has nothing to write first (the order in which a browser met the race).
        await ReadReachesAsync(h, corner.Id, said.Id);

        // Leaving a room navigates at once, on the renderer's thread; the loss of the room and its last events come on
        // the session's thread, which still saw the old room, and reach the renderer after the view moved on.
        var moved = Task.CompletedTask;
        using var entered = new ManualResetEventSlim();
        using var proceed = new ManualResetEventSlim();
        var navigating = Task.Run(() => cut.InvokeAsync(() =>
        {
            entered.Set();
            proceed.Wait(Wait);
            moved = view.SetParametersAsync(ParameterView.FromDictionary(new Dictionary<string, object?>
            {
                [nameof(ChatView.Room)] = lobby, [nameof(ChatView.Me)] = h.Me, [nameof(ChatView.Title)] = "# Lobby",
            }));
        }));
        Assert.True(entered.Wait(Wait)); // the renderer is busy moving to the lobby
        var lost = view.OnRoomLostAsync(corner, RoomLoss.Removed);
        var late = view.OnEventAsync(new MemberRemoved(corner.Id, jon)); // jon left the corner, not the lobby
        Assert.False(lost.IsCompleted); // waiting for the renderer, behind the move
        proceed.Set();
        await navigating.WaitAsync(Wait);
        await Task.WhenAll(lost, late, moved).WaitAsync(Wait);
        await h.Core.Commands.PostAsync(jon, lobby.Id, "in the lobby 大厅");

        cut.WaitForAssertion(() => Assert.Equal("in the lobby 大厅", cut.FindAll(".msg .msg-text")[^1].TextContent), Wait);
        Assert.Equal("# Lobby", cut.Find("#room-title").TextContent);
        Assert.Empty(cut.FindAll("#room-lost"));
        Assert.NotNull(cut.Find("#composer-input")); // the lobby's view is live
        Assert.DoesNotContain(cut.FindAll(".msg .msg-text"), m => m.TextContent == "in the corner");
        Assert.DoesNotContain(cut.FindAll("#messages .notice"), n => n.TextContent.Contains("jon", StringComparison.Ordinal));
    }
}
