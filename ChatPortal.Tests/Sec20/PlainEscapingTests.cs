using System.Text.Json;
using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.WebSockets;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChatPortal.Tests.Sec20;

/// <summary>
/// Issue 20, item 9: a plain client that JSON-parses a frame and puts <c>message</c> into
/// innerHTML must show the text, not run it. The original server htmlspecialchars'd the text
/// before sending; plain frames do the same, and the JSON escaping stays.
/// </summary>
public sealed class PlainEscapingTests
{
    private static readonly UserRef Alice = new(7, "alice", UserKind.Member);

    private static PlainWireFormat Plain() => new(null!, NullLogger<PlainWireFormat>.Instance);

    [Fact]
    public void Plain_message_text_is_html_escaped_before_json_so_innerHTML_shows_it_as_text()
    {
        var evil = "<img src=x onerror=alert(1)> & \"q\" 'single' 你好 😀";
        var frame = new MessagePosted(new ChatMessage(12, 3, Alice, MessageKind.Text, evil, DateTimeOffset.UtcNow)).Encoded(Plain());
        var raw = System.Text.Encoding.UTF8.GetString(frame.Bytes);
        var parsed = JsonDocument.Parse(raw).RootElement.GetProperty("message").GetString();
        // What JSON.parse gives the client: htmlspecialchars (ENT_QUOTES) of the text.
        Assert.Equal("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot; &#039;single&#039; 你好 😀", parsed);
        // And the frame itself is still JSON-escaped (no raw HTML-sensitive characters on the wire).
        foreach (var c in new[] { "<", ">", "&", "'" }) Assert.DoesNotContain(c, raw);
        Assert.Contains("\\u0026lt;img", raw);
    }

    [Fact]
    public void Only_the_five_html_characters_change_and_the_v1_protocol_keeps_the_text_as_sent()
    {
        var text = "plain é ü 中文 tab\tline\nend";
        var plain = new MessagePosted(new ChatMessage(12, 3, Alice, MessageKind.Text, text, DateTimeOffset.UtcNow)).Encoded(Plain());
        Assert.Equal(text, JsonDocument.Parse(plain.Bytes).RootElement.GetProperty("message").GetString());
        // chatportal.v1 clients get the text exactly as stored (they render it as text themselves).
        var v1 = new V1WireFormat(Microsoft.Extensions.Options.Options.Create(new ChatPortal.Hosting.PortalOptions()));
        var evil = "<b>x</b> & 'y'";
        var frame = new MessagePosted(new ChatMessage(13, 3, Alice, MessageKind.Text, evil, DateTimeOffset.UtcNow)).Encoded(v1);
        Assert.Equal(evil, JsonDocument.Parse(frame.Bytes).RootElement.GetProperty("message").GetProperty("text").GetString());
    }
}
