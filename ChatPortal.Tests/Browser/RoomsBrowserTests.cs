using System.Text.RegularExpressions;
using ChatPortal.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatPortal.Tests.Browser;

/// <summary>Issue 21 item 4: rooms users create, browse, join, leave and mute; group conversations; a live drawer; empty states.</summary>
public sealed class RoomsBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private static async Task OpenBrowseAsync(IPage page)
    {
        await page.Locator("#browse-rooms").ClickAsync();
        await Expect(page.Locator(".browse-page[data-interactive='true']")).ToHaveCountAsync(1);
    }

    [Fact]
    public async Task Users_create_browse_join_leave_and_mute_rooms_and_every_drawer_follows_without_a_reload()
    {
        await using var portal = await PortalProcess.StartAsync();
        await using var aliceContext = await browser.NewContextAsync(portal.BaseUri);
        await using var bobContext = await browser.NewContextAsync(portal.BaseUri, locale: "zh-CN");
        var alice = await aliceContext.NewPageAsync();
        var bob = await bobContext.NewPageAsync();
        await alice.SignInAsync("Alice", "secret-alice", "/rooms/lobby");
        await alice.WaitForChatAsync("# Lobby");
        await bob.SignInAsync("Bob", "secret-bob", "/rooms/lobby");
        await bob.WaitForChatAsync("# Lobby");
        // Bob's second tab, to see that his leaving elsewhere reaches it too.
        var bob2 = await bobContext.NewPageAsync();
        await bob2.GotoAsync("/rooms/lobby");
        await bob2.WaitForChatAsync("# Lobby");
        // The default room cannot be left.
        await Expect(alice.Locator("#room-mute")).ToBeVisibleAsync();
        await Expect(alice.Locator("#room-leave")).ToHaveCountAsync(0);

        // Alice creates a public room: she lands in it, it is empty and says so, and Bob's drawers list it at once.
        await OpenBrowseAsync(alice);
        await alice.FillAsync("#new-room-name", "Book Club");
        await alice.FillAsync("#new-room-topic", "Reading together");
        await alice.ClickAsync("#new-room-create");
        await alice.WaitForChatAsync("# Book Club");
        await Expect(alice).ToHaveURLAsync(new Regex("/rooms/book-club$"));
        await Expect(alice.Locator("#empty-room")).ToContainTextAsync("No messages yet.");
        await Expect(alice.Locator("[data-room='book-club']")).ToBeVisibleAsync();
        await Expect(bob.Locator("[data-room='book-club']")).ToBeVisibleAsync();
        await Expect(bob2.Locator("[data-room='book-club']")).ToBeVisibleAsync();
        await alice.SendAsync("first post");
        await Expect(alice.Locator("#empty-room")).ToHaveCountAsync(0);

        // A private room is listed only for its creator, and not in the room browser.
        await OpenBrowseAsync(alice);
        await alice.FillAsync("#new-room-name", "Secret plans");
        await alice.CheckAsync("#new-room-private");
        await alice.ClickAsync("#new-room-create");
        await alice.WaitForChatAsync("# Secret plans");
        await Expect(alice.Locator("[data-room='secret-plans']")).ToBeVisibleAsync();
        await alice.Locator("[data-room='book-club']").ClickAsync();
        await alice.WaitForChatAsync("# Book Club");

        // Bob browses (in Chinese): member counts, a join button, no private room, an empty search says so.
        await OpenBrowseAsync(bob);
        var club = bob.Locator("[data-browse-room='book-club']");
        await Expect(club).ToContainTextAsync("Reading together");
        await Expect(club.Locator(".browse-members")).ToHaveTextAsync("1 位成员");
        await Expect(bob.Locator("[data-browse-room='secret-plans']")).ToHaveCountAsync(0);
        await Expect(bob.Locator("[data-room='secret-plans']")).ToHaveCountAsync(0);
        await bob.FillAsync("#browse-search", "zzz-nothing");
        await Expect(bob.Locator("#browse-empty")).ToHaveTextAsync("没有符合搜索的聊天室。");
        await bob.FillAsync("#browse-search", "book");
        await club.Locator(".browse-join").ClickAsync();
        await bob.WaitForChatAsync("# Book Club");
        await Expect(bob.Locator(".msg .msg-text").Last).ToHaveTextAsync("first post");
        await Expect(alice.Locator("#messages .notice").Last).ToHaveTextAsync("Bob joined");

        // Bob mutes the room: his drawer marks it, and it stays muted after a reload.
        await bob.ClickAsync("#room-mute");
        await Expect(bob.Locator("[data-room='book-club'] .muted-mark")).ToBeVisibleAsync();
        await Expect(bob.Locator("#room-mute")).ToHaveAttributeAsync("aria-pressed", "true");
        await bob.ReloadAsync();
        await bob.WaitForChatAsync("# Book Club");
        await Expect(bob.Locator("[data-room='book-club'] .muted-mark")).ToBeVisibleAsync();
        await Expect(bob.Locator("#room-mute")).ToHaveAttributeAsync("aria-pressed", "true");
        await Expect(bob.Locator("[data-room='lobby'] .muted-mark")).ToHaveCountAsync(0);

        // Bob leaves: back to the lobby, the room goes from both his tabs' drawers, Alice is told.
        await bob.ClickAsync("#room-leave");
        await bob.ClickAsync("#room-leave-confirm");
        await bob.WaitForChatAsync("# Lobby");
        await Expect(bob.Locator("[data-room='book-club']")).ToHaveCountAsync(0);
        await Expect(bob2.Locator("[data-room='book-club']")).ToHaveCountAsync(0);
        await Expect(alice.Locator("#messages .notice").Last).ToHaveTextAsync("Bob left the room");
        await bob.ReloadAsync();
        await bob.WaitForChatAsync("# Lobby");
        await Expect(bob.Locator("[data-room='book-club']")).ToHaveCountAsync(0);
        // The browser offers it again, with Alice alone in it.
        await OpenBrowseAsync(bob);
        await Expect(club.Locator(".browse-members")).ToHaveTextAsync("1 位成员");
        await Expect(club.Locator(".browse-join")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task A_new_direct_message_and_a_group_conversation_show_up_in_every_participants_drawer_at_once()
    {
        await using var portal = await PortalProcess.StartAsync();
        var pages = new Dictionary<string, IPage>();
        var contexts = new List<IBrowserContext>();
        try
        {
            foreach (var name in new[] { "Alice", "Bob", "Carol" })
            {
                var context = await browser.NewContextAsync(portal.BaseUri);
                contexts.Add(context);
                var page = await context.NewPageAsync();
                await page.SignInAsync(name, $"secret-{name.ToLowerInvariant()}", "/rooms/lobby");
                await page.WaitForChatAsync("# Lobby");
                pages[name] = page;
            }
            var (alice, bob, carol) = (pages["Alice"], pages["Bob"], pages["Carol"]);

            // Alice starts a conversation with Bob: it is in her own drawer at once (and in his), and empty says so.
            await alice.Locator("#online-list a[data-user='Bob']").ClickAsync();
            await alice.WaitForChatAsync("@ Bob");
            await Expect(alice.Locator("#empty-room")).ToContainTextAsync("only the two of you");
            await Expect(alice.Locator("[data-dm='Bob']")).ToBeVisibleAsync();
            await Expect(bob.Locator("[data-dm='Alice']")).ToBeVisibleAsync();
            await Expect(carol.Locator("[data-dm='Alice']")).ToHaveCountAsync(0);

            // A group conversation with Bob and Carol.
            await OpenBrowseAsync(alice);
            await alice.FillAsync("#group-names", "Bob, Carol");
            await alice.ClickAsync("#group-start");
            await alice.WaitForChatAsync("# Alice, Bob, Carol");
            await Expect(alice).ToHaveURLAsync(new Regex("/rooms/gdm-[0-9a-f]{12}$"));
            var slug = alice.Url[(alice.Url.LastIndexOf('/') + 1)..];
            await Expect(alice.Locator("#empty-room")).ToBeVisibleAsync();
            await Expect(bob.Locator($"[data-group='{slug}']")).ToBeVisibleAsync();
            await Expect(carol.Locator($"[data-group='{slug}']")).ToBeVisibleAsync();
            await Expect(bob.Locator($"[data-room='{slug}']")).ToHaveCountAsync(0); // with the conversations, not the rooms

            await carol.Locator($"[data-group='{slug}']").ClickAsync();
            await carol.WaitForChatAsync("# Alice, Bob, Carol");
            await carol.SendAsync("hi both 你们好");
            await Expect(alice.Locator(".msg .msg-text").Last).ToHaveTextAsync("hi both 你们好");
            await Expect(bob.Locator($"[data-group='{slug}'] .unread-badge")).ToHaveTextAsync("1");

            // Someone who is not in it gets nothing by its address.
            await using var eveContext = await browser.NewContextAsync(portal.BaseUri);
            var eve = await eveContext.NewPageAsync();
            await eve.SignInAsync("Eve", "secret-eve", $"/rooms/{slug}");
            await Expect(eve.Locator("#room-error")).ToBeVisibleAsync();
            await Expect(eve.Locator("#messages")).ToHaveCountAsync(0);

            // Carol leaves the group: it goes from her drawer; the others are told.
            await carol.ClickAsync("#room-leave");
            await carol.ClickAsync("#room-leave-confirm");
            await carol.WaitForChatAsync("# Lobby");
            await Expect(carol.Locator($"[data-group='{slug}']")).ToHaveCountAsync(0);
            await Expect(alice.Locator("#messages .notice").Last).ToHaveTextAsync("Carol left the room");
        }
        finally
        {
            foreach (var c in contexts) await c.DisposeAsync();
        }
    }
}
