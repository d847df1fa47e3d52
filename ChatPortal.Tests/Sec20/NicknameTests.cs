using System.Net;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;

namespace ChatPortal.Tests.Sec20;

/// <summary>
/// Issue 20, item 6: look-alike and blank nicknames. A new name whose confusable skeleton (TR39)
/// equals an existing or reserved name's is refused, and so are names made of fillers and blanks.
/// </summary>
public sealed class NicknameTests(Web.PortalFixture fx) : IClassFixture<Web.PortalFixture>
{
    public static TheoryData<string> Refused => new()
    {
        "аdmin",                                  // Cyrillic а: reserved "admin"
        "ａｄｍｉｎ",                              // fullwidth
        "𝐚𝐝𝐦𝐢𝐧",                                 // mathematical bold
        "ADMIN",                                  // case
        "\u3164\u3164\u3164",                     // Hangul filler
        "\uFFA0\uFFA0",                           // halfwidth Hangul filler
        "\u2800\u2800\u2800",                     // braille blank
        "a\u3164b",                               // a filler inside a name
        new string('\uFDFD', 32),                 // 32 × the widest ligature
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task Lookalike_reserved_and_blank_names_are_refused(string name)
    {
        var portal = fx.Portal;
        var (status, body) = await portal.PostTokenAsync(name, "right-password-1");
        Assert.True(status == HttpStatusCode.BadRequest, $"{name}: {(int)status} {body}");
        Assert.Equal("invalid", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_name_that_looks_like_an_existing_users_is_refused_and_the_owner_still_signs_in()
    {
        var portal = fx.Portal;
        var owner = "paypal" + Random.Shared.Next(100, 999);
        Assert.Equal(HttpStatusCode.OK, (await portal.PostTokenAsync(owner, "right-password-1")).Status);
        foreach (var lookalike in new[] { owner.Replace('a', 'а'), owner.Replace('p', 'р'), "ｐａｙｐａｌ" + owner[6..], owner.ToUpperInvariant().Replace('A', 'Α') })
        {
            var (status, body) = await portal.PostTokenAsync(lookalike, "right-password-1");
            Assert.True(status == HttpStatusCode.BadRequest, $"{lookalike}: {(int)status} {body}");
        }
        Assert.Equal(HttpStatusCode.OK, (await portal.PostTokenAsync(owner, "right-password-1")).Status);
        // Ordinary names in any script still register.
        Assert.Equal(HttpStatusCode.OK, (await portal.PostTokenAsync("张伟" + Random.Shared.Next(100, 999), "right-password-1")).Status);
        Assert.Equal(HttpStatusCode.OK, (await portal.PostTokenAsync("Дмитрий" + Random.Shared.Next(100, 999), "right-password-1")).Status);
        Assert.Equal(HttpStatusCode.OK, (await portal.PostTokenAsync("josé 😀" + Random.Shared.Next(100, 999), "right-password-1")).Status);
    }
}
