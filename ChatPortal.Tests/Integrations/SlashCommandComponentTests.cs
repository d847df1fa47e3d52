using System.Globalization;
using Bunit;
using ChatPortal.Chat;
using ChatPortal.Components.Chat;
using ChatPortal.Tests.Infrastructure;
using Microsoft.AspNetCore.Components;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Integrations;

/// <summary>bUnit over the real core: the composer's command autocomplete, /me in the view, replies only the caller sees (issue 16).</summary>
public sealed class SlashCommandComponentTests : IAsyncLifetime
{
    private CoreHarness _h = default!;
    private BunitContext _ctx = default!;
    private CultureInfo _culture = default!;

    public async ValueTask InitializeAsync()
    {
        _culture = CultureInfo.CurrentUICulture;
        CultureInfo.CurrentUICulture = CultureInfo.GetCultureInfo("en");
        _h = await CoreHarness.StartAsync();
        _ctx = ComponentServices.NewContext(_h);
        _ctx.SetRendererInfo(new RendererInfo("Server", isInteractive: true));
    }

    public async ValueTask DisposeAsync()
    {
        await _ctx.DisposeAsync();
        await _h.DisposeAsync();
        CultureInfo.CurrentUICulture = _culture;
    }

    [Fact]
    public async Task Typing_a_slash_offers_the_commands_and_picking_one_completes_it()
    {
        var me = await _h.CreateUserAsync("cora");
        var room = await _h.CreateRoomAsync("complete");
        var cut = _ctx.Render<Composer>(p => p.Add(c => c.Room, room).Add(c => c.Me, me));

        await cut.InvokeAsync(() => cut.Find("#composer-input").Input("/"));
        var all = cut.FindAll(".command-item").Select(e => e.GetAttribute("data-command")).ToList();
        Assert.Equal(["me", "topic", "invite", "leave", "mute", "unmute", "help"], all);
        await cut.InvokeAsync(() => cut.Find("#composer-input").Input("/mu"));
        Assert.Equal(["mute"], cut.FindAll(".command-item").Select(e => e.GetAttribute("data-command")).ToList());
        Assert.Contains("No notifications from this room.", cut.Find(".command-item").TextContent);
        await cut.InvokeAsync(() => cut.Find(".command-item").Click());
        Assert.Equal("/mute ", cut.Instance.Draft);
        Assert.Empty(cut.FindAll(".command-item")); // a space ends the command's name
        await cut.InvokeAsync(() => cut.Find("#composer-input").Input("//not a command"));
        Assert.Empty(cut.FindAll(".command-item"));
    }

    [Fact]
    public async Task Me_is_shown_as_an_action_an_unknown_command_keeps_the_text_and_help_is_shown_only_to_the_caller()
    {
        var me = await _h.CreateUserAsync("alice");
        var other = await _h.CreateUserAsync("oscar");
        var room = await _h.CreateRoomAsync("actions");
        var view = _ctx.Render<ChatView>(p => p.Add(c => c.Room, room).Add(c => c.Me, me));
        var composer = view.FindComponent<Composer>();

        await view.InvokeAsync(() => view.Find("#composer-input").Input("/me waves"));
        await view.InvokeAsync(() => view.Find("#send-button").Click());
        view.WaitForAssertion(() => Assert.Equal("* alice waves", view.Find(".msg-me").TextContent.Trim()));
        view.WaitForAssertion(() => Assert.Equal("", composer.Instance.Draft));

        await view.InvokeAsync(() => view.Find("#composer-input").Input("/frobnicate"));
        await view.InvokeAsync(() => view.Find("#send-button").Click());
        view.WaitForAssertion(() => Assert.Contains("Unknown command", view.Find("#composer-error").TextContent));
        Assert.Equal("/frobnicate", composer.Instance.Draft); // kept, to fix (the error is shown once the command has run)
        Assert.Single(view.FindAll(".msg")); // nothing posted

        await view.InvokeAsync(() => view.Find("#composer-input").Input("/help"));
        await view.InvokeAsync(() => view.Find("#send-button").Click());
        view.WaitForAssertion(() => Assert.Contains(view.FindAll(".notice"), n => n.TextContent.Contains("Only you can see this") && n.TextContent.Contains("/invite @user")));

        // Oscar's view of the same room shows the action, not alice's help.
        await using var ctx2 = ComponentServices.NewContext(_h);
        ctx2.SetRendererInfo(new RendererInfo("Server", isInteractive: true));
        var theirs = ctx2.Render<ChatView>(p => p.Add(c => c.Room, room).Add(c => c.Me, other));
        theirs.WaitForAssertion(() => Assert.Equal("* alice waves", theirs.Find(".msg-me").TextContent.Trim()));
        await _h.PostAsync(other, room, "marker");
        view.WaitForAssertion(() => Assert.Equal(2, view.FindAll(".msg").Count));
        theirs.WaitForAssertion(() => Assert.Equal(2, theirs.FindAll(".msg").Count));
        Assert.DoesNotContain(theirs.FindAll(".notice"), n => n.TextContent.Contains("Only you can see this"));

        await using var db = await _h.Services.GetRequiredService<IDbContextFactory<Data.ChatDbContext>>().CreateDbContextAsync();
        Assert.Equal(["waves", "marker"], await db.Messages.Where(m => m.RoomId == room.Id).OrderBy(m => m.Id).Select(m => m.Text).ToListAsync());
    }

