using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using ChatPortal.Components.Admin;
using ChatPortal.Components.Invite;
using ChatPortal.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Localization;

namespace ChatPortal.Tests.Admin;

/// <summary>The back office speaks English and Chinese: every string it asks for exists in both.</summary>
public sealed partial class AdminTextTests
{
    [GeneratedRegex("""L\[\s*"([^"{]+)"|"((?:Rooms|Users|Admins|Mod|Filter|Bots|Mute|Dash|Audit|Login|Nav|Kind|Error)\.[A-Za-z0-9_]+)"|L\[\$"Error\.\{""")]
    private static partial Regex KeyRegex();

    private static HashSet<string> Keys(string resx) =>
        XDocument.Load(resx).Root!.Elements("data").Select(d => (string)d.Attribute("name")!).ToHashSet();

    [Theory]
    [InlineData("ChatPortal/Components/Admin", "AdminText")]
    [InlineData("ChatPortal/Components/Invite", "InviteText")]
    public void English_and_Chinese_have_the_same_strings_and_cover_every_key_used(string folder, string name)
    {
        var dir = Path.Combine(RepoPaths.Root, folder);
        var en = Keys(Path.Combine(dir, $"{name}.resx"));
        var zh = Keys(Path.Combine(dir, $"{name}.zh-CN.resx"));
        Assert.Equal(en.Order(), zh.Order());

        var used = new HashSet<string>();
        foreach (var file in Directory.GetFiles(dir, "*.razor").Concat(Directory.GetFiles(dir, "*.cs")))
            foreach (Match m in KeyRegex().Matches(File.ReadAllText(file)))
                if (m.Groups[1].Success || m.Groups[2].Success) used.Add(m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value);
        Assert.NotEmpty(used);
        Assert.Empty(used.Except(en));
        // Every error code a service can return has a translation.
        if (name == "AdminText")
        {
            var codes = Directory.GetFiles(Path.Combine(RepoPaths.Root, "ChatPortal/Admin"), "*.cs")
                .SelectMany(f => Regex.Matches(File.ReadAllText(f), """Fail\("([a-z_]+)" """.Trim()).Select(m => $"Error.{m.Groups[1].Value}"))
                .ToHashSet();
            Assert.NotEmpty(codes);
            Assert.Empty(codes.Except(en));
        }
    }

    [Fact]
    public void The_localizer_finds_the_Chinese_resources()
    {
        var services = new ServiceCollection().AddLogging().AddLocalization().BuildServiceProvider();
        var admin = services.GetRequiredService<IStringLocalizer<AdminText>>();
        var invite = services.GetRequiredService<IStringLocalizer<InviteText>>();
        var saved = CultureInfo.CurrentUICulture;
        try
        {
            CultureInfo.CurrentUICulture = new CultureInfo("zh-CN");
            Assert.Equal("仪表盘", admin["Nav.Dashboard"]);
            Assert.Equal("已复制到剪贴板。", admin["Copied"]);
            Assert.False(invite["NotFound"].ResourceNotFound);
            CultureInfo.CurrentUICulture = new CultureInfo("en");
            Assert.Equal("Dashboard", admin["Nav.Dashboard"]);
            Assert.Equal("Another room already uses \"x\".", admin["Error.slug_taken", "x"]);
        }
        finally
        {
            CultureInfo.CurrentUICulture = saved;
        }
    }
}
