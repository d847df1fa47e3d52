using ChatPortal.Chat;
using ChatPortal.Chat.Attachments;
using Microsoft.AspNetCore.Components;

namespace ChatPortal.Components.Chat;

/// <summary>
/// A file attachment in a message (issue 15): name, size and sniffed type as text, a download link
/// (the server sends it as an attachment with nosniff, so nothing in it is ever rendered). A render
/// fragment, not a component, like the message text.
/// </summary>
public static class FileChip
{
    public static RenderFragment Render(ImageRef file, string url) => b =>
    {
        var name = file.Name ?? "file";
        b.OpenElement(0, "a");
        b.AddAttribute(1, "class", "msg-file");
        b.AddAttribute(2, "href", url);
        b.AddAttribute(3, "download", name);
        b.AddAttribute(4, "rel", "noopener");
        b.OpenElement(5, "span");
        b.AddAttribute(6, "class", "file-icon");
        b.AddAttribute(7, "aria-hidden", "true");
        b.AddContent(8, "📄");
        b.CloseElement();
        b.OpenElement(9, "span");
        b.AddAttribute(10, "class", "file-name");
        b.AddContent(11, name);
        b.CloseElement();
        b.OpenElement(12, "span");
        b.AddAttribute(13, "class", "file-size");
        b.AddContent(14, ChatAttachments.FormatBytes(file.Length) + " · " + file.ContentType);
        b.CloseElement();
        b.CloseElement();
    };
}
