using System.Net;
using System.Text;
using ChatPortal.Chat;
using ChatPortal.Chat.LinkPreviews;
using ChatPortal.Security;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.Rich;
using ChatPortal.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatPortal.Tests.Conversations;

/// <summary>
/// Two web servers on loopback: a "public" one on 127.0.0.1 (allow-listed for the test, as the internet
/// would be) serving pages, images and redirects, and an "internal" one on 127.0.0.2 (not allow-listed,
/// standing for the server's own network) whose hit counter must stay 0 whatever users post.
/// </summary>
public sealed class PreviewServers : IAsyncLifetime
{
    private WebApplication? _public;
    private WebApplication? _internal;
    private int _internalHits;
    public int InternalHits => Volatile.Read(ref _internalHits);
    public int PublicPort { get; private set; }
    public int InternalPort { get; private set; }
    public string Public => $"http://127.0.0.1:{PublicPort}";

    public async ValueTask InitializeAsync()
    {
        InternalPort = PortalProcess.FreePort();
        var ib = WebApplication.CreateSlimBuilder();
        ib.WebHost.UseUrls($"http://127.0.0.2:{InternalPort}");
        ib.Logging.ClearProviders();
        _internal = ib.Build();
        _internal.Run(ctx =>
        {
            Interlocked.Increment(ref _internalHits);
            ctx.Response.ContentType = "text/html";
            return ctx.Response.WriteAsync("<html><head><title>INTERNAL SECRET</title><meta property=\"og:title\" content=\"INTERNAL SECRET\"></head></html>");
        });
        await _internal.StartAsync();

        PublicPort = PortalProcess.FreePort();
        var pb = WebApplication.CreateSlimBuilder();
        pb.WebHost.UseUrls($"http://127.0.0.1:{PublicPort}");
        pb.Logging.ClearProviders();
        _public = pb.Build();
        var i = InternalPort;
        _public.MapGet("/page", () => Results.Content(
            "<!doctype html><html><head><title>Fallback</title>" +
            "<meta property=\"og:title\" content=\"Longjing &lt;script&gt;alert(1)&lt;/script&gt; tea\">" +
            "<meta property=\"og:description\" content=\"Green tea from Hangzhou · 西湖龙井\">" +
            "<meta property=\"og:site_name\" content=\"Tea Times\">" +
            "<meta property=\"og:image\" content=\"/og.png\"></head><body>hello</body></html>", "text/html; charset=utf-8"));
        _public.MapGet("/og.png", () => Results.Bytes(TestImages.Png(800, 400), "image/png"));
        _public.MapGet("/svg-image-page", () => Results.Content(
            "<html><head><meta property=\"og:title\" content=\"Vector\"><meta property=\"og:image\" content=\"/evil.svg\"></head></html>", "text/html"));
        _public.MapGet("/evil.svg", () => Results.Content("<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"><script>alert(1)</script></svg>", "image/svg+xml"));
        _public.MapGet("/internal-image-page", () => Results.Content(
            $"<html><head><meta property=\"og:title\" content=\"Sneaky\"><meta property=\"og:image\" content=\"http://127.0.0.2:{i}/x.png\"></head></html>", "text/html"));
        _public.MapGet("/to/{target}", (string target) => Results.Redirect(target switch
        {
            "ip" => $"http://127.0.0.2:{i}/",
            "mapped" => $"http://[::ffff:127.0.0.2]:{i}/",
            "decimal" => $"http://2130706434:{i}/",
            "hex" => $"http://0x7f000002:{i}/",
            "name" => $"http://internal.test:{i}/",
            _ => "/page",
        }));
        _public.MapGet("/hop/{n:int}", (int n) => n == 0 ? Results.Redirect("/page") : Results.Redirect($"/hop/{n - 1}"));
        _public.MapGet("/pdf", () => Results.Bytes(Encoding.ASCII.GetBytes("%PDF-1.4 not html"), "application/pdf"));
        _public.MapGet("/huge", () => Results.Content("<html><head><title>Huge</title></head><body>" + new string('x', 300 * 1024) + "</body></html>", "text/html"));
        _public.MapGet("/slow", async (HttpContext ctx) =>
        {
            ctx.Response.ContentType = "text/html";
            await ctx.Response.WriteAsync("<html><head><title>Slow");
            await ctx.Response.Body.FlushAsync();
            await Task.Delay(TimeSpan.FromSeconds(20), ctx.RequestAborted);
        });
        await _public.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_public is not null) await _public.DisposeAsync();
        if (_internal is not null) await _internal.DisposeAsync();
    }
}

public sealed class LinkPreviewTests(PreviewServers servers) : IClassFixture<PreviewServers>
{
    private SafeHttpClient Client() => new(Options.Create(new SafeHttpOptions
    {
        AllowedAddresses = ["127.0.0.1"],
        HostAddresses = new(StringComparer.OrdinalIgnoreCase) { ["internal.test"] = "127.0.0.2", ["public.test"] = "127.0.0.1" },
        TimeoutSeconds = 10,
    }));

