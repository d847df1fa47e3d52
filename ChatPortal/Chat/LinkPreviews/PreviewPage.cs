using AngleSharp.Html.Parser;

namespace ChatPortal.Chat.LinkPreviews;

/// <summary>What a preview takes from a fetched HTML page: Open Graph first, then the title and description tags.</summary>
public sealed record PreviewPage(string? Title, string? Description, string? SiteName, Uri? Image)
{
    public bool IsEmpty => Title is null && Description is null && Image is null;

    private static readonly HtmlParser Parser = new(new HtmlParserOptions { IsScripting = false });

    /// <summary>Parses the page (its charset from the bytes or a meta tag); only http(s) image addresses are kept.</summary>
    public static PreviewPage Parse(byte[] html, Uri pageUri)
    {
        using var stream = new MemoryStream(html, writable: false);
        using var doc = Parser.ParseDocument(stream);
        string? Meta(params string[] names)
        {
            foreach (var name in names)
            {
                var el = doc.QuerySelectorAll("meta").FirstOrDefault(m =>
                    string.Equals(m.GetAttribute("property"), name, StringComparison.OrdinalIgnoreCase)
                    || string.Equals(m.GetAttribute("name"), name, StringComparison.OrdinalIgnoreCase));
                if (Clean(el?.GetAttribute("content"), 600) is { } v) return v;
            }
            return null;
        }
        var title = Meta("og:title", "twitter:title") ?? Clean(doc.Title, 300);
        var description = Meta("og:description", "twitter:description", "description");
        var site = Meta("og:site_name");
        Uri? image = null;
        if (Meta("og:image:secure_url", "og:image", "og:image:url", "twitter:image") is { } src
            && Uri.TryCreate(pageUri, src, out var abs) && abs.Scheme is "http" or "https")
            image = abs;
        return new PreviewPage(Cut(title, 300), Cut(description, 600), Cut(site, 100), image);
    }

    /// <summary>Text only: control characters out, whitespace collapsed, empty as null.</summary>
    internal static string? Clean(string? s, int max)
    {
        if (string.IsNullOrWhiteSpace(s)) return null;
        var chars = s.Where(c => !char.IsControl(c) || c is '\n' or '\t').Select(c => char.IsWhiteSpace(c) ? ' ' : c);
        var text = string.Join(' ', new string([.. chars]).Split(' ', StringSplitOptions.RemoveEmptyEntries));
        return text.Length == 0 ? null : Cut(text, max);
    }

    private static string? Cut(string? s, int max) => s is null || s.Length <= max ? s : s[..(max - 1)] + "…";
}
