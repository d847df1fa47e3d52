using ChatPortal.Chat;
using Microsoft.AspNetCore.Components;

namespace ChatPortal.Components.Chat;

/// <summary>
/// A post's link preview under its text (issue 15): site, title, description as text (Blazor escapes them),
/// the image from our origin (<c>/previews/{id}</c>, re-encoded), the whole card a link to the page (http(s)
/// only). A render fragment, not a component, so a list of messages costs no component per preview.
/// </summary>
public static class LinkPreviewCard
{
    public static RenderFragment Render(LinkPreview p) => b =>
    {
        if (!Uri.TryCreate(p.Url, UriKind.Absolute, out var u) || u.Scheme is not ("http" or "https")) return;
        b.OpenElement(0, "a");
        b.AddAttribute(1, "class", "link-preview");
        b.AddAttribute(2, "href", u.AbsoluteUri);
        b.AddAttribute(3, "target", "_blank");
        b.AddAttribute(4, "rel", "noopener noreferrer nofollow");
        if (p.ImageId is { } img)
        {
            b.OpenElement(5, "img");
            b.AddAttribute(6, "class", "lp-image");
            b.AddAttribute(7, "src", "/previews/" + Uri.EscapeDataString(img));
            b.AddAttribute(8, "alt", "");
            b.AddAttribute(9, "loading", "lazy");
            b.AddAttribute(10, "width", p.ImageWidth);
            b.AddAttribute(11, "height", p.ImageHeight);
            b.CloseElement();
        }
        b.OpenElement(12, "span");
        b.AddAttribute(13, "class", "lp-text");
        foreach (var (cls, text) in new[] { ("lp-site", p.SiteName), ("lp-title", p.Title), ("lp-desc", p.Description) })
        {
            if (string.IsNullOrEmpty(text)) continue;
            b.OpenElement(14, "span");
            b.AddAttribute(15, "class", cls);
            b.AddContent(16, text);
            b.CloseElement();
        }
        b.CloseElement();
        b.CloseElement();
    };
}
