using System.Text;
using System.Text.Json;

namespace ChatPortal.Chat.Integrations;

/// <summary>An incoming webhook's message, read from a Slack/Mattermost payload; <see cref="Text"/> already includes the attachments.</summary>
public sealed record IncomingPost(string Text, string? Username, string? IconUrl, string? Channel);

/// <summary>
/// Reads Slack/Mattermost incoming-webhook payloads: <c>text</c>, <c>username</c>, <c>icon_url</c>, <c>channel</c>,
/// <c>attachments</c> (<c>fallback</c>, <c>pretext</c>, <c>title</c>, <c>title_link</c>, <c>text</c>, <c>fields</c>,
/// <c>color</c>). Attachments become text the chat shows as it shows any message (Markdown), so nothing a sender
/// writes is ever HTML. A payload that is not such an object, or that says nothing, is refused with the reason.
/// </summary>
public static class SlackPayload
{
    public static ChatResult<IncomingPost> Parse(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException ex)
        {
            return Bad($"The body is not valid JSON ({ex.Message.Split('.')[0]}).");
        }
        using (doc) return Parse(doc.RootElement);
    }

    public static ChatResult<IncomingPost> Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) return Bad("The payload must be a JSON object.");
        if (!TryString(root, "text", out var text, out var error) || !TryString(root, "username", out var username, out error)
            || !TryString(root, "icon_url", out var icon, out error) || !TryString(root, "channel", out var channel, out error))
            return Bad(error!);
        var sb = new StringBuilder(text?.Trim() ?? "");
        if (root.TryGetProperty("attachments", out var attachments) && attachments.ValueKind != JsonValueKind.Null)
        {
            if (attachments.ValueKind != JsonValueKind.Array) return Bad("\"attachments\" must be an array.");
            var n = 0;
            foreach (var a in attachments.EnumerateArray())
            {
                if (++n > 20) return Bad("At most 20 attachments.");
                if (a.ValueKind != JsonValueKind.Object) return Bad("Each attachment must be an object.");
                var rendered = Attachment(a, out error);
                if (error is not null) return Bad(error);
                if (rendered.Length == 0) continue;
                if (sb.Length > 0) sb.Append("\n\n");
                sb.Append(rendered);
            }
        }
        if (sb.Length == 0) return Bad("The payload has no \"text\" and no attachment with text: nothing to post.");
        if (icon is { Length: > 0 } && !(Uri.TryCreate(icon, UriKind.Absolute, out var u) && u.Scheme is "https" or "http"))
            return Bad("\"icon_url\" must be an absolute http(s) URL.");
        if (username is { Length: > 80 }) return Bad("\"username\" is longer than 80 characters.");
        return new IncomingPost(sb.ToString(), Blank(username), Blank(icon), Blank(channel)?.TrimStart('#', '@'));
    }

    private static string Attachment(JsonElement a, out string? error)
    {
        string? problem = null;
        string? Field(string name)
        {
            if (problem is not null) return null;
            if (!TryString(a, name, out var v, out var e)) problem = "attachments: " + e;
            return Blank(v);
        }
        var pretext = Field("pretext");
        var title = Field("title");
        var link = Field("title_link");
        var text = Field("text");
        var fallback = Field("fallback");
        error = problem;
        if (error is not null) return "";
        var lines = new List<string>();
        if (pretext is not null) lines.Add(pretext);
        if (title is not null)
            lines.Add(link is not null && Uri.TryCreate(link, UriKind.Absolute, out var l) && l.Scheme is "https" or "http" ? $"**{title}** — {link}" : $"**{title}**");
        if (text is not null) lines.Add(text);
        if (a.TryGetProperty("fields", out var fields) && fields.ValueKind == JsonValueKind.Array)
        {
            foreach (var f in fields.EnumerateArray())
            {
                if (f.ValueKind != JsonValueKind.Object) continue;
                TryString(f, "title", out var ft, out _);
                var value = f.TryGetProperty("value", out var fv) ? fv.ValueKind switch
                {
                    JsonValueKind.String => fv.GetString(),
                    JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => fv.GetRawText(),
                    _ => null,
                } : null;
                if (Blank(ft) is null && Blank(value) is null) continue;
                lines.Add(Blank(ft) is { } t ? $"**{t}:** {value}" : value!);
            }
        }
        // Only the fallback when nothing else is there (it is the plain-text summary of the rest).
        if (lines.Count == 0 && fallback is not null) lines.Add(fallback);
        return string.Join("\n", lines);
    }

    private static bool TryString(JsonElement obj, string name, out string? value, out string? error)
    {
        value = null;
        error = null;
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return true;
        if (v.ValueKind != JsonValueKind.String)
        {
            error = $"\"{name}\" must be a string.";
            return false;
        }
        value = v.GetString();
        return true;
    }

    private static string? Blank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();

    private static ChatError Bad(string message) => new("bad_payload", message);
}
