using System.Text.RegularExpressions;
using System.Xml.Linq;
using ChatPortal.Tests.Infrastructure;

namespace ChatPortal.Tests.Integrations;

/// <summary>The integrations' strings exist in English and Chinese, and every key the components use is there (issue 16).</summary>
public sealed partial class IntegrationTextTests
{
    [GeneratedRegex(@"\b(?:CL|T|l)\[\s*""((?:[^""\\]|\\.)+)""")]
    private static partial Regex KeyRegex();

    private static HashSet<string> Keys(string resx) =>
        XDocument.Load(resx).Root!.Elements("data").Select(d => (string)d.Attribute("name")!).ToHashSet();

    [Theory]
    [InlineData("ChatPortal/Components/Admin/Integrations", "IntegrationText", new[] { "IntegrationsPage.razor" })]
    [InlineData("ChatPortal/Components/Chat", "CommandText", new[] { "CommandText.cs", "Composer.razor", "ChatView.razor" })]
    public void English_and_Chinese_have_the_same_strings_and_cover_every_key_used(string folder, string name, string[] files)
    {
        var dir = Path.Combine(RepoPaths.Root, folder);
        var en = Keys(Path.Combine(dir, $"{name}.resx"));
        var zh = Keys(Path.Combine(dir, $"{name}.zh-CN.resx"));
        Assert.Equal(en.Order(), zh.Order());
        var used = new HashSet<string>();
        foreach (var file in files)
        {
            var text = File.ReadAllText(Path.Combine(dir, file));
            // In the chat components only the CommandText localizer (CL, or l in CommandTexts) is ours; L is ChatText's.
            foreach (Match m in KeyRegex().Matches(text)) used.Add(Regex.Unescape(m.Groups[1].Value));
        }
        Assert.NotEmpty(used);
        Assert.Empty(used.Except(en));
        // The built-in commands' descriptions are translated too (the autocomplete shows them).
        if (name == "CommandText")
            Assert.Empty(ChatPortal.Chat.Integrations.SlashCommands.BuiltIns.Select(c => c.Description).Except(en));
    }
}