    [Fact]
    public async Task The_safe_client_never_reaches_the_internal_server_by_address_mapped_address_number_or_name_directly_or_by_redirect()
    {
        using var http = Client();
        var i = servers.InternalPort;
        // The allow-listed "public" server is reachable, also by a name that resolves to it.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri($"http://public.test:{servers.PublicPort}/page"))).Status);

        string[] direct =
        [
            $"http://127.0.0.2:{i}/", $"http://[::ffff:127.0.0.2]:{i}/", $"http://2130706434:{i}/", $"http://0x7f000002:{i}/",
            $"http://0x7f.0.0.2:{i}/", $"http://0177.0.0.2:{i}/", $"http://internal.test:{i}/",
        ];
        foreach (var url in direct)
            await Assert.ThrowsAsync<SafeHttpException>(() => http.GetAsync(new Uri(url)));
        foreach (var via in new[] { "ip", "mapped", "decimal", "hex", "name" })
        {
            var refused = await Assert.ThrowsAsync<SafeHttpException>(() => http.GetAsync(new Uri($"{servers.Public}/to/{via}")));
            Assert.Contains("not a public address", refused.Message);
        }
        Assert.Equal(0, servers.InternalHits);

        // Redirects: three are followed, each checked; a fourth is refused.
        Assert.EndsWith("/page", (await http.GetAsync(new Uri($"{servers.Public}/hop/2"))).FinalUri.AbsolutePath);
        Assert.Contains("redirects", (await Assert.ThrowsAsync<SafeHttpException>(() => http.GetAsync(new Uri($"{servers.Public}/hop/3")))).Message);
        // HTML only, 256 KiB, and a time limit, as the previewer asks.
        Func<string?, bool> html = t => t is "text/html";
        Assert.Contains("application/pdf", (await Assert.ThrowsAsync<SafeHttpException>(() =>
            http.GetAsync(new Uri($"{servers.Public}/pdf"), 256 * 1024, acceptType: html))).Message);
        Assert.Contains("larger than", (await Assert.ThrowsAsync<SafeHttpException>(() =>
            http.GetAsync(new Uri($"{servers.Public}/huge"), 256 * 1024, acceptType: html))).Message);
        Assert.Contains("timed out", (await Assert.ThrowsAsync<SafeHttpException>(() =>
            http.GetAsync(new Uri($"{servers.Public}/slow"), 256 * 1024, timeout: TimeSpan.FromSeconds(1), acceptType: html))).Message);
    }

    /// <summary>The core with the previewer; <paramref name="observe"/> false: posts are previewed only when a test asks.</summary>
    private Task<CoreHarness> CoreAsync(bool observe = true) => CoreHarness.StartAsync(configure: s =>
    {
        s.Configure<SafeHttpOptions>(o =>
        {
            o.AllowedAddresses = ["127.0.0.1"];
            o.HostAddresses["internal.test"] = "127.0.0.2";
        });
        s.AddSingleton<SafeHttpClient>();
        s.Configure<LinkPreviewOptions>(o => o.Enabled = observe);
        s.AddSingleton<PreviewImages>();
        s.AddSingleton<LinkPreviewer>();
        s.AddSingleton<IStoredEventObserver>(sp => sp.GetRequiredService<LinkPreviewer>());
        s.AddHostedService(sp => sp.GetRequiredService<LinkPreviewer>());
    });

