using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatPortal.Tests.Rich;

/// <summary>One real portal (child process) and one Chromium for the rich-chat browser tests.</summary>
public sealed class RichPortalFixture : IAsyncLifetime
{
    public BrowserFixture Browser { get; } = new();
    public PortalProcess Portal { get; private set; } = default!;

    public async ValueTask InitializeAsync()
    {
        await Browser.InitializeAsync();
        // 小爱 is off by default (issue 16): on here, looking for new rooms twice a second.
        Portal = await PortalProcess.StartAsync(new()
        {
            ["Chat__RateLimitBurst"] = "1000",
            ["Chat__RateLimitPerSecond"] = "1000",
            ["Bots__EnabledByDefault"] = "true",
            ["Bots__RoomRefreshInterval"] = "00:00:00.500",
        });
    }

    public ChatDbContext Db() => new(new DbContextOptionsBuilder<ChatDbContext>()
        .UseSqlite($"Data Source={Path.Combine(Portal.DataDir, "chatportal.db")};Pooling=False").Options);

    public async ValueTask DisposeAsync()
    {
        if (Portal is not null) await Portal.DisposeAsync();
        await Browser.DisposeAsync();
    }
}

public sealed class RichBrowserTests(RichPortalFixture f) : IClassFixture<RichPortalFixture>
{
    private const string Password = "secret-pass-1";

    // Names the elements that stick out on the right, for the failure message.
    private const string WiderThanScreen = "() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391)"
        + ".slice(0, 8).map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).join('; ')";

    // Each payload bumps window.__xss (or calls alert) if it ever runs.
    private static readonly string[] Payloads =
    [
        "<img src=x onerror=\"window.__xss++\">",
        "<script>window.__xss++</script>",
        "\"><svg onload=window.__xss++>",
        "javascript:window.__xss++",
        "<a href=\"javascript:alert(1)\">click</a>",
        "{{constructor.constructor('window.__xss++')()}}",
    ];

    private async Task<IPage> OpenAsync(string name, string path = "/rooms/lobby", int width = 1280, int height = 800, string locale = "en-US",
        IBrowserContext? context = null)
    {
        context ??= await f.Browser.NewContextAsync(f.Portal.BaseUri, width, height, locale);
        await context.AddInitScriptAsync("window.__xss = 0; window.alert = () => { window.__xss++; };");
        var page = await context.NewPageAsync();
        page.Dialog += (_, d) => { _ = page.EvaluateAsync("() => window.__xss++"); _ = d.DismissAsync(); };
        await page.SignInAsync(name, Password, path);
        await page.WaitForCircuitAsync();
        return page;
    }

