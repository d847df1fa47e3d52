using System.Text.Json;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Playwright;

namespace ChatPortal.Tests.WebSockets;

/// <summary>The client kit in a real browser (Debian's Chromium): the demo page next to the web UI.</summary>
[Collection(WsPortalCollection.Name)]
public sealed class BrowserTests(WsPortalFixture fx, BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private const float Wait = 20_000;

    private async Task<(IBrowserContext Context, IPage Page)> OpenDemoAsync(string room)
    {
        var context = await browser.NewContextAsync(fx.BaseUri);
        var page = await context.NewPageAsync();
        await page.GotoAsync($"/clients/demo.html?room={room}");
        await page.WaitForFunctionAsync("() => window.demoClient && window.demoClient.state === 'ready'", null, new() { Timeout = Wait });
        return (context, page);
    }

    private async Task<string> NewRoomAsync(string prefix) =>
        (await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName(prefix).ToLowerInvariant(), allowGuests: true)).Slug;

    [Fact]
    public async Task A_web_ui_user_and_the_demo_page_chat_with_each_other_including_images()
    {
        var room = await NewRoomAsync("browser");
        var webName = PortalHelpers.UniqueName("webuser");
        await using var webContext = await browser.NewContextAsync(fx.BaseUri);
        var web = await webContext.NewPageAsync();
        await web.SignInAsync(webName, "web-password-1", $"/rooms/{room}");
        await web.WaitForCircuitAsync();
        var (demoContext, demo) = await OpenDemoAsync(room);
        await using var _ = demoContext;
        var guestName = await demo.InnerTextAsync("#me");
        Assert.StartsWith("游客", guestName);

        // Each sees the other online.
        await web.WaitForSelectorAsync($"#online-list [data-user='{guestName}']", new() { Timeout = Wait });
        await demo.WaitForSelectorAsync($"#online li:has-text('{webName}')", new() { Timeout = Wait });

        // Demo → web UI.
        await demo.FillAsync("#input", "hello from the demo page 你好 <b>not bold</b>");
        await demo.ClickAsync("#send");
        var fromDemo = await web.WaitForSelectorAsync(".msg .msg-text:has-text('hello from the demo page')", new() { Timeout = Wait });
        Assert.Equal("hello from the demo page 你好 <b>not bold</b>", (await fromDemo!.InnerTextAsync()).Trim());

        // Web UI → demo.
        await web.FillAsync("#composer-input", "hello from the web UI");
        await web.ClickAsync("#send-button");
        var fromWeb = await demo.WaitForSelectorAsync("#messages .msg:has-text('hello from the web UI')", new() { Timeout = Wait });
        Assert.Contains(webName, await fromWeb!.InnerTextAsync());

        // The demo's text was shown as text, not HTML (no <b> element was made from it).
        Assert.Equal(0, await demo.Locator("#messages b").CountAsync());

        // An image from the demo page shows in the web UI and is served.
        await demo.SetInputFilesAsync("#image", new FilePayload { Name = "dot.png", MimeType = "image/png", Buffer = PortalHelpers.TinyPng() });
        var img = await web.WaitForSelectorAsync(".msg .msg-image img", new() { Timeout = Wait });
        var src = await img!.GetAttributeAsync("src");
        Assert.StartsWith("/images/", src);
        using var http = fx.Portal.CreateClient();
        Assert.Equal(PortalHelpers.TinyPng(), await http.GetByteArrayAsync(src));
        await demo.WaitForSelectorAsync($"#messages img[src='{src}']", new() { Timeout = Wait });
    }

    [Fact]
    public async Task The_demo_page_reconnects_catches_up_and_resends_without_gaps_or_duplicates()
    {
        var room = await NewRoomAsync("reconnect");
        var (demoContext, demo) = await OpenDemoAsync(room);
        await using var _ = demoContext;
        await using var writer = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("writer"), room);
        var ids = new List<long>();
        async Task Post(string text) =>
            ids.Add((await writer.RequestAsync("send", ("room", room), ("text", text))).GetLong("message_id"));

        for (var i = 0; i < 5; i++) await Post($"m{i:D2}");
        await demo.WaitForSelectorAsync("#messages .msg:has-text('m04')", new() { Timeout = Wait });

        // The link drops; the room goes on; the user sends something while disconnected.
        await demo.EvaluateAsync("() => window.demoClient._socket.raw.close()");
        var queued = demo.EvaluateAsync<string>($"() => window.demoClient.send('{room}', 'sent while offline').then(a => a.type)");
        for (var i = 5; i < 20; i++) await Post($"m{i:D2}");

        Assert.Equal("ack", await queued);
        await demo.WaitForSelectorAsync("#messages .msg:has-text('m19')", new() { Timeout = Wait });
        await demo.WaitForSelectorAsync("#messages .msg:has-text('sent while offline')", new() { Timeout = Wait });
        await demo.WaitForFunctionAsync("() => window.demoClient.state === 'ready'", null, new() { Timeout = Wait });

        var shown = JsonSerializer.Deserialize<long[]>(await demo.EvaluateAsync<string>(
            "() => JSON.stringify([...document.querySelectorAll('#messages .msg')].map(n => Number(n.dataset.id)))"))!;
        Assert.Equal(shown.Distinct().Count(), shown.Length);           // nothing twice
        Assert.Equal(shown.OrderBy(x => x), shown);                       // in order
        Assert.Superset(ids.ToHashSet(), shown.ToHashSet());              // nothing missing
        await using var db = fx.Portal.OpenDb();
        Assert.Equal(1, await db.Messages.CountAsync(m => m.Text == "sent while offline" && db.Rooms.Any(r => r.Id == m.RoomId && r.Slug == room)));
    }

    [Fact]
    public async Task The_kits_sendFile_uploads_a_file_or_bytes_that_others_get_as_a_download()
    {
        var room = await NewRoomAsync("kitfile");
        var (demoContext, demo) = await OpenDemoAsync(room);
        await using var _ = demoContext;
        await using var watcher = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("filewatch"), room);

        // A File (its own name) and raw bytes with a name given; both resolve with the ack.
        var acks = await demo.EvaluateAsync<string[]>($$"""
            async () => {
              const file = new File(['agenda: 1. tea 2. 龙井\n'], '议程 agenda.txt', { type: 'text/html' });
              const a = await window.demoClient.sendFile('{{room}}', file);
              const pdf = new TextEncoder().encode('%PDF-1.4\n%fake but typed by content\n').buffer;
              const b = await window.demoClient.sendFile('{{room}}', pdf, 'report.pdf');
              return [a.type, b.type, String(a.message_id), String(b.message_id)];
            }
            """);
        Assert.Equal(["ack", "ack"], acks[..2]);
        var text = await watcher.WaitForAsync(f => f.Is("message") && f.Get("message.file.name") == "议程 agenda.txt");
        Assert.Equal(acks[2], text.Get("message.id"));
        Assert.Equal("text/plain", text.Get("message.file.content_type")); // from the content, not the browser's claim
        Assert.Null(text.Get("message.image"));
        var pdf = await watcher.WaitForAsync(f => f.Is("message") && f.Get("message.file.name") == "report.pdf");
        Assert.Equal("application/pdf", pdf.Get("message.file.content_type"));

        using var http = fx.Portal.CreateClient();
        using var download = await http.GetAsync(text.Get("message.file.url"));
        Assert.Equal(System.Net.HttpStatusCode.OK, download.StatusCode);
        Assert.Equal("attachment", download.Content.Headers.ContentDisposition?.DispositionType);
        Assert.Equal("agenda: 1. tea 2. 龙井\n", await download.Content.ReadAsStringAsync());

        // A refused file rejects the promise with the server's code and leaves the outbox empty.
        var code = await demo.EvaluateAsync<string>($"() => window.demoClient.sendFile('{room}', new Blob([]), 'empty.txt').then(() => 'sent', e => e.code)");
        Assert.Equal("file_empty", code);
        Assert.Equal(0, await demo.EvaluateAsync<int>("() => window.demoClient._outbox.length"));
    }

    [Fact]
    public async Task The_kit_speaks_through_a_wechat_style_socket_adapter()
    {
        var room = await NewRoomAsync("wx");
        var (demoContext, page) = await OpenDemoAsync(room);
        await using var _ = demoContext;
        await using var watcher = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("wxwatch"), room);

        // A stand-in for wx.connectSocket with the SocketTask API, built on the browser's WebSocket.
        await page.EvaluateAsync($$"""
            () => {
              const fakeWx = {
                connectSocket({ url, protocols }) {
                  const ws = new WebSocket(url, protocols);
                  ws.binaryType = 'arraybuffer';
                  return {
                    send: ({ data }) => ws.send(data),
                    close: ({ code, reason }) => ws.close(code, reason),
                    onOpen: f => ws.addEventListener('open', () => f({})),
                    onMessage: f => ws.addEventListener('message', e => f({ data: e.data })),
                    onClose: f => ws.addEventListener('close', e => f({ code: e.code, reason: e.reason })),
                    onError: f => ws.addEventListener('error', () => f({ errMsg: 'error' })),
                  };
                },
              };
              window.wxGot = [];
              window.wxClient = new ChatPortal.Client({
                url: (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws',
                socket: ChatPortal.wxSocket(fakeWx),
                auth: () => ({ guest: true }),
                rooms: ['{{room}}'],
              });
              window.wxClient.on('message', m => window.wxGot.push(m.message.text));
              window.wxClient.connect();
            }
            """);
        await page.WaitForFunctionAsync("() => window.wxClient.state === 'ready'", null, new() { Timeout = Wait });
        var ack = await page.EvaluateAsync<string>($"() => window.wxClient.send('{room}', 'from a mini-program').then(a => a.type)");
        Assert.Equal("ack", ack);
        await watcher.WaitForAsync(f => f.Is("message") && f.Get("message.text") == "from a mini-program");

        await watcher.RequestAsync("send", ("room", room), ("text", "to the mini-program"));
        await page.WaitForFunctionAsync("() => window.wxGot.includes('to the mini-program')", null, new() { Timeout = Wait });
    }

    /// <summary>
    /// A busy room (more sockets than <c>Chat:PresenceAnnounceUpTo</c>): the join brings the count without the list, so the
    /// demo shows the count and a button that loads the list with the <c>online</c> request.
    /// </summary>
    [Fact]
    public async Task In_a_busy_room_the_demo_page_shows_the_count_and_loads_the_list_when_asked()
    {
        await using var portal = await PortalProcess.StartAsync(new Dictionary<string, string>
        {
            ["Chat__PresenceAnnounceUpTo"] = "2",
            ["Limits__RegistrationBurstPerAddress"] = "0",
            ["Limits__GuestBurstPerAddress"] = "0",
        });
        var names = Enumerable.Range(1, 3).Select(i => PortalHelpers.UniqueName($"busy{i}")).ToList();
        var sockets = new List<WsClient>();
        try
        {
            foreach (var name in names) sockets.Add(await portal.MemberSocketAsync(name, "lobby"));
            await using var context = await browser.NewContextAsync(portal.BaseUri);
            var page = await context.NewPageAsync();
            await page.GotoAsync("/clients/demo.html?room=lobby");
            await page.WaitForFunctionAsync("() => window.demoClient && window.demoClient.state === 'ready'", null, new() { Timeout = Wait });

            // Three members and the demo's guest: the count, no names yet, the button to load them.
            await page.WaitForFunctionAsync("() => document.getElementById('online-count').textContent === '· 4'", null, new() { Timeout = Wait });
            Assert.Equal(0, await page.Locator("#online li").CountAsync());
            await page.ClickAsync("#online-load");
            await page.WaitForFunctionAsync("() => document.querySelectorAll('#online li').length === 4", null, new() { Timeout = Wait });
            foreach (var name in names) Assert.Equal(1, await page.Locator($"#online li:has-text('{name}')").CountAsync());
            Assert.Equal(1, await page.Locator("#online li:has-text('(me)')").CountAsync());
        }
        finally
        {
            foreach (var s in sockets) await s.DisposeAsync();
        }
    }
}