    [Fact]
    public async Task A_posted_link_gets_its_preview_once_after_the_post_live_and_in_catch_up_with_the_image_re_encoded()
    {
        await using var core = await CoreAsync();
        var room = await core.CreateRoomAsync("links");
        var ann = await core.CreateUserAsync("ann");
        var bob = await core.CreateUserAsync("bob");
        var live = RecordingSink.Open(core, bob);
        Assert.True((await live.Session.JoinAsync(room)).Ok);

        var posted = await core.PostAsync(ann, room, $"**tea** {servers.Public}/page.");
        var output = await live.WaitForAsync(o => o.OfType<LinkPreviewReady>().Any());
        // The post first, then its preview, once.
        var events = output.OfType<ChatEvent>().Where(e => e is MessagePosted or LinkPreviewReady).ToList();
        Assert.IsType<MessagePosted>(events[0]);
        var ready = Assert.Single(events.OfType<LinkPreviewReady>());
        Assert.Equal(posted.Id, ready.MessageId);
        var p = ready.Preview!;
        Assert.Equal($"{servers.Public}/page", p.Url);
        Assert.Equal("Longjing <script>alert(1)</script> tea", p.Title); // text, which the view escapes
        Assert.Equal("Green tea from Hangzhou · 西湖龙井", p.Description);
        Assert.Equal("Tea Times", p.SiteName);
        Assert.NotNull(p.ImageId);
        Assert.Equal((480, 240), (p.ImageWidth, p.ImageHeight));
        // The image is ours: a JPEG we wrote (re-encoded, scaled), not the PNG that was fetched.
        var file = core.Services.GetRequiredService<PreviewImages>().PathOf(p.ImageId!)!;
        var bytes = await File.ReadAllBytesAsync(file);
        Assert.Equal([0xFF, 0xD8, 0xFF], bytes[..3]);

        // Catch-up and history carry it inside the post.
        var later = RecordingSink.Open(core, await core.CreateUserAsync("cat"));
        Assert.True((await later.Session.JoinAsync(room, since: posted.Id - 1)).Ok);
        var replay = await later.WaitForAsync(o => o.OfType<MessagePosted>().Any());
        Assert.Equal(p, replay.OfType<MessagePosted>().Single().Message.Preview);
        Assert.Equal(p, (await core.History.GetHistoryAsync(room.Id)).Single().Preview);

        // chatportal.v1 frames: the event and the message.
        var v1 = new V1WireFormat(Options.Create(new Hosting.PortalOptions()));
        var frame = Encoding.UTF8.GetString(v1.Encode(ready).Bytes);
        Assert.Contains("\"type\":\"link_preview\"", frame);
        Assert.Contains($"\"message_id\":{posted.Id}", frame);
        Assert.Contains($"\"url\":\"/previews/{p.ImageId}\"", frame);
        Assert.Contains("\\u003Cscript\\u003E", frame);
        var message = Encoding.UTF8.GetString(v1.Encode(replay.OfType<MessagePosted>().Single()).Bytes);
        Assert.Contains("\"preview\":{", message);

        // Deleting the post removes the preview and its file.
        Assert.True((await core.Commands.DeleteAsync(ann, posted.Id)).Ok);
        await WaitUntilAsync(() => !File.Exists(file));
        Assert.Equal(0, await core.WithDbAsync(db => Task.FromResult(db.LinkPreviews.Count())));
    }

