using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatPortal.Tests.Conversations;

/// <summary>
/// Issue 15's first half in Chromium, person by person: reactions, threads, pins and read receipts, each seen live
/// in another person's tab, with the docs' screenshots (desktop and a 390 px phone).
/// </summary>
public sealed class ConversationFlowBrowserTests(ConversationPortalFixture f) : IClassFixture<ConversationPortalFixture>, IAsyncDisposable
{
    private readonly List<IBrowserContext> _opened = [];

    private Task<IPage> OpenAsync(string name, string path = "/rooms/lobby", int width = 1280, int height = 800, string locale = "en-US") =>
        ConversationPages.OpenAsync(f, name, path, width, height, locale, _opened);

    public ValueTask DisposeAsync() => ConversationPages.CloseAllAsync(_opened);

    /// <summary>A message's hover actions (↩ 💬 ☺ 📌 🔖) show on hover, as for a person with a mouse.</summary>
    private static async Task ClickActionAsync(ILocator message, string action)
    {
        await message.HoverAsync();
        await message.Locator(action).ClickAsync();
    }

    private static async Task PhoneShotAsync(IPage phone, string file)
    {
        // The page itself never scrolls sideways on a phone.
        Assert.True(await phone.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"));
        await phone.ScreenshotAsync(new() { Path = Path.Combine(ConversationPages.ScreenshotFolder(), file) });
    }

    [Fact]
    public async Task A_reaction_added_through_the_picker_shows_live_in_another_tab_with_who_reacted_and_a_chip_click_toggles_it()
    {
        var alice = await OpenAsync("alice-rx");
        var bob = await OpenAsync("bob-rx");
        await ConversationPages.SayAsync(alice, "Lunch at noon? rx-lunch", "rx-lunch");

        // Bob reacts through the picker: the quick row, then the full emoji panel.
        var bobMsg = bob.Locator(".msg", new() { HasText = "rx-lunch" });
        await ClickActionAsync(bobMsg, ".msg-react");
        await bobMsg.Locator("#reaction-picker .quick-reaction[title='🎉']").ClickAsync();
        await Expect(bobMsg.Locator("#reaction-picker")).ToHaveCountAsync(0);
        await Expect(bobMsg.Locator(".reaction[data-emoji='🎉']")).ToHaveAttributeAsync("aria-pressed", "true");
        await ClickActionAsync(bobMsg, ".msg-react");
        await bobMsg.Locator("#emoji-panel button.emoji").First.ClickAsync();
        await Expect(bobMsg.Locator(".reaction")).ToHaveCountAsync(2);
        var second = await bobMsg.Locator(".reaction").Nth(1).GetAttributeAsync("data-emoji");

        // Alice's tab sees both live, with who reacted on hover (the title), and neither is hers.
        var aliceMsg = alice.Locator(".msg", new() { HasText = "rx-lunch" });
        var party = aliceMsg.Locator(".reaction[data-emoji='🎉']");
        await Expect(party).ToHaveTextAsync("🎉 1");
        await Expect(party).ToHaveAttributeAsync("title", "bob-rx reacted with 🎉");
        await Expect(party).ToHaveAttributeAsync("aria-pressed", "false");
        await Expect(aliceMsg.Locator($".reaction[data-emoji='{second}']")).ToHaveTextAsync($"{second} 1");

        // Her click on the chip adds hers; Bob's tab sees the count and the names change.
        await party.ClickAsync();
        await Expect(party).ToHaveAttributeAsync("aria-pressed", "true");
        await Expect(party).ToHaveTextAsync("🎉 2");
        var bobParty = bobMsg.Locator(".reaction[data-emoji='🎉']");
        await Expect(bobParty).ToHaveTextAsync("🎉 2");
        await Expect(bobParty).ToHaveAttributeAsync("title", new System.Text.RegularExpressions.Regex("^(you, alice-rx|alice-rx, you) reacted with 🎉$"));

        // A second click takes hers back, in both tabs; Bob's stays.
        await party.ClickAsync();
        await Expect(party).ToHaveTextAsync("🎉 1");
        await Expect(party).ToHaveAttributeAsync("aria-pressed", "false");
        await Expect(bobParty).ToHaveTextAsync("🎉 1");
        await using (var db = f.Portal.OpenDb())
            Assert.Equal(2, await db.Reactions.CountAsync(r => db.Messages.Any(m => m.Id == r.MessageId && m.Text.Contains("rx-lunch"))));

        // Screenshots: Bob's view with the picker open, and a phone.
        await ClickActionAsync(bobMsg, ".msg-react");
        await Expect(bobMsg.Locator("#reaction-picker")).ToBeVisibleAsync();
        await bob.ScreenshotAsync(new() { Path = Path.Combine(ConversationPages.ScreenshotFolder(), "reactions.png") });
        var phone = await OpenAsync("carol-rx", width: 390, height: 844, locale: "zh-CN");
        await Expect(phone.Locator(".msg", new() { HasText = "rx-lunch" }).Locator(".reaction")).ToHaveCountAsync(2);
        await PhoneShotAsync(phone, "reactions-phone.png");
        foreach (var p in new[] { phone, alice, bob }) await p.Context.CloseAsync();
    }

    [Fact]
    public async Task A_thread_reply_stays_out_of_the_room_also_send_to_room_shows_in_it_and_a_follower_sees_the_unread_count()
    {
        var alice = await OpenAsync("alice-th");
        var bob = await OpenAsync("bob-th");
        await ConversationPages.SayAsync(alice, "Release plan for Friday th-root", "th-root");

        // Bob opens the thread and replies there only.
        var bobRoot = bob.Locator(".msg", new() { HasText = "th-root" });
        await ClickActionAsync(bobRoot, ".msg-thread");
        var panel = bob.Locator("#thread-panel");
        await Expect(panel.Locator(".thread-root")).ToContainTextAsync("th-root");
        await bob.FillAsync("#thread-input", "I will test it th-only");
        await bob.ClickAsync("#thread-send");
        await Expect(panel.Locator(".thread-item", new() { HasText = "th-only" })).ToHaveCountAsync(1);
        await Expect(bob.Locator("#thread-follow")).ToHaveTextAsync("Unfollow"); // replying follows

        // Alice (the first message's author, so a follower): the count under her message and the Threads badge, not the reply.
        var aliceRoot = alice.Locator(".msg", new() { HasText = "th-root" });
        await Expect(aliceRoot.Locator(".msg-thread-summary .thread-count")).ToHaveTextAsync("1 replies");
        await Expect(alice.Locator(".threads-badge")).ToContainTextAsync("1");
        Assert.Equal(0, await alice.Locator("#messages .msg", new() { HasText = "th-only" }).CountAsync());
        await alice.ClickAsync("#threads-toggle");
        var entry = alice.Locator("#threads-panel .thread-entry", new() { HasText = "th-root" });
        await Expect(entry.Locator(".thread-unread")).ToHaveTextAsync("1");

        // "Also send to the room": this reply shows in the room as well, marked as a thread reply.
        await bob.CheckAsync("#thread-also");
        await bob.FillAsync("#thread-input", "Friday works th-also");
        await bob.ClickAsync("#thread-send");
        var inRoom = alice.Locator("#messages .msg", new() { HasText = "th-also" });
        await Expect(inRoom.Locator(".msg-in-thread")).ToBeVisibleAsync();
        await Expect(aliceRoot.Locator(".msg-thread-summary .thread-count")).ToHaveTextAsync("2 replies");
        await Expect(entry.Locator(".thread-unread")).ToHaveTextAsync("2");
        Assert.Equal(0, await alice.Locator("#messages .msg", new() { HasText = "th-only" }).CountAsync());

        // Alice opens the thread from the Threads view: both replies, and nothing unread any more.
        await entry.GetByRole(AriaRole.Button).ClickAsync();
        await Expect(alice.Locator("#thread-panel .thread-item")).ToHaveCountAsync(3);
        await alice.ClickAsync("#threads-toggle");
        await Expect(alice.Locator("#threads-panel .thread-entry", new() { HasText = "th-root" }).Locator(".thread-unread")).ToHaveCountAsync(0);

        await ClickActionAsync(bob.Locator(".msg", new() { HasText = "th-root" }), ".msg-thread");
        await Expect(panel.Locator(".thread-item")).ToHaveCountAsync(3);
        await bob.ScreenshotAsync(new() { Path = Path.Combine(ConversationPages.ScreenshotFolder(), "threads.png") });
        var phone = await OpenAsync("carol-th", width: 390, height: 844, locale: "zh-CN");
        await phone.Locator(".msg", new() { HasText = "th-root" }).Locator(".msg-thread-summary").ClickAsync();
        await Expect(phone.Locator("#thread-panel .thread-item")).ToHaveCountAsync(3);
        await PhoneShotAsync(phone, "threads-phone.png");
        foreach (var p in new[] { phone, alice, bob }) await p.Context.CloseAsync();
    }

    [Fact]
    public async Task A_pin_shows_live_in_another_tabs_pins_panel_and_posts_nothing()
    {
        var alice = await OpenAsync("alice-pin");
        var bob = await OpenAsync("bob-pin");
        await ConversationPages.SayAsync(alice, "Wi-Fi password is on the board pin-wifi", "pin-wifi");
        await Expect(bob.Locator(".msg", new() { HasText = "pin-wifi" })).ToHaveCountAsync(1);
        int posts;
        await using (var db = f.Portal.OpenDb()) posts = await db.Messages.CountAsync(m => m.Kind == Data.MessageKind.Text || m.Kind == Data.MessageKind.Image);
        var shownBefore = await bob.Locator("#messages .msg").CountAsync();

        // Bob has the pins panel open; Alice pins.
        await bob.ClickAsync("#pins-toggle");
        await Expect(bob.Locator("#pins-panel")).ToBeVisibleAsync();
        await ClickActionAsync(alice.Locator(".msg", new() { HasText = "pin-wifi" }), ".msg-pin");
        await Expect(bob.Locator("#pins-panel .panel-item", new() { HasText = "pin-wifi" })).ToHaveCountAsync(1);
        await Expect(bob.Locator(".msg", new() { HasText = "pin-wifi" }).Locator(".msg-pinned")).ToBeVisibleAsync();
        await Expect(alice.Locator(".msg", new() { HasText = "pin-wifi" }).Locator(".msg-pinned")).ToBeVisibleAsync();

        // Pinning it again (a v1 client) changes nothing and announces nothing; no message is posted either way.
        await using (var ws = await f.Portal.MemberSocketAsync(PortalHelpers.UniqueName("pinner")))
        {
            var id = long.Parse(await bob.Locator(".msg", new() { HasText = "pin-wifi" }).GetAttributeAsync("data-id") ?? "0");
            var again = await ws.RequestAsync("pin", ("message_id", id));
            Assert.Equal("false", again.Get("changed"));
        }
        Assert.Equal(shownBefore, await bob.Locator("#messages .msg").CountAsync());
        await Expect(bob.Locator("#pins-panel .panel-item", new() { HasText = "pin-wifi" })).ToHaveCountAsync(1);
        await using (var db = f.Portal.OpenDb())
        {
            Assert.Equal(posts, await db.Messages.CountAsync(m => m.Kind == Data.MessageKind.Text || m.Kind == Data.MessageKind.Image)); // no post
            Assert.Equal(1, await db.Messages.CountAsync(m => m.Text.Contains("pin-wifi")));
        }

        await bob.ScreenshotAsync(new() { Path = Path.Combine(ConversationPages.ScreenshotFolder(), "pins.png") });
        var phone = await OpenAsync("carol-pin", width: 390, height: 844, locale: "zh-CN");
        await phone.ClickAsync("#pins-toggle");
        await Expect(phone.Locator("#pins-panel .panel-item", new() { HasText = "pin-wifi" })).ToBeVisibleAsync();
        await PhoneShotAsync(phone, "pins-phone.png");
        foreach (var p in new[] { phone, alice, bob }) await p.Context.CloseAsync();
    }

    [Fact]
    public async Task Receipts_show_one_then_two_ticks_in_a_direct_message_and_seen_by_in_a_room_and_the_opt_out_hides_a_reader()
    {
        var bob = await OpenAsync("bob-rr");
        var alice = await OpenAsync("alice-rr", "/dm/bob-rr");

        // A direct message Bob has not opened: one tick.
        await ConversationPages.SayAsync(alice, "Are you coming? rr-dm", "rr-dm");
        var tick = alice.Locator(".msg", new() { HasText = "rr-dm" }).Locator(".msg-receipt");
        await Expect(tick).ToHaveTextAsync("✓");
        await Expect(tick).ToHaveAttributeAsync("title", "Sent");
        // Bob opens it (a visible, focused tab): two ticks for Alice, live.
        await bob.GotoAsync("/dm/alice-rr");
        await bob.WaitForCircuitAsync();
        await Expect(bob.Locator(".msg", new() { HasText = "rr-dm" })).ToHaveCountAsync(1);
        await Expect(tick).ToHaveTextAsync("✓✓");
        await Expect(tick).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("msg-receipt-read"));
        await alice.ScreenshotAsync(new() { Path = Path.Combine(ConversationPages.ScreenshotFolder(), "receipts-dm.png") });

        // A room: Bob and Carol read Alice's message; "Seen by 2", the names on hover.
        var carol = await OpenAsync("carol-rr");
        await bob.GotoAsync("/rooms/lobby");
        await bob.WaitForCircuitAsync();
        await alice.GotoAsync("/rooms/lobby");
        await alice.WaitForCircuitAsync();
        await ConversationPages.SayAsync(alice, "Slides are up rr-room", "rr-room");
        var seen = alice.Locator(".msg", new() { HasText = "rr-room" }).Locator(".msg-seen");
        await Expect(seen).ToHaveTextAsync("Seen by 2");
        await Expect(seen).ToHaveAttributeAsync("title", "bob-rr, carol-rr");
        await alice.ScreenshotAsync(new() { Path = Path.Combine(ConversationPages.ScreenshotFolder(), "receipts.png") });

        // Carol hides her read receipts: she is left out of every list (a fresh view, and new reads are not announced).
        await carol.GotoAsync("/account/notifications");
        await carol.WaitForFunctionAsync("() => window.chatPortalCircuitUp === true && document.querySelector('#read-receipts-setting')", null, new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        var hide = carol.Locator("#read-receipts-setting input[type=checkbox]");
        await hide.CheckAsync();
        await Expect(hide).ToBeCheckedAsync();
        await PollAsync(async () =>
        {
            await using var db = f.Portal.OpenDb();
            return await db.ReadReceiptOptOuts.AnyAsync(o => db.Users.Any(u => u.Id == o.UserId && u.Name == "carol-rr"));
        });
        await alice.ReloadAsync();
        await alice.WaitForCircuitAsync();
        await Expect(seen).ToHaveTextAsync("Seen by 1");
        await Expect(seen).ToHaveAttributeAsync("title", "bob-rr");
        await ConversationPages.SayAsync(alice, "One more thing rr-later", "rr-later");
        await carol.GotoAsync("/rooms/lobby");
        await carol.WaitForCircuitAsync();
        await Expect(carol.Locator(".msg", new() { HasText = "rr-later" })).ToHaveCountAsync(1);
        var later = alice.Locator(".msg", new() { HasText = "rr-later" }).Locator(".msg-seen");
        await Expect(later).ToHaveTextAsync("Seen by 1"); // Bob's tab is open: him, never Carol
        await Expect(later).ToHaveAttributeAsync("title", "bob-rr");
        await using (var db = f.Portal.OpenDb())
        {
            // Carol did read it (her cursor moved; unread counts need it), it is only not shown.
            var laterId = await db.Messages.Where(m => m.Text.Contains("rr-later")).Select(m => m.Id).SingleAsync();
            await PollAsync(async () =>
            {
                await using var check = f.Portal.OpenDb();
                return await check.RoomMembers.AnyAsync(m => m.LastReadMessageId >= laterId && check.Users.Any(u => u.Id == m.UserId && u.Name == "carol-rr"));
            });
        }
        await Expect(later).ToHaveTextAsync("Seen by 1");

        // The phone picture is Alice's direct message on a phone.
        var alicePhone = await OpenAsync("alice-rr", "/dm/bob-rr", width: 390, height: 844, locale: "zh-CN");
        await Expect(alicePhone.Locator(".msg", new() { HasText = "rr-dm" }).Locator(".msg-receipt")).ToHaveTextAsync("✓✓");
        await PhoneShotAsync(alicePhone, "receipts-phone.png");
        foreach (var p in new[] { alicePhone, carol, alice, bob }) await p.Context.CloseAsync();
    }

    /// <summary>Waits (bounded) for a stored state that has no view of its own.</summary>
    private static async Task PollAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The condition did not hold within 20 s.");
            await Task.Delay(100);
        }
    }
}