    [Fact]
    public async Task Xss_payloads_in_messages_names_room_names_and_image_names_run_no_script()
    {
        var payload = string.Join(" ", Payloads);
        // Names and room names cannot carry markup through the UI (nickname rules, admin forms), so they go
        // straight into the database, as a hostile admin or a future import might put them there.
        long roomId;
        await using (var db = f.Db())
        {
            var evil = new ChatUser
            {
                Name = "<img src=y onerror=window.__xss++>",
                NormalizedName = "<IMG SRC=Y ONERROR=WINDOW.__XSS++>",
                Kind = UserKind.Member,
                CreatedAt = DateTimeOffset.UtcNow,
                SecurityStamp = "x",
            };
            var room = new Room
            {
                Slug = "xss-room",
                Name = "<script>window.__xss++</script>Room",
                Topic = "<svg onload=window.__xss++>topic",
                InviteCode = ChatRooms.NewInviteCode(),
                CreatedAt = DateTimeOffset.UtcNow,
            };
            db.AddRange(evil, room);
            await db.SaveChangesAsync();
            roomId = room.Id;
            db.Messages.Add(new Message { RoomId = room.Id, SenderId = evil.Id, Kind = MessageKind.Text, Text = payload + " xss-seeded", CreatedAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }

        var page = await OpenAsync("xss-tester", "/rooms/xss-room");
        // A message typed by a person, and an image whose file name is a payload.
        await page.FillAsync("#composer-input", payload + " xss-typed");
        await page.ClickAsync("#send-button");
        await PasteImageAsync(page, TestImages.Png(30, 20), "<img src=z onerror=window.__xss++>.png");
        await Expect(page.Locator("#composer-attachment")).ToBeVisibleAsync();
        await page.ClickAsync("#send-button");

        var messages = page.Locator("#messages");
        await Expect(messages).ToContainTextAsync("xss-typed");
        await Expect(messages).ToContainTextAsync("xss-seeded");
        await Expect(page.Locator(".msg-image img")).ToHaveCountAsync(1);
        await page.ClickAsync(".msg-image");
        await Expect(page.Locator("#image-preview")).ToContainTextAsync("<img src=z onerror=window.__xss++>.png");
        await page.ClickAsync("#image-preview-close");

        // The payloads are on the page as text, in every place user text shows up.
        var seenText = await messages.InnerTextAsync();
        foreach (var p in Payloads) Assert.Contains(p, seenText);
        Assert.Contains("<img src=y onerror=window.__xss++>", seenText);
        await Expect(page.Locator("#room-title")).ToContainTextAsync("<script>window.__xss++</script>Room");
        await Expect(page.Locator(".chat-topic")).ToContainTextAsync("<svg onload=window.__xss++>topic");
        await Expect(page.Locator("[data-room='xss-room']")).ToContainTextAsync("<script>window.__xss++</script>Room");
        // Search results show message text and room names too.
        await page.ClickAsync("#search-toggle");
        await page.FillAsync("#search-input", "onerror");
        await page.ClickAsync("#search-run");
        await Expect(page.Locator(".search-hit")).ToHaveCountAsync(2);
        await Expect(page.Locator("#search-results")).ToContainTextAsync("<script>window.__xss++</script>Room");
        // No element from a payload exists, no javascript: link was made, nothing ran.
        Assert.Equal(0, await page.Locator("#messages script, #messages svg, #messages img[src='x'], #messages img[src='y']").CountAsync());
        Assert.Equal(0, await page.Locator("a[href^='javascript']").CountAsync());
        await page.WaitForTimeoutAsync(300); // let any error handlers of broken images fire before looking
        Assert.Equal(0, await page.EvaluateAsync<int>("() => window.__xss"));
        Assert.True(roomId > 0);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Paste_an_image_and_mention_a_user_who_sees_both_highlighted()
    {
        var bob = await OpenAsync("bob-rich", "/rooms/lobby");
        var alice = await OpenAsync("alice-rich", "/rooms/lobby");

        // "@bo" offers bob; Enter picks him.
        await alice.Locator("#composer-input").PressSequentiallyAsync("look @bo");
        await Expect(alice.Locator("#mention-menu .mention-item").First).ToHaveAttributeAsync("data-user", "bob-rich");
        await alice.Locator("#composer-input").PressAsync("Enter");
        await Expect(alice.Locator("#composer-input")).ToHaveValueAsync("look @bob-rich ");
        await alice.Locator("#composer-input").PressSequentiallyAsync("at this 看这个");
        await Expect(alice.Locator("#composer-input")).ToHaveValueAsync("look @bob-rich at this 看这个");
        // The caret call that follows a pick can arrive after the user typed on (CI once got "look @bob-rich 这个at this 看"):
        // it then leaves their caret alone, and only places it while the box still holds the text it was sent for.
        var carets = await alice.EvaluateAsync<int[]>("""
            () => {
              const t = document.createElement('textarea');
              document.body.append(t);
              t.value = 'abc def';
              t.setSelectionRange(7, 7);
              chatPortal.focusAt(t, 4, 'abc ');
              const typedOn = t.selectionStart;
              chatPortal.focusAt(t, 4, 'abc def');
              const same = t.selectionStart;
              t.remove();
              return [typedOn, same];
            }
            """);
        Assert.Equal([7, 4], carets);
        await alice.Locator("#composer-input").FocusAsync();
        await PasteImageAsync(alice, TestImages.Png(120, 80), "screenshot.png");
        await Expect(alice.Locator("#composer-attachment")).ToContainTextAsync("screenshot.png");
        await alice.Locator("#composer-input").PressAsync("Enter");
        await Expect(alice.Locator("#composer-attachment")).ToHaveCountAsync(0);

        // Bob sees it live: the image inline, and the mention of him highlighted as his.
        var msg = bob.Locator(".msg", new() { HasText = "看这个" });
        await Expect(msg).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("msg-mentions-me"));
        await Expect(msg.Locator(".mention-me")).ToHaveTextAsync("@bob-rich");
        var img = msg.Locator(".msg-image img");
        await Expect(img).ToBeVisibleAsync();
        await bob.WaitForFunctionAsync("el => el.complete && el.naturalWidth === 120", await img.ElementHandleAsync());
        // Alice sees the same mention, but not as hers.
        await Expect(alice.Locator(".msg", new() { HasText = "看这个" }).Locator(".mention")).ToHaveClassAsync("mention");
        // Dragging a file onto the conversation attaches it the same way; it can be removed before sending.
        await alice.EvaluateAsync("""
            ([b64]) => {
              const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
              const dt = new DataTransfer();
              dt.items.add(new File([bytes], 'dropped.gif', { type: 'image/gif' }));
              const zone = document.querySelector('.chat-main');
              zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
              zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
            }
            """, new object[] { Convert.ToBase64String(TestImages.Gif(60, 40)) });
        await Expect(alice.Locator("#composer-attachment")).ToContainTextAsync("dropped.gif");
        await alice.ClickAsync("#attachment-remove");
        await Expect(alice.Locator("#composer-attachment")).ToHaveCountAsync(0);

        // Click to enlarge.
        await msg.Locator(".msg-image").ClickAsync();
        await Expect(bob.Locator("#image-preview img")).ToBeVisibleAsync();

        // The image is served as what it is, with nosniff.
        var src = await img.GetAttributeAsync("src");
        using var http = f.Portal.CreateClient();
        using var res = await http.GetAsync(src);
        Assert.Equal("image/png", res.Content.Headers.ContentType?.MediaType);
        Assert.Equal("nosniff", res.Headers.GetValues("X-Content-Type-Options").Single());
        await alice.Context.CloseAsync();
        await bob.Context.CloseAsync();
    }

    [Fact]
    public async Task A_mention_in_another_room_shows_a_badge_and_the_bot_answers_in_the_room()
    {
        await using (var db = f.Db())
        {
            db.Rooms.Add(new Room { Slug = "side", Name = "Side room", InviteCode = ChatRooms.NewInviteCode(), CreatedAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }
        var carol = await OpenAsync("carol-rich", "/rooms/lobby");
        await carol.ClickAsync("[data-room='side']");
        await Expect(carol.Locator("#room-title")).ToContainTextAsync("Side room");
        var dave = await OpenAsync("dave-rich", "/rooms/lobby");
        await dave.FillAsync("#composer-input", "@carol-rich come to the lobby");
        await dave.ClickAsync("#send-button");
        var lobbyLink = carol.Locator("[data-room='lobby']");
        await Expect(lobbyLink.Locator(".mention-badge")).ToBeVisibleAsync();
        await Expect(lobbyLink.Locator(".unread-badge")).ToBeVisibleAsync();

        await dave.FillAsync("#composer-input", "@小爱 几点了");
        await dave.ClickAsync("#send-button");
        var reply = dave.Locator(".msg", new() { HasText = "现在是" });
        await Expect(reply.Locator(".msg-sender")).ToHaveTextAsync("小爱同学");
        await Expect(reply.Locator(".mention-me")).ToHaveTextAsync("@dave-rich");
        await carol.Context.CloseAsync();
        await dave.Context.CloseAsync();
    }

    [Fact]
    public async Task Screenshots_of_desktop_phone_dark_mode_and_zh_CN()
    {
        // The README's pictures are refreshed on request (CHATPORTAL_UPDATE_SCREENSHOTS=1), so test runs leave the work tree clean.
        var docs = Environment.GetEnvironmentVariable("CHATPORTAL_UPDATE_SCREENSHOTS") == "1"
            ? Path.Combine(RepoPaths.Root, "docs")
            : Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(docs);
        await using (var db = f.Db())
        {
            db.Rooms.Add(new Room { Slug = "tea", Name = "Tea house 茶馆", Topic = "Tea, photos and small talk · 喝茶聊天", InviteCode = ChatRooms.NewInviteCode(), CreatedAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }
        var mei = await OpenAsync("美美", "/rooms/tea");
        var tom = await OpenAsync("Tom", "/rooms/tea");
        await Say(mei, "大家好！今天喝什么茶？🍵");
        await Say(tom, "Longjing, fresh from Hangzhou. @美美 want some?");
        await PasteImageAsync(tom, TestImages.Encode(SkiaSharp.SKEncodedImageFormat.Jpeg, 320, 200), "longjing.jpg");
        await Expect(tom.Locator("#composer-attachment")).ToBeVisibleAsync();
        await Say(tom, "Look at the leaves");
        // The bot's socket joins a new room on its next look (it is then online there, like any bot): ask once it is.
        await Expect(mei.Locator("#online-list")).ToContainTextAsync("小爱同学");
        await Say(mei, "@小爱 几点了");
        await Expect(mei.Locator(".msg", new() { HasText = "现在是" })).ToBeVisibleAsync();
        await Say(mei, "好的，马上到 👍");
        await tom.Locator("#composer-input").PressSequentiallyAsync("See you");
        await Expect(mei.Locator("#typing")).ToContainTextAsync("Tom is typing");

        await mei.ScreenshotAsync(new() { Path = Path.Combine(docs, "desktop.png") });

        // Phone: 390 px wide, no sideways scrolling, composer usable, drawer and online list one tap away.
        var phone = await OpenAsync("Tom", "/rooms/tea", width: 390, height: 844);
        await Expect(phone.Locator("#messages")).ToContainTextAsync("马上到");
        Assert.True(await phone.EvaluateAsync<bool>("() => document.scrollingElement.scrollWidth <= 390"), "the page scrolls sideways at 390 px: " +
            await phone.EvaluateAsync<string>(WiderThanScreen));
        var send = await phone.Locator("#send-button").BoundingBoxAsync();
        Assert.True(send is { } b && b.X + b.Width <= 390 && b.Y + b.Height <= 844, "send button outside the screen");
        await Expect(phone.Locator("#online-list")).Not.ToBeVisibleAsync();
        await phone.ScreenshotAsync(new() { Path = Path.Combine(docs, "phone.png") });
        await phone.ClickAsync("#online-toggle");
        await Expect(phone.Locator("#online-list")).ToBeVisibleAsync();
        await Expect(phone.Locator("#online-list")).ToContainTextAsync("美美");
        await phone.ClickAsync("#online-list .panel-close");
        // The drawer is one tap away and gets out of the way after picking a room.
        await phone.ClickAsync("#drawer-toggle");
        await Expect(phone.Locator("[data-room='lobby']")).ToBeVisibleAsync();
        await phone.ClickAsync("[data-room='lobby']");
        await Expect(phone.Locator("#room-title")).ToContainTextAsync("Lobby");
        await phone.ScreenshotAsync(new() { Path = "/tmp/phone-after-nav.png" });
        await Expect(phone.Locator("[data-room='lobby']")).Not.ToBeInViewportAsync();
        await phone.ClickAsync("#drawer-toggle");
        await phone.ClickAsync("[data-room='tea']");
        await Expect(phone.Locator("#room-title")).ToContainTextAsync("Tea house");
        await phone.Locator("#composer-input").FillAsync("typed on a phone");
        await phone.ClickAsync("#send-button");
        await Expect(phone.Locator("#messages")).ToContainTextAsync("typed on a phone");

        // Dark mode: the toggle sets a cookie; a fresh load is dark from the server's first byte.
        await tom.ClickAsync("#theme-toggle");
        await tom.WaitForFunctionAsync("() => document.cookie.includes('chatportal.theme=dark')");
        await tom.ReloadAsync();
        await tom.WaitForCircuitAsync();
        Assert.Equal("theme-dark", await tom.EvaluateAsync<string>("() => document.documentElement.className"));
        var bg = await tom.EvaluateAsync<string>("() => getComputedStyle(document.querySelector('.mud-layout') || document.body).backgroundColor");
        Assert.True(IsDark(bg), $"background {bg} is not dark");
        await tom.ScreenshotAsync(new() { Path = Path.Combine(docs, "dark.png") });

        // zh-CN: a Chinese browser gets Chinese; the switch in the app bar flips it, and the choice sticks.
        var zh = await OpenAsync("美美", "/rooms/tea", locale: "zh-CN");
        await Expect(zh.Locator("#send-button")).ToHaveTextAsync("发送");
        await Expect(zh.Locator("#composer-input")).ToHaveAttributeAsync("placeholder", new System.Text.RegularExpressions.Regex("输入消息"));
        await zh.ScreenshotAsync(new() { Path = Path.Combine(docs, "zh-CN.png") });
        await zh.ClickAsync("#language-switch");
        await zh.WaitForCircuitAsync();
        await Expect(zh.Locator("#send-button")).ToHaveTextAsync("Send");
        await zh.ReloadAsync();
        await zh.WaitForCircuitAsync();
        await Expect(zh.Locator("#send-button")).ToHaveTextAsync("Send");

        // The sign-in page follows the browser too, and has its own switch.
        var anonymous = await f.Browser.NewContextAsync(f.Portal.BaseUri, locale: "zh-CN");
        var login = await anonymous.NewPageAsync();
        await login.GotoAsync("/login");
        await Expect(login.Locator("h1")).ToHaveTextAsync("登录");
        await Expect(login.Locator("#login-submit")).ToHaveTextAsync("进入聊天室");
        await login.ClickAsync("#language-switch");
        await Expect(login.Locator("h1")).ToHaveTextAsync("Sign in");
        await anonymous.CloseAsync();

        foreach (var file in new[] { "desktop.png", "phone.png", "dark.png", "zh-CN.png" })
            Assert.True(new FileInfo(Path.Combine(docs, file)).Length > 10_000, file);
        foreach (var p in new[] { mei, tom, phone, zh }) await p.Context.CloseAsync();
    }

    private static async Task Say(IPage page, string text)
    {
        await page.FillAsync("#composer-input", text);
        await page.ClickAsync("#send-button");
        await Expect(page.Locator("#messages")).ToContainTextAsync(text);
    }

    /// <summary>A real paste event carrying an image file, as the browser makes it for Ctrl+V of a screenshot.</summary>
    private static async Task PasteImageAsync(IPage page, byte[] bytes, string fileName)
    {
        await page.EvaluateAsync("""
            ([b64, name]) => {
              const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
              const type = name.endsWith('.jpg') ? 'image/jpeg' : 'image/png';
              const dt = new DataTransfer();
              dt.items.add(new File([bytes], name, { type }));
              const input = document.querySelector('#composer-input');
              input.focus();
              input.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
            }
            """, new object[] { Convert.ToBase64String(bytes), fileName });
    }

    private static bool IsDark(string rgb)
    {
        var parts = System.Text.RegularExpressions.Regex.Matches(rgb, @"\d+").Select(m => int.Parse(m.Value)).Take(3).ToArray();
        return parts.Length == 3 && parts.Average() < 90;
    }
}
