using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using ChatPortal.Api;
using ChatPortal.Auth;
using ChatPortal.Components.Account;
using ChatPortal.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Localization;

namespace ChatPortal.Tests.Api;

public sealed partial class ApiUnitTests
{
    [GeneratedRegex("""\b(?:L|TT)\[\s*"([^"]+)"(?:\s*,|\s*\])""")]
    private static partial Regex KeyRegex();

    private static HashSet<string> Keys(string resx) =>
        XDocument.Load(resx).Root!.Elements("data").Select(d => (string)d.Attribute("name")!).ToHashSet();

    [Fact]
    public void The_token_page_strings_exist_in_english_and_chinese()
    {
        var dir = Path.Combine(RepoPaths.Root, "ChatPortal/Components/Account");
        var en = Keys(Path.Combine(dir, "TokenText.resx"));
        var zh = Keys(Path.Combine(dir, "TokenText.zh-CN.resx"));
        Assert.Equal(en.Order(), zh.Order());
        var used = new HashSet<string>();
        foreach (var f in new[] { "TokensPage.razor", "AccountNav.razor" })
        {
            foreach (Match m in KeyRegex().Matches(File.ReadAllText(Path.Combine(dir, f)))) used.Add(m.Groups[1].Value);
        }
        Assert.Contains("API tokens", used);
        Assert.Empty(used.Except(en));

        var services = new ServiceCollection().AddLogging().AddLocalization().BuildServiceProvider();
        var saved = CultureInfo.CurrentUICulture;
        try
        {
            CultureInfo.CurrentUICulture = new CultureInfo("zh-CN");
            Assert.Equal("API 令牌", services.GetRequiredService<IStringLocalizer<TokenText>>()["API tokens"]);
        }
        finally
        {
            CultureInfo.CurrentUICulture = saved;
        }
    }

    [Theory]
    [InlineData("read", ApiScopes.Read)]
    [InlineData("read write", ApiScopes.Read | ApiScopes.Write)]
    [InlineData("write,admin", ApiScopes.Write | ApiScopes.Admin)]
    [InlineData("READ sudo", ApiScopes.None)] // unknown words and other spellings grant nothing
    [InlineData("", ApiScopes.None)]
    public void Scopes_parse_strictly(string text, ApiScopes expected) => Assert.Equal(expected, ApiScopeNames.Parse(text));

    [Theory]
    [InlineData("not_found", 404)]
    [InlineData("forbidden", 403)]
    [InlineData("muted", 403)]
    [InlineData("archived", 409)]
    [InlineData("rate_limited", 429)]
    [InlineData("filtered", 422)]
    [InlineData("too_long", 400)]
    [InlineData("storage_failed", 503)]
    public void Core_error_codes_map_to_fitting_statuses(string code, int status) => Assert.Equal(status, ApiProblems.StatusOf(code));
}
