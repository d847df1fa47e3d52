using ChatPortal.Components.Chat;

namespace ChatPortal.Tests.Conversations;

/// <summary>Markdown in messages (issue 15): what it renders, and what it never lets through.</summary>
public sealed class FormattingTests
{
    [Fact]
    public void Emphasis_code_blocks_lists_quotes_and_links_render()
    {
        var html = MessageMarkdown.ToHtml("**bold** _it_ ~~gone~~ `x<y`\n\n```\nvar a = 1 < 2;\n```\n\n- one\n- two\n\n> quoted\n\n[docs](https://example.com/a?b=1) and https://example.org/x", null);
        Assert.Contains("<strong>bold</strong>", html);
        Assert.Contains("<em>it</em>", html);
        Assert.Contains("<del>gone</del>", html);
        Assert.Contains("<code>x&lt;y</code>", html);
        Assert.Contains("<pre><code>var a = 1 &lt; 2;\n</code></pre>", html);
        Assert.Contains("<li>one</li>", html);
        Assert.Contains("<blockquote>", html);
        Assert.Contains("<a href=\"https://example.com/a?b=1\" target=\"_blank\" rel=\"noopener noreferrer nofollow\">docs</a>", html);
        Assert.Contains("<a href=\"https://example.org/x\" target=\"_blank\" rel=\"noopener noreferrer nofollow\">https://example.org/x</a>", html);
    }

    [Theory]
    [InlineData("[click](javascript:alert(1))")]
    [InlineData("[click](JaVaScRiPt:alert(1))")]
    [InlineData("[click](  javascript:alert(1) )")]
    [InlineData("[click](java&#115;cript:alert(1))")]
    [InlineData("[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)")]
    [InlineData("[click](vbscript:msgbox)")]
    [InlineData("<javascript:alert(1)>")]
    [InlineData("[click][r]\n\n[r]: javascript:alert(1)")]
    [InlineData("![x](javascript:alert(1))")]
    public void Links_to_anything_but_http_https_or_mailto_lose_their_address(string markdown)
    {
        var html = MessageMarkdown.ToHtml(markdown, null);
        // No element carries the address (the words may stay, as text).
        Assert.DoesNotContain("<a", html);
        Assert.DoesNotContain("href=", html);
        Assert.DoesNotContain("<img", html);
    }

    [Theory]
    [InlineData("<script>alert(1)</script>")]
    [InlineData("<img src=x onerror=alert(1)>")]
    [InlineData("<div>\n<svg onload=alert(1)>\n</div>")]
    [InlineData("<a href=\"javascript:alert(1)\">x</a>")]
    [InlineData("<iframe src=\"https://example.com\"></iframe>")]
    [InlineData("**<b onmouseover=alert(1)>x</b>**")]
    public void Raw_html_in_markdown_stays_text(string markdown)
    {
        var html = MessageMarkdown.ToHtml(markdown, null);
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("<img", html);
        Assert.DoesNotContain("<svg", html);
        Assert.DoesNotContain("<iframe", html);
        Assert.DoesNotContain("<b ", html);
        Assert.DoesNotContain("<div", html);
        Assert.DoesNotContain("<a", html);
        Assert.Contains("&lt;", html); // shown, as text
    }

    [Fact]
    public void Images_in_markdown_are_not_loaded_from_other_sites()
    {
        var html = MessageMarkdown.ToHtml("look ![tracker](https://tracker.example/p.gif) **now**", null);
        Assert.DoesNotContain("<img", html);
        Assert.DoesNotContain("tracker.example", html);
        Assert.Contains("<strong>now</strong>", html);
    }

    [Fact]
    public void Mentions_are_marked_in_text_but_not_in_code_and_markup_in_names_stays_text()
    {
        var html = MessageMarkdown.ToHtml("**hey** @bob and @alice, see `@bob`", "bob");
        Assert.Contains("<span class=\"mention mention-me\">@bob</span>", html);
        Assert.Contains("<span class=\"mention\">@alice</span>", html);
        Assert.Contains("<code>@bob</code>", html);
        var evil = MessageMarkdown.ToHtml("*hi* @<img_src=x>", "<img_src=x>");
        Assert.DoesNotContain("<img", evil);
        Assert.Contains("&lt;img_src=x&gt;", evil);
    }

    [Theory]
    [InlineData("hello there", false)]
    [InlineData("see https://example.com/page", false)]
    [InlineData("你好，世界", false)]
    [InlineData("3.5 apples", false)]
    [InlineData("**bold**", true)]
    [InlineData("a `b`", true)]
    [InlineData("- item", true)]
    [InlineData("1. first", true)]
    [InlineData("line\n---", true)]
    [InlineData("x > y", true)]
    public void Only_text_with_markdown_syntax_takes_the_markdown_path(string text, bool expected) =>
        Assert.Equal(expected, MessageMarkdown.LooksLikeMarkdown(text));

    [Fact]
    public void Line_breaks_are_kept()
    {
        var html = MessageMarkdown.ToHtml("*a*\nb", null);
        Assert.Contains("<br>", html);
    }
}
