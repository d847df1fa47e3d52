using System.Globalization;
using Bunit;
using ChatPortal.Auth;
using ChatPortal.Bots;
using ChatPortal.Chat;
using ChatPortal.Components.Chat;
using ChatPortal.Components.Layout;
using ChatPortal.Data;
using ChatPortal.Images;
using ChatPortal.Search;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Forms;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MudBlazor.Services;

using ChatPortal.Tests.Infrastructure;

using ChatPortal.Tests.Web;

namespace ChatPortal.Tests.Rich;

/// <summary>bUnit over the real core (SQLite file): composer, unread badges, edit/delete, language.</summary>
public sealed class RichComponentTests : IAsyncLifetime
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
        _ctx.SetRendererInfo(new RendererInfo("Server", isInteractive: true)); // after the services: it builds the provider
    }

    public async ValueTask DisposeAsync()
    {
        await _ctx.DisposeAsync();
        await _h.DisposeAsync();
        CultureInfo.CurrentUICulture = _culture;
    }

    [Fact]
    public async Task Typing_at_sign_offers_members_and_picking_one_completes_the_mention()
    {
        var me = await _h.CreateUserAsync("alice");
        var bob = await _h.CreateUserAsync("bob");
        var bonnie = await _h.CreateUserAsync("Bonnie Lee");
        var carl = await _h.CreateUserAsync("carl");
        var room = await _h.CreateRoomAsync("mentions");
        var cut = _ctx.Render<Composer>(p => p.Add(c => c.Room, room).Add(c => c.Me, me).Add(c => c.Candidates, [me, bob, bonnie, carl]));

        await cut.InvokeAsync(() => cut.Find("#composer-input").Input("hello @bo"));
        var offered = cut.FindAll(".mention-item").Select(e => e.GetAttribute("data-user")).ToList();
        Assert.Equal(["bob", "Bonnie Lee"], offered);
        Assert.Empty(cut.FindAll("[data-user='alice']")); // never offers yourself

        await cut.InvokeAsync(() => cut.FindAll(".mention-item")[1].Click());
        Assert.Equal("hello @Bonnie Lee ", cut.Instance.Draft);
        Assert.Empty(cut.FindAll("#mention-menu"));

        // Sending stores the mention; the core recognises it for Bonnie, not for bob.
        var sent = new List<ChatMessage>();
        cut.Render(p => p.Add(c => c.OnSent, m => sent.Add(m)));
        await cut.InvokeAsync(() => cut.Find("#send-button").Click());
        cut.WaitForAssertion(() => Assert.Single(sent));
        Assert.True(Mentions.IsMentioned(sent[0].Text, "Bonnie Lee"));
        Assert.False(Mentions.IsMentioned(sent[0].Text, "bob"));
        Assert.Equal("", cut.Instance.Draft);
    }

    [Fact]
    public async Task The_emoji_picker_inserts_at_the_caret()
    {
        var me = await _h.CreateUserAsync("emma");
        var room = await _h.CreateRoomAsync("emoji");
        _ctx.JSInterop.Setup<int>("chatPortal.caret", _ => true).SetResult(3);
        var cut = _ctx.Render<Composer>(p => p.Add(c => c.Room, room).Add(c => c.Me, me));
        await cut.InvokeAsync(() => cut.Find("#composer-input").Input("abcdef"));
        Assert.Empty(cut.FindAll("#emoji-panel"));
        await cut.InvokeAsync(() => cut.Find("#emoji-button").Click());
        var all = cut.FindAll("#emoji-panel .emoji");
        Assert.True(all.Count >= 50);
        await cut.InvokeAsync(() => cut.Find("#emoji-panel .emoji[title='🍵']").Click());
        Assert.Equal("abc🍵def", cut.Instance.Draft);
        Assert.Empty(cut.FindAll("#emoji-panel"));
    }

    [Fact]
    public async Task A_pasted_image_becomes_an_attachment_and_is_sent_with_the_text()
    {
        var me = await _h.CreateUserAsync("paula");
        var room = await _h.CreateRoomAsync("paste");
        var sent = new List<ChatMessage>();
        var cut = _ctx.Render<Composer>(p => p.Add(c => c.Room, room).Add(c => c.Me, me).Add(c => c.OnSent, m => sent.Add(m)));
        // The page's paste/drop handler hands the clipboard file to this InputFile; here bUnit does the handing.
        cut.FindComponent<InputFile>().UploadFiles(InputFileContent.CreateFromBinary(TestImages.Png(50, 40), "clip.png", contentType: "image/png"));
        cut.WaitForAssertion(() => Assert.Contains("clip.png", cut.Find("#composer-attachment").TextContent));
        await cut.InvokeAsync(() => cut.Find("#composer-input").Input("from the clipboard"));
        await cut.InvokeAsync(() => cut.Find("#send-button").Click());
        cut.WaitForAssertion(() => Assert.Single(sent));
        Assert.Equal(MessageKind.Image, sent[0].Kind);
        Assert.Equal((50, 40, "clip.png"), (sent[0].Image!.Width, sent[0].Image!.Height, sent[0].Image!.Name));
        Assert.Equal("from the clipboard", sent[0].Text);
        Assert.Empty(cut.FindAll("#composer-attachment"));

        // Something that is not an image is refused with a clear message, nothing attached.
        cut.FindComponent<InputFile>().UploadFiles(InputFileContent.CreateFromText("<svg onload=alert(1)>", "evil.png", contentType: "image/png"));
        cut.WaitForAssertion(() => Assert.Contains("Only PNG, JPEG, GIF and WebP", cut.Find("#composer-error").TextContent));
        Assert.Empty(cut.FindAll("#composer-attachment"));
    }

    [Fact]
    public async Task Unread_badges_count_live_per_room_and_per_conversation_and_mark_mentions()
    {
        var me = await _h.CreateUserAsync("una");
        var other = await _h.CreateUserAsync("oscar");
        var news = await _h.CreateRoomAsync("news");
        await _h.Rooms.EnsureMemberAsync(news.Id, me);
        var dm = await _h.Rooms.OpenDirectAsync(other, "una");
        // Two unread before the page opens: they come from the database (kept across devices and restarts).
        await _h.PostAsync(other, news, "first");
        await _h.PostAsync(other, news, "second");

        var cut = _ctx.Render<ChatNav>(p => p.AddCascadingValue(AuthFor(me)));
        cut.WaitForAssertion(() => Assert.Equal("2", Badge(cut, "[data-room='news']")));
        Assert.Null(Badge(cut, "[data-dm='oscar']"));

        // Live: a room message, a mention, and a direct message.
        await _h.PostAsync(other, news, "third");
        cut.WaitForAssertion(() => Assert.Equal("3", Badge(cut, "[data-room='news']")));
        Assert.Empty(cut.FindAll("[data-room='news'] .mention-badge"));
        await _h.PostAsync(other, news, "@una look");
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("[data-room='news'] .mention-badge")));
        await _h.PostAsync(other, dm.Value!.Room, "psst");
        cut.WaitForAssertion(() => Assert.Equal("1", Badge(cut, "[data-dm='oscar']")));

        // Opening the room clears its badge; reading is saved per user.
        var view = _ctx.Services.GetRequiredService<ChatCircuit>();
        await cut.InvokeAsync(() => view.Show(news.Id));
        cut.WaitForAssertion(() => Assert.Null(Badge(cut, "[data-room='news']")));
        await _h.History.MarkReadAsync(me.Id, news.Id, await _h.History.LatestIdAsync(news.Id));
        Assert.False((await _h.History.UnreadCountsAsync(me.Id)).ContainsKey(news.Id));
        Assert.Equal(1, (await _h.History.UnreadCountsAsync(me.Id))[dm.Value!.Room.Id]);
    }

    [Fact]
    public async Task Mentions_and_direct_messages_raise_an_alert_only_for_those_who_opted_in()
    {
        var me = await _h.CreateUserAsync("nora");
        var other = await _h.CreateUserAsync("nick");
        var room = await _h.CreateRoomAsync("alerts");
        await _h.Rooms.EnsureMemberAsync(room.Id, me);
        _ctx.JSInterop.Setup<bool>("chatPortal.notifyEnabled").SetResult(true);
        _ctx.JSInterop.Setup<bool>("chatPortal.alertMention", _ => true).SetResult(true);
        IReadOnlyList<JSRuntimeInvocation> Alerts() => _ctx.JSInterop.Invocations["chatPortal.alertMention"];
        var cut = _ctx.Render<ChatNav>(p => p.AddCascadingValue(AuthFor(me)));
        cut.WaitForAssertion(() => Assert.True(cut.Find("#notify-toggle").HasAttribute("checked")));

        await _h.PostAsync(other, room, "no mention here");
        await _h.PostAsync(other, room, "@nora <b>ping</b>");
        cut.WaitForAssertion(() => Assert.Single(Alerts()));
        var call = Alerts()[0];
        Assert.Equal("nick mentioned you", call.Arguments[0]);
        Assert.Equal("@nora <b>ping</b>", call.Arguments[1]); // handed over as text; the browser shows it as text
        Assert.Equal(false, call.Arguments[3]);

        // Switching it off stops the alerts. All three messages are unread, whether the first was
        // stored before or after the drawer read the counts (it listens first, then reads).
        await cut.InvokeAsync(() => cut.Find("#notify-toggle").Change(false));
        await _h.PostAsync(other, room, "@nora again");
        cut.WaitForAssertion(() => Assert.Equal("3", Badge(cut, "[data-room='alerts']")));
        Assert.Single(Alerts());
    }

    [Fact]
    public async Task Own_messages_can_be_edited_and_deleted_and_others_see_it()
    {
        var me = await _h.CreateUserAsync("edna");
        var other = await _h.CreateUserAsync("otto");
        var room = await _h.CreateRoomAsync("edits");
        var mine = await _h.PostAsync(me, room, "helo wrld");
        var theirs = await _h.PostAsync(other, room, "not yours");
        var watcher = new Infrastructure.RecordingSubscriber();
        using var sub = _h.Fanout.SubscribeRoom(room.Id, watcher);

        var cut = _ctx.Render<ChatView>(p => p.Add(c => c.Room, room).Add(c => c.Me, me).Add(c => c.Title, "# edits"));
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll(".msg").Count));
        // Only my message can be edited and deleted (anyone's can be replied to, reacted to, pinned, saved).
        Assert.Single(cut.FindAll($"[data-id='{mine.Id}'] .msg-edit"));
        Assert.Single(cut.FindAll($"[data-id='{mine.Id}'] .msg-delete"));
        Assert.Empty(cut.FindAll($"[data-id='{theirs.Id}'] .msg-edit"));
        Assert.Empty(cut.FindAll($"[data-id='{theirs.Id}'] .msg-delete"));
        Assert.Single(cut.FindAll($"[data-id='{theirs.Id}'] .msg-react"));

        await cut.InvokeAsync(() => cut.Find($"[data-id='{mine.Id}'] .msg-edit").Act());
        await cut.InvokeAsync(() => cut.Find("#edit-input").Input("hello world"));
        await cut.InvokeAsync(() => cut.Find("#edit-save").Click());
        cut.WaitForAssertion(() => Assert.Contains("hello world", cut.Find($"[data-id='{mine.Id}'] .msg-text").TextContent));
        Assert.NotNull(cut.Find($"[data-id='{mine.Id}'] .msg-edited"));
        var edited = await watcher.WaitForAsync<MessageEdited>(1);
        Assert.Equal("hello world", edited[0].Message.Text);

        await cut.InvokeAsync(() => cut.Find($"[data-id='{mine.Id}'] .msg-delete").Act());
        cut.WaitForAssertion(() => Assert.Contains("Delete this message?", cut.Find(".msg-confirm").TextContent));
        await cut.InvokeAsync(() => cut.Find("#delete-confirm").Click());
        cut.WaitForAssertion(() => Assert.Contains("This message was removed.", cut.Find($"[data-id='{mine.Id}']").TextContent));
        await watcher.WaitForAsync<MessageDeleted>(1);
        // Someone who opens the room later sees the same.
        var later = await _h.History.GetHistoryAsync(room.Id);
        Assert.True(later.Single(m => m.Id == mine.Id).IsDeleted);

        // And an edit made elsewhere (another tab) shows up live.
        var again = await _h.PostAsync(me, room, "v1");
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find($"[data-id='{again.Id}']")));
        Assert.True((await _h.Commands.EditAsync(me, again.Id, "v2 from my phone")).Ok);
        cut.WaitForAssertion(() => Assert.Contains("v2 from my phone", cut.Find($"[data-id='{again.Id}'] .msg-text").TextContent));
    }

    [Fact]
    public async Task Typing_notices_show_who_is_typing()
    {
        var me = await _h.CreateUserAsync("tina");
        var other = await _h.CreateUserAsync("theo");
        var room = await _h.CreateRoomAsync("typing");
        var cut = _ctx.Render<ChatView>(p => p.Add(c => c.Room, room).Add(c => c.Me, me));
        // The view joins the room as it starts: a notice sent before that reaches nobody (a loaded machine showed it).
        cut.WaitForAssertion(() => Assert.Equal(1, _h.Fanout.RoomSubscriberCount(room.Id)));
        Assert.True(_h.Commands.Typing(other, room.Id));
        Assert.False(_h.Commands.Typing(other, room.Id)); // throttled in the core
        cut.WaitForAssertion(() => Assert.Equal("theo is typing…", cut.Find("#typing").TextContent));
        await _h.PostAsync(other, room, "done typing");
        cut.WaitForAssertion(() => Assert.Equal("", cut.Find("#typing").TextContent));
    }

    [Fact]
    public async Task The_language_switch_goes_to_the_other_language_and_back_to_this_page()
    {
        var nav = _ctx.Services.GetRequiredService<NavigationManager>();
        nav.NavigateTo("/rooms/lobby?msg=5");
        var cut = _ctx.Render<LanguageSwitch>();
        Assert.Contains("中文", cut.Markup);
        await cut.InvokeAsync(() => cut.Find("#language-switch").Click());
        Assert.Equal("http://localhost/culture/set?culture=zh-CN&returnUrl=%2Frooms%2Flobby%3Fmsg%3D5", nav.Uri);

        // In Chinese the chat UI is Chinese, and the switch offers English.
        CultureInfo.CurrentUICulture = CultureInfo.GetCultureInfo("zh-CN");
        var zh = _ctx.Render<LanguageSwitch>();
        Assert.Contains("EN", zh.Markup);
        var me = await _h.CreateUserAsync("zhang");
        var room = await _h.CreateRoomAsync("zh-room");
        var composer = _ctx.Render<Composer>(p => p.Add(c => c.Room, room).Add(c => c.Me, me));
        Assert.Equal("发送", composer.Find("#send-button").TextContent.Trim());
        Assert.Contains("输入消息", composer.Find("#composer-input").GetAttribute("placeholder"));
    }

    [Fact]
    public async Task Jump_to_first_unread_loads_it_in_context_and_jump_to_latest_comes_back()
    {
        var me = await _h.CreateUserAsync("reader");
        var other = await _h.CreateUserAsync("writer");
        var room = await _h.CreateRoomAsync("backlog");
        var posts = new List<ChatMessage>();
        for (var i = 0; i < 30; i++) posts.Add(await _h.PostAsync(other, room, $"old {i}"));
        await _h.Rooms.EnsureMemberAsync(room.Id, me); // read up to here
        for (var i = 0; i < 100; i++) posts.Add(await _h.PostAsync(other, room, $"new {i}"));
        var firstUnread = posts[30];

        var cut = _ctx.Render<ChatView>(p => p.Add(c => c.Room, room).Add(c => c.Me, me));
        cut.WaitForAssertion(() => Assert.Equal(50, cut.FindAll(".msg").Count));
        Assert.Empty(cut.FindAll("#first-unread")); // the first unread is older than the latest page

        await cut.InvokeAsync(() => cut.Find("#jump-unread").Click());
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("#first-unread")));
        var ids = cut.FindAll(".msg").Select(e => long.Parse(e.GetAttribute("data-id")!)).ToList();
        Assert.Contains(firstUnread.Id, ids);
        Assert.Equal("new 0", cut.Find($"[data-id='{firstUnread.Id}'] .msg-text").TextContent);
        // The divider sits right before it.
        Assert.Equal(firstUnread.Id.ToString(), cut.Find("#first-unread + .msg").GetAttribute("data-id"));
        Assert.False(cut.Instance.AtLatest);

        // New messages while reading old ones are held, then shown by "jump to latest".
        var live = await _h.PostAsync(other, room, "while you were away");
        cut.WaitForAssertion(() => Assert.Contains("1", cut.Find("#jump-latest").TextContent));
        await cut.InvokeAsync(() => cut.Find("#jump-latest").Click());
        cut.WaitForAssertion(() => Assert.Equal(live.Id.ToString(), cut.FindAll(".msg")[^1].GetAttribute("data-id")));
        Assert.True(cut.Instance.AtLatest);
    }

    [Fact]
    public async Task The_search_panel_finds_highlights_and_opens_a_result_in_its_context()
    {
        var me = await _h.CreateUserAsync("sam");
        var room = await _h.CreateRoomAsync("searchable");
        var other = await _h.CreateRoomAsync("elsewhere");
        var posts = new List<ChatMessage>();
        for (var i = 0; i < 80; i++) posts.Add(await _h.PostAsync(me, room, i == 10 ? "我们在上海见面 see you" : $"filler {i}"));
        var far = await _h.PostAsync(me, other, "上海的天气");

        var cut = _ctx.Render<ChatView>(p => p.Add(c => c.Room, room).Add(c => c.Me, me));
        cut.WaitForAssertion(() => Assert.Equal(50, cut.FindAll(".msg").Count));
        await cut.InvokeAsync(() => cut.Find("#search-toggle").Click());
        await cut.InvokeAsync(() => cut.Find("#search-input").Input("上海"));
        await cut.InvokeAsync(() => cut.Find(".search-form").Submit());
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll(".search-hit")));
        Assert.Equal("上海", cut.Find(".search-hit mark").TextContent);
        // All rooms: the other room's message too, newest first.
        await cut.InvokeAsync(() => cut.Find("#scope-all").Change(true));
        await cut.InvokeAsync(() => cut.Find(".search-form").Submit());
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll(".search-hit").Count));
        Assert.Equal(far.Id.ToString(), cut.FindAll(".search-hit")[0].GetAttribute("data-id"));

        // A hit in this room opens here, around the message (it is older than the latest page).
        await cut.InvokeAsync(() => cut.Find($".search-hit[data-id='{posts[10].Id}']").Click());
        cut.WaitForAssertion(() => Assert.Contains("msg-focus", cut.Find($".msg[data-id='{posts[10].Id}']").ClassName));
        Assert.False(cut.Instance.AtLatest);
        // A hit elsewhere navigates to that room at the message.
        await cut.InvokeAsync(() => cut.Find($".search-hit[data-id='{far.Id}']").Click());
        Assert.EndsWith($"/rooms/elsewhere?msg={far.Id}", _ctx.Services.GetRequiredService<NavigationManager>().Uri);
    }

    private static Task<AuthenticationState> AuthFor(UserRef u) => Task.FromResult(new AuthenticationState(PortalClaims.ForChatUser(new ChatUser
    {
        Id = u.Id,
        Name = u.Name,
        NormalizedName = UserNames.Normalize(u.Name),
        SecurityStamp = "s",
        Kind = u.Kind,
    })));

    private static string? Badge(IRenderedComponent<ChatNav> cut, string link) =>
        cut.FindAll($"{link} .unread-badge").FirstOrDefault()?.TextContent.Trim();
}
