using System.Globalization;
using Bunit;
using ChatPortal.Components.Chat;
using ChatPortal.Components.Layout;
using ChatPortal.Chat;
using ChatPortal.Chat.Conversations;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;

namespace ChatPortal.Tests.Web;

/// <summary>
/// What every circuit keeps (issue 19, item 3): the chrome every page shows is markup, not MudBlazor components, and
/// the theme and its stylesheet are built once for the process. Same look: the markup is MudBlazor's.
/// </summary>
public sealed class CircuitFootprintTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task The_room_header_is_markup_and_its_buttons_still_work()
    {
        await using var h = await ComponentHarness.StartAsync("ivy");
        var lobby = await h.LobbyAsync();
        await h.Core.Commands.PostAsync(h.Me, lobby.Id, "hello");
        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll(".msg")), Wait);

        // No icon button, icon or text component per circuit for the header (each costs its state and two render trees).
        Assert.Empty(cut.FindComponents<MudIconButton>());
        Assert.Empty(cut.FindComponents<MudIcon>());
        Assert.Empty(cut.FindComponents<MudText>());
        // The markup MudIconButton renders: classes, label span, a small SVG icon.
        var search = cut.Find("#search-toggle");
        Assert.Equal("button", search.TagName, ignoreCase: true);
        Assert.Equal(MudMarkup.SmallIconButton, search.GetAttribute("class"));
        Assert.NotNull(search.QuerySelector("span.mud-icon-button-label > svg.mud-icon-root.mud-svg-icon.mud-icon-size-small path"));
        Assert.Equal("# Lobby", cut.Find("h6#room-title.mud-typography-h6").TextContent);

        // The buttons do what they did.
        search.Click();
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("#search-panel")), Wait);
        search.Click();
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("#search-panel")), Wait);
        Assert.DoesNotContain("open", cut.Find("#online-list").ClassList);
        cut.Find("#online-toggle").Click();
        cut.WaitForAssertion(() => Assert.Contains("open", cut.Find("#online-list").ClassList), Wait);
        Assert.Equal("1", cut.Find("#online-toggle .mud-button-label").TextContent.Trim()); // ivy herself
        Assert.Equal("false", cut.Find("#room-mute").GetAttribute("aria-pressed"));
        cut.Find("#room-mute").Click();
        cut.WaitForAssertion(() => Assert.Equal("true", cut.Find("#room-mute").GetAttribute("aria-pressed")), Wait);
        cut.Find("#pins-toggle").Click();
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("#pins-panel")), Wait);
    }

    /// <summary>
    /// The drawer's links are markup, not MudNavLinks (three components per room in every circuit, four with an unread
    /// chip): same classes, the unread chip still counts, and "active" still follows the page.
    /// </summary>
    [Fact]
    public async Task The_drawer_links_are_markup_and_still_show_unread_counts_and_the_active_room()
    {
        await using var h = await ComponentHarness.StartAsync("nia");
        var lobby = await h.LobbyAsync();
        var mo = await h.Core.CreateUserAsync("mo");
        await h.Core.Rooms.EnsureMemberAsync(lobby.Id, mo);
        var other = await h.Core.CreateRoomAsync("other", true, h.Me, mo);
        await h.Core.PostAsync(mo, other, "hi");
        var nav = h.Context.Render<ChatNav>();
        nav.WaitForAssertion(() => Assert.Equal("1", nav.Find("[data-room='other'] .mud-chip.unread-badge").TextContent), Wait);

        Assert.Empty(nav.FindComponents<MudNavLink>());
        Assert.Empty(nav.FindComponents<Microsoft.AspNetCore.Components.Routing.NavLink>());
        Assert.Empty(nav.FindComponents<MudIcon>());
        Assert.Empty(nav.FindComponents<MudChip<string>>());
        var link = nav.Find("a[data-room='other']");
        Assert.Equal("/rooms/other", link.GetAttribute("href"));
        Assert.Equal("mud-nav-item", link.ParentElement!.ClassName!.Trim());
        Assert.NotNull(link.QuerySelector("svg.mud-nav-link-icon path"));
        Assert.DoesNotContain("active", link.ClassList);

        var navigation = h.Context.Services.GetRequiredService<Microsoft.AspNetCore.Components.NavigationManager>();
        navigation.NavigateTo("/rooms/other");
        nav.WaitForAssertion(() => Assert.Contains("active", nav.Find("a[data-room='other']").ClassList), Wait);
        Assert.DoesNotContain("active", nav.Find("a[data-room='lobby']").ClassList);
        navigation.NavigateTo("/browse");
        nav.WaitForAssertion(() => Assert.Contains("active", nav.Find("#browse-rooms").ClassList), Wait);
        Assert.DoesNotContain("active", nav.Find("a[data-room='other']").ClassList);
        navigation.NavigateTo("/rooms/other-place"); // a prefix of the text, not of the path
        nav.WaitForAssertion(() => Assert.DoesNotContain("active", nav.Find("#browse-rooms").ClassList), Wait);
        Assert.DoesNotContain("active", nav.Find("a[data-room='other']").ClassList);
    }

    /// <summary>
    /// The chat layout is MudLayout's, MudAppBar's, MudDrawer's and MudMainContent's markup, not those components (each
    /// was state, two render trees and cascading values per circuit; the drawer also a browser-viewport subscription).
    /// The menu button flips the drawer on whichever screen shows it; on a narrow screen a tap on the overlay or a
    /// followed link closes it, on a wide one the drawer stays as the user left it.
    /// </summary>
    [Fact]
    public async Task The_layout_is_markup_and_the_menu_overlay_and_navigation_move_the_drawer()
    {
        await using var h = await ComponentHarness.StartAsync("uma");
        await h.LobbyAsync();
        h.Context.JSInterop.Mode = JSRuntimeMode.Loose;
        RenderFragment body = b => b.AddMarkupContent(0, "<p id=\"page-body\">page</p>");
        var cut = h.Context.Render<MainLayout>(p => p.Add(x => x.Body, body));
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("#drawer a[data-room='lobby']")), Wait);

        Assert.Empty(cut.FindComponents<MudLayout>());
        Assert.Empty(cut.FindComponents<MudAppBar>());
        Assert.Empty(cut.FindComponents<MudDrawer>());
        Assert.Empty(cut.FindComponents<MudMainContent>());
        Assert.Empty(cut.FindComponents<MudOverlay>());
        Assert.NotNull(cut.Find("header.mud-appbar.mud-appbar-dense.mud-appbar-fixed-top > .mud-toolbar.mud-toolbar-appbar #drawer-toggle"));
        Assert.NotNull(cut.Find(".mud-main-content > #page-body"));
        Assert.Equal("uma", cut.Find("#current-user").TextContent);

        string[] Layout() => [.. cut.Find(".chat-layout").ClassList];
        // Wide: open beside the page (MudBlazor's class moves the page aside); narrow: closed.
        Assert.Contains("mud-drawer-open-responsive-md-left", Layout());
        Assert.DoesNotContain("drawer-closed-wide", Layout());
        Assert.DoesNotContain("drawer-open-narrow", Layout());

        cut.Find("#drawer-toggle").Click();
        Assert.Contains("drawer-closed-wide", Layout());
        Assert.DoesNotContain("mud-drawer-open-responsive-md-left", Layout());
        Assert.Contains("drawer-open-narrow", Layout());

        // A tap on the overlay (shown on narrow screens only) closes the narrow drawer, not the wide one's state.
        cut.Find("#drawer-overlay").Click();
        Assert.DoesNotContain("drawer-open-narrow", Layout());
        Assert.Contains("drawer-closed-wide", Layout());

        cut.Find("#drawer-toggle").Click();
        Assert.Contains("drawer-open-narrow", Layout());
        Assert.Contains("mud-drawer-open-responsive-md-left", Layout());

        // Following a link closes the narrow drawer; the wide one stays open.
        h.Context.Services.GetRequiredService<Microsoft.AspNetCore.Components.NavigationManager>().NavigateTo("/browse");
        cut.WaitForAssertion(() => Assert.DoesNotContain("drawer-open-narrow", Layout()), Wait);
        Assert.Contains("mud-drawer-open-responsive-md-left", Layout());
    }

    /// <summary>
    /// The room view renders for every message; its composer and room menu, handed the same room, user, list and quote,
    /// do not render for that (StableComponentBase): each render was a second copy of their trees in every circuit and
    /// a database read for the mute notice. Their own changes, and a changed parameter, still render.
    /// </summary>
    [Fact]
    public async Task The_composer_and_the_room_menu_do_not_render_for_other_peoples_messages_but_still_for_their_own_changes()
    {
        await using var h = await ComponentHarness.StartAsync("vic");
        var lobby = await h.LobbyAsync();
        var wes = await h.Core.CreateUserAsync("wes");
        await h.Core.Rooms.EnsureMemberAsync(lobby.Id, wes);
        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        cut.WaitForAssertion(() => cut.Find("#composer-input"), Wait);
        var composer = cut.FindComponent<Composer>();
        var menu = cut.FindComponent<RoomMenu>();
        var view = cut.FindComponent<ChatView>();
        var (composerRenders, menuRenders, viewRenders) = (composer.RenderCount, menu.RenderCount, view.RenderCount);

        for (var i = 0; i < 3; i++) await h.Core.PostAsync(wes, lobby, $"message {i}");
        cut.WaitForAssertion(() => Assert.Equal(3, cut.FindAll(".msg").Count), Wait);
        Assert.True(view.RenderCount > viewRenders);
        Assert.Equal(composerRenders, composer.RenderCount);
        Assert.Equal(menuRenders, menu.RenderCount);

        // Their own changes render: "@" in the composer offers people, the menu's mute button flips.
        cut.Find("#composer-input").Input("@we");
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("#mention-menu [data-user='wes']")), Wait);
        cut.Find("#room-mute").Click();
        cut.WaitForAssertion(() => Assert.Equal("true", cut.Find("#room-mute").GetAttribute("aria-pressed")), Wait);

        // A changed parameter renders: a quote-reply reaches the composer (its next message quotes it).
        var renders = composer.RenderCount;
        cut.Find(".msg .msg-quote").Act();
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("#composer-quote")), Wait);
        cut.WaitForAssertion(() => Assert.True(composer.RenderCount > renders), Wait);
    }

    /// <summary>A message row's button texts are looked up once per language for all circuits, and each view still gets its own language.</summary>
    [Fact]
    public async Task Message_row_texts_are_shared_per_language_and_each_view_shows_its_own()
    {
        var before = CultureInfo.CurrentUICulture;
        try
        {
            static string[] Titles(IRenderedComponent<RoomPage> cut) =>
                [.. cut.Find(".msg").QuerySelectorAll(".msg-action").Select(b => b.GetAttribute("title")!)];
            async Task<string[]> RowTitlesIn(string culture, string user)
            {
                await using var h = await ComponentHarness.StartAsync(user);
                var lobby = await h.LobbyAsync();
                await h.Core.Commands.PostAsync(h.Me, lobby.Id, "你好 hello");
                CultureInfo.CurrentUICulture = CultureInfo.GetCultureInfo(culture);
                var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
                cut.WaitForAssertion(() => Assert.Single(cut.FindAll(".msg")), Wait);
                return Titles(cut);
            }

            Assert.Equal(["回复", "在话题中回复", "添加表情回应", "置顶"], (await RowTitlesIn("zh-CN", "ada"))[..4]);
            Assert.Equal(["Reply", "Reply in thread", "Add reaction", "Pin", "Save for later", "Edit", "Delete"], await RowTitlesIn("en", "bo"));
            Assert.Equal("回复", (await RowTitlesIn("zh-CN", "cy"))[0]);
        }
        finally
        {
            CultureInfo.CurrentUICulture = before;
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Every_circuit_shares_one_theme_and_stylesheet_and_renders_what_MudThemeProvider_renders(bool dark)
    {
        await using var first = await ComponentHarness.StartAsync("jay");
        await using var second = await ComponentHarness.StartAsync("kim");
        var a = first.Context.Render<SharedThemeProvider>(p => p.Add(x => x.IsDarkMode, dark));
        var b = second.Context.Render<SharedThemeProvider>(p => p.Add(x => x.IsDarkMode, dark));
        var mud = first.Context.Render<MudThemeProvider>(p => p.Add(x => x.IsDarkMode, dark));

        Assert.Same(a.Instance.Theme, b.Instance.Theme);
        Assert.Equal(mud.Markup, a.Markup);
        Assert.Equal(a.Markup, b.Markup);
        Assert.Contains(":root", a.Markup);
        Assert.Contains(dark ? "--mud-native-html-color-scheme: dark" : "--mud-native-html-color-scheme: light", a.Markup);
    }

    [Fact]
    public async Task A_room_view_keeps_only_the_read_cursors_of_readers_of_my_messages_and_seen_by_still_counts_them()
    {
        await using var h = await ComponentHarness.StartAsync("lea");
        var lobby = await h.LobbyAsync();
        var receipts = h.Core.Services.GetRequiredService<ReadReceipts>();
        var others = new List<UserRef>();
        foreach (var name in new[] { "max", "nia", "oli", "pat" })
        {
            var u = await h.Core.CreateUserAsync(name);
            await h.Core.Rooms.EnsureMemberAsync(lobby.Id, u);
            others.Add(u);
        }
        var before = (await h.Core.Commands.PostAsync(others[0], lobby.Id, "before")).Value!;
        foreach (var u in others) await receipts.MarkReadAsync(u, lobby.Id, before.Id);

        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll(".msg")), Wait);
        var view = cut.FindComponent<ChatView>().Instance;
        // Four members have read the room, but no message of mine is on screen: their cursors cannot change it.
        cut.WaitForAssertion(() => Assert.Equal(0, view.CursorsKept), Wait);

        // My message: its readers are kept and counted, the others not.
        var mine = (await h.Core.Commands.PostAsync(h.Me, lobby.Id, "anyone?")).Value!;
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll(".msg").Count), Wait);
        await receipts.MarkReadAsync(others[2], lobby.Id, mine.Id);
        await receipts.MarkReadAsync(others[3], lobby.Id, mine.Id);
        cut.WaitForAssertion(() => Assert.Equal("Seen by 2", cut.Find(".msg-seen").TextContent), Wait);
        Assert.Equal("oli, pat", cut.Find(".msg-seen").GetAttribute("title"));
        Assert.Equal(2, view.CursorsKept);

        // The page opened again reads the same from the store: the readers of my message only.
        await h.Context.DisposeComponentsAsync();
        var again = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        again.WaitForAssertion(() => Assert.Equal("Seen by 2", again.Find(".msg-seen").TextContent), Wait);
        Assert.Equal(2, again.FindComponent<ChatView>().Instance.CursorsKept);
    }

    [Fact]
    public async Task The_mention_candidates_are_one_live_list_not_a_copy_per_render()
    {
        await using var h = await ComponentHarness.StartAsync("quin");
        var lobby = await h.LobbyAsync();
        var rex = await h.Core.CreateUserAsync("rex");
        await h.Core.Rooms.EnsureMemberAsync(lobby.Id, rex);
        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        cut.WaitForAssertion(() => cut.Find("#composer-input"), Wait);
        var composer = cut.FindComponent<Composer>();
        var first = composer.Instance.Candidates;

        // Each message re-renders the view; the composer keeps the same list (it was an array of everyone per render).
        await h.Core.Commands.PostAsync(rex, lobby.Id, "one");
        await h.Core.Commands.PostAsync(rex, lobby.Id, "two");
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll(".msg").Count), Wait);
        Assert.Same(first, composer.Instance.Candidates);

        // It is still what "@" offers: members, whoever is online, the bots.
        Assert.Contains(first, u => u.Name == "rex");
        Assert.Contains(first, u => u.Name == "quin");
        Assert.Equal(first.Count, first.Count());
        cut.Find("#composer-input").Input("hi @re");
        cut.WaitForAssertion(() => Assert.Equal(["rex"], composer.Instance.Suggestions!.Select(u => u.Name)), Wait);
    }

    [Fact]
    public async Task A_room_view_closing_after_its_circuit_does_not_open_a_new_session()
    {
        await using var h = await ComponentHarness.StartAsync("sam");
        var lobby = await h.LobbyAsync();
        await h.Core.Commands.PostAsync(h.Me, lobby.Id, "hi");
        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll(".msg")), Wait);
        var circuit = h.Context.Services.GetRequiredService<ChatCircuit>();
        Assert.NotNull(circuit.Current);

        // The circuit closes (its handler disposes the tab's link first), then the renderer disposes the components.
        await circuit.DisposeAsync();
        Assert.Null(circuit.Current);
        await h.Context.DisposeComponentsAsync();
        Assert.Null(circuit.Current); // leaving the room opened no session nobody would dispose
    }

    [Fact]
    public async Task Views_of_a_room_opened_together_share_one_member_list()
    {
        var core = await CoreHarness.StartAsync();
        await using var first = await ComponentHarness.StartAsync("tia", core);
        var second = await ComponentHarness.StartAsync("uma", core); // same core: only its components are disposed here
        try
        {
            var lobby = await first.LobbyAsync();
            await core.Rooms.EnsureMemberAsync(lobby.Id, first.Me);
            await core.Rooms.EnsureMemberAsync(lobby.Id, second.Me);
            var a = first.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
            var b = second.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
            a.WaitForAssertion(() => Assert.Contains(a.FindComponent<ChatView>().Instance.Members, u => u.Name == "uma"), Wait);
            b.WaitForAssertion(() => Assert.Contains(b.FindComponent<ChatView>().Instance.Members, u => u.Name == "tia"), Wait);
            // One list (and one query) for both circuits, not a copy each.
            Assert.Same(a.FindComponent<ChatView>().Instance.Members, b.FindComponent<ChatView>().Instance.Members);
        }
        finally
        {
            await second.Context.DisposeAsync();
        }
    }
}
