using AngleSharp.Dom;
using ChatPortal.Chat;
using Ganss.Xss;
using Markdig;

namespace ChatPortal.Components.Chat;

/// <summary>
/// Message text as Markdown for the web view (issue 15): Markdig with raw HTML disabled (so
/// <c>&lt;script&gt;</c> in a message is text, never markup), then HtmlSanitizer with a short list of
/// tags and only http(s)/mailto links (so a <c>javascript:</c> link written in Markdown loses its
/// href), then mentions highlighted in the text nodes and links opened in a new tab without a referrer.
/// Text without any Markdown syntax keeps the cheaper plain renderer (<see cref="MessageText"/>).
/// The source text is what is stored and what <c>chatportal.v1</c> sends; rendering is the reader's.
/// </summary>
public static class MessageMarkdown
{
    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder()
        .DisableHtml()
        .UseEmphasisExtras(Markdig.Extensions.EmphasisExtras.EmphasisExtraOptions.Strikethrough)
        .UseAutoLinks(new Markdig.Extensions.AutoLinks.AutoLinkOptions { OpenInNewWindow = false, UseHttpsForWWWLinks = true })
        .UseSoftlineBreakAsHardlineBreak() // a chat message's line breaks are meant
        .Build();

    private static readonly HtmlSanitizer Sanitizer = new(new HtmlSanitizerOptions
    {
        AllowedTags = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a", "hr",
            "h1", "h2", "h3", "h4", "h5", "h6",
        },
        AllowedAttributes = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "href", "start" },
        AllowedSchemes = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "http", "https", "mailto" },
        UriAttributes = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "href" },
        AllowedCssProperties = new HashSet<string>(),
        AllowedAtRules = new HashSet<AngleSharp.Css.Dom.CssRuleType>(),
        AllowedClasses = new HashSet<string>(),
    });

    // Renders of the same text for the same reader repeat on every re-render of the list: keep them.
    private static readonly CountedMap<(string Text, string Me), string> Cache = new();
    private const int CacheLimit = 4096;

    /// <summary>Whether the text uses anything Markdown would change (emphasis, code, links, quotes, lists, headings, rules).</summary>
    public static bool LooksLikeMarkdown(string text)
    {
        if (text.AsSpan().IndexOfAny("*_`~[<>#|\\") >= 0) return true;
        foreach (var line in text.AsSpan().EnumerateLines())
        {
            var t = line.TrimStart();
            if (t.Length >= 2 && (t[0] is '-' or '+' or '=') && (t[1] == ' ' || t.TrimEnd().IndexOfAnyExcept(t[0]) < 0)) return true;
            var digits = 0;
            while (digits < t.Length && char.IsAsciiDigit(t[digits])) digits++;
            if (digits > 0 && digits + 1 < t.Length && t[digits] is '.' or ')' && t[digits + 1] == ' ') return true;
        }
        return false;
    }

    /// <summary>The sanitized HTML of a message for the reader <paramref name="me"/> (their mentions marked).</summary>
    public static string ToHtml(string text, string? me)
    {
        var key = (text, me ?? "");
        if (Cache.TryGetValue(key, out var cached)) return cached;
        var html = Render(text, me);
        if (Cache.Count >= CacheLimit) Cache.Clear();
        Cache.TryAdd(key, html);
        return html;
    }

    private static string Render(string text, string? me)
    {
        var raw = Markdown.ToHtml(text, Pipeline);
        using var doc = Sanitizer.SanitizeDom(raw);
        var body = doc.Body!;
        foreach (var a in body.QuerySelectorAll("a").ToList())
        {
            if (a.GetAttribute("href") is not { Length: > 0 })
            {
                // A link whose address the sanitizer removed (javascript:, data:, ...) is shown as its text only.
                a.Replace([.. a.ChildNodes]);
                continue;
            }
            a.SetAttribute("target", "_blank");
            a.SetAttribute("rel", "noopener noreferrer nofollow");
        }
        MarkMentions(doc, body, me);
        return body.InnerHtml.Trim();
    }

    /// <summary>Wraps @mentions in text nodes (not inside code or links) in spans, built with DOM calls (never parsed).</summary>
    private static void MarkMentions(IDocument doc, IElement root, string? me)
    {
        var texts = new List<IText>();
        Collect(root, texts);
        foreach (var node in texts)
        {
            var parts = Mentions.Split(node.Data, me).ToList();
            if (parts.All(p => p.Kind == MentionKind.None)) continue;
            var replacement = new List<INode>();
            foreach (var (piece, kind) in parts)
            {
                if (kind == MentionKind.None)
                {
                    replacement.Add(doc.CreateTextNode(piece));
                    continue;
                }
                var span = doc.CreateElement("span");
                span.ClassName = kind == MentionKind.Me ? "mention mention-me" : "mention";
                span.TextContent = piece;
                replacement.Add(span);
            }
            node.Replace([.. replacement]);
        }
    }

    private static void Collect(INode node, List<IText> texts)
    {
        foreach (var child in node.ChildNodes)
        {
            if (child is IText t && t.Data.Contains('@')) texts.Add(t);
            else if (child is IElement e && e.LocalName is not ("code" or "pre" or "a")) Collect(e, texts);
        }
    }
}
