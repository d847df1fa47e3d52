using System.Net;
using System.Text;

namespace ChatPortal.Hosting;

/// <summary>
/// <c>/clients/</c> itself: a page that lists the client kit (the JS library, the demo page, the
/// mini-program sample) with every file, in English and Chinese, instead of a 404. Built from the
/// folder, so whatever ships is listed.
/// </summary>
internal static class ClientKitIndex
{
    private static readonly (string File, string En, string Zh)[] Known =
    [
        ("chatportal.js", "The JavaScript client kit (the chatportal.v1 protocol: sign-in, rooms, catch-up, reconnects). See docs/protocol.md.",
            "JavaScript 客户端工具包（chatportal.v1 协议：登录、聊天室、补齐消息、自动重连）。见 docs/protocol.md。"),
        ("demo.html", "A demo page built on the kit.", "基于该工具包的演示页面。"),
        ("miniprogram/README.md", "A WeChat mini-program sample (read this first).", "微信小程序示例（请先阅读此文件）。"),
    ];

    public static void Map(WebApplication app, string folder)
    {
        var html = Build(folder);
        // One route serves "/clients" and "/clients/" (routing ignores the trailing slash); the page's
        // relative links need the slash, so the bare form is redirected to it.
        app.MapGet("/clients", (HttpContext ctx) =>
        {
            if (!ctx.Request.Path.Value!.EndsWith('/')) return Results.Redirect("/clients/");
            ctx.Response.Headers.XContentTypeOptions = "nosniff";
            return Results.Content(html, "text/html; charset=utf-8");
        }).AllowAnonymous().ExcludeFromDescription();
    }

    internal static string Build(string folder)
    {
        var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal).ToList();
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
          .Append("<title>ChatPortal client kit · 客户端工具包</title></head><body>")
          .Append("<h1>ChatPortal client kit · 客户端工具包</h1>")
          .Append("<p>Connect your own pages, bots and apps to this server. · 用这些文件把你自己的网页、机器人和应用接入本服务器。</p><ul id=\"kit\">");
        foreach (var (file, en, zh) in Known.Where(k => files.Contains(k.File)))
        {
            sb.Append("<li data-file=\"").Append(WebUtility.HtmlEncode(file)).Append("\"><a href=\"").Append(WebUtility.HtmlEncode(file)).Append("\">")
              .Append(WebUtility.HtmlEncode(file)).Append("</a> — ").Append(WebUtility.HtmlEncode(en)).Append(" · ").Append(WebUtility.HtmlEncode(zh)).Append("</li>");
        }
        sb.Append("</ul><h2>All files · 全部文件</h2><ul id=\"files\">");
        foreach (var file in files)
            sb.Append("<li><a href=\"").Append(WebUtility.HtmlEncode(file)).Append("\">").Append(WebUtility.HtmlEncode(file)).Append("</a></li>");
        sb.Append("</ul></body></html>");
        return sb.ToString();
    }
}