    [Fact]
    public async Task Consecutive_posts_of_one_hook_under_different_names_are_not_grouped_under_the_first()
    {
        var me = await _h.CreateUserAsync("vera");
        var hook = await _h.CreateUserAsync("hook-user", Data.UserKind.Bot);
        var room = await _h.CreateRoomAsync("hooknames");
        async Task PostAs(string name, string text) =>
            Assert.True((await _h.Commands.PostAsync(hook, room.Id, text, style: new MessageStyle(As: new PostedAs(name, null, "webhook:1")))).Ok);
        await PostAs("Jenkins", "build 41 passed");
        await PostAs("Jenkins", "build 42 passed");
        await PostAs("GitHub", "PR #7 merged");

        var view = _ctx.Render<ChatView>(p => p.Add(c => c.Room, room).Add(c => c.Me, me));
        view.WaitForAssertion(() => Assert.Equal(3, view.FindAll(".msg").Count));
        var rows = view.FindAll(".msg");
        Assert.Equal([false, true, false], rows.Select(r => r.ClassList.Contains("msg-grouped")));
        Assert.Equal("GitHub", rows[2].QuerySelector(".msg-sender")!.TextContent);
        Assert.Equal("G", rows[2].QuerySelector(".mud-avatar")!.TextContent.Trim());
    }

    [Fact]
    public async Task A_hook_post_with_an_icon_shows_it_as_the_avatar_from_our_origin_over_the_initial()
    {
        var me = await _h.CreateUserAsync("wren");
        var hook = await _h.CreateUserAsync("icon-hook", Data.UserKind.Bot);
        var room = await _h.CreateRoomAsync("hookicons");
        var withIcon = await _h.Commands.PostAsync(hook, room.Id, "deployed", style: new MessageStyle(As: new PostedAs("CI", "https://ci.example/icon.png", "webhook:1")));
        Assert.True(withIcon.Ok);
        Assert.True((await _h.Commands.PostAsync(hook, room.Id, "no icon", style: new MessageStyle(As: new PostedAs("Plain", null, "webhook:1")))).Ok);

        var view = _ctx.Render<ChatView>(p => p.Add(c => c.Room, room).Add(c => c.Me, me));
        view.WaitForAssertion(() => Assert.Equal(2, view.FindAll(".msg").Count));
        var rows = view.FindAll(".msg");
        var icon = rows[0].QuerySelector(".mud-avatar img[data-hook-icon]");
        Assert.NotNull(icon);
        Assert.Equal($"/hook-icons/{withIcon.Value!.Id}", icon.GetAttribute("src")); // never the outside URL: the page loads our origin only
        Assert.Equal("", icon.GetAttribute("alt"));
        Assert.Equal("C", rows[0].QuerySelector(".mud-avatar")!.TextContent.Trim()); // the initial stays under it
        Assert.Null(rows[1].QuerySelector("img[data-hook-icon]"));
    }
}