    [Fact]
    public async Task An_edit_that_adds_a_link_gets_a_preview_and_an_edit_that_takes_it_out_removes_it_live()
    {
        await using var core = await CoreAsync();
        var room = await core.CreateRoomAsync("edits");
        var ann = await core.CreateUserAsync("ann");
        var live = RecordingSink.Open(core, await core.CreateUserAsync("bob"));
        Assert.True((await live.Session.JoinAsync(room)).Ok);

        // Posted without a link: nothing to preview.
        var posted = await core.PostAsync(ann, room, "tea list coming");
        // Edited to add one: the preview comes after the edit, once.
        Assert.True((await core.Commands.EditAsync(ann, posted.Id, $"tea list: {servers.Public}/page")).Ok);
        var added = await live.WaitForAsync(o => o.OfType<LinkPreviewReady>().Any());
        var ready = Assert.Single(added.OfType<LinkPreviewReady>());
        Assert.Equal(posted.Id, ready.MessageId);
        Assert.Equal($"{servers.Public}/page", ready.Preview!.Url);
        var order = added.ToList();
        Assert.True(order.IndexOf(added.OfType<MessageEdited>().Single()) < order.IndexOf(ready));
        var file = core.Services.GetRequiredService<PreviewImages>().PathOf(ready.Preview.ImageId!)!;
        Assert.Equal(ready.Preview, (await core.History.GetHistoryAsync(room.Id)).Single().Preview);

        // An edit that keeps the same link keeps the preview (nothing announced).
        Assert.True((await core.Commands.EditAsync(ann, posted.Id, $"tea list (fixed): {servers.Public}/page")).Ok);
        // Edited to take the link out: the preview is removed and announced as gone (a v1 frame without "preview").
        Assert.True((await core.Commands.EditAsync(ann, posted.Id, "tea list: ask me")).Ok);
        var removed = await live.WaitForAsync(o => o.OfType<LinkPreviewReady>().Count() == 2);
        var gone = removed.OfType<LinkPreviewReady>().Last();
        Assert.Equal(posted.Id, gone.MessageId);
        Assert.Null(gone.Preview);
        Assert.Equal(3, removed.OfType<MessageEdited>().Count());
        Assert.Equal(0, await core.WithDbAsync(db => Task.FromResult(db.LinkPreviews.Count())));
        Assert.False(File.Exists(file));
        Assert.Null((await core.History.GetHistoryAsync(room.Id)).Single().Preview);
        var frame = Encoding.UTF8.GetString(new V1WireFormat(Options.Create(new Hosting.PortalOptions())).Encode(gone).Bytes);
        Assert.Contains("\"type\":\"link_preview\"", frame);
        Assert.DoesNotContain("\"preview\"", frame);

        // Edited to another page: that page's preview.
        Assert.True((await core.Commands.EditAsync(ann, posted.Id, $"tea list: {servers.Public}/svg-image-page")).Ok);
        var other = await live.WaitForAsync(o => o.OfType<LinkPreviewReady>().Count() == 3);
        Assert.Equal("Vector", other.OfType<LinkPreviewReady>().Last().Preview!.Title);
        // Edited to an internal address: that preview goes, no new one comes, the internal server is never asked.
        Assert.True((await core.Commands.EditAsync(ann, posted.Id, $"tea list: http://127.0.0.2:{servers.InternalPort}/")).Ok);
        var last = await live.WaitForAsync(o => o.OfType<LinkPreviewReady>().Count() == 4);
        Assert.Null(last.OfType<LinkPreviewReady>().Last().Preview);
        Assert.Equal(0, servers.InternalHits);
        Assert.Equal(0, await core.WithDbAsync(db => Task.FromResult(db.LinkPreviews.Count())));
    }

    [Fact]
    public async Task Links_to_the_internal_network_non_html_and_svg_images_get_no_preview_and_reach_nothing()
    {
        await using var core = await CoreAsync(observe: false);
        var previewer = core.Services.GetRequiredService<LinkPreviewer>();
        var room = await core.CreateRoomAsync("sneaky");
        var ann = await core.CreateUserAsync("ann");
        var i = servers.InternalPort;
        foreach (var url in new[]
        {
            $"http://127.0.0.2:{i}/", $"http://[::ffff:127.0.0.2]:{i}/", $"http://2130706434:{i}/", $"http://0x7f000002:{i}/",
            $"http://internal.test:{i}/", $"{servers.Public}/to/ip", $"{servers.Public}/to/mapped", $"{servers.Public}/to/decimal",
            $"{servers.Public}/to/hex", $"{servers.Public}/to/name", $"{servers.Public}/pdf", $"{servers.Public}/huge",
        })
        {
            var m = await core.PostAsync(ann, room, "look " + url);
            Assert.Null(await previewer.PreviewAsync(m));
        }
        Assert.Equal(0, servers.InternalHits);

        // A page whose og:image points inside, or is SVG: the preview comes without an image.
        var inside = await previewer.PreviewAsync(await core.PostAsync(ann, room, $"{servers.Public}/internal-image-page"));
        Assert.Equal("Sneaky", inside!.Title);
        Assert.Null(inside.ImageId);
        var svg = await previewer.PreviewAsync(await core.PostAsync(ann, room, $"{servers.Public}/svg-image-page"));
        Assert.Equal("Vector", svg!.Title);
        Assert.Null(svg.ImageId);
        Assert.Equal(0, servers.InternalHits);
    }

    [Theory]
    [InlineData("see https://example.com/a?b=1.", "https://example.com/a?b=1")]
    [InlineData("[docs](https://example.com/x) and http://other.example/", "https://example.com/x")]
    [InlineData("no link here", null)]
    [InlineData("javascript:alert(1) ftp://x.example/", null)]
    [InlineData("http://user:pw@example.com/ https://ok.example/", "https://ok.example/")]
    public void The_first_http_link_is_previewed(string text, string? expected) =>
        Assert.Equal(expected, LinkPreviewer.FirstLink(text)?.AbsoluteUri);

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var until = DateTime.UtcNow.AddSeconds(15);
        while (!condition())
        {
            if (DateTime.UtcNow > until) throw new TimeoutException("condition not met");
            await Task.Delay(50);
        }
    }
}
