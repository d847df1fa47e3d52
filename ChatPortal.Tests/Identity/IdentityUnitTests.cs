using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using ChatPortal.Auth.Oidc;
using ChatPortal.Chat.Notifications;
using ChatPortal.Components.Account;
using ChatPortal.Data;
using ChatPortal.Profiles;
using ChatPortal.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Localization;

namespace ChatPortal.Tests.Identity;

public sealed partial class IdentityUnitTests
{
    [GeneratedRegex("""\b(?:T|text)\[\s*"([^"]+)"(?:\s*,|\s*\])""")]
    private static partial Regex KeyRegex();

    private static HashSet<string> Keys(string resx) =>
        XDocument.Load(resx).Root!.Elements("data").Select(d => (string)d.Attribute("name")!).ToHashSet();

    [Theory]
    [InlineData("ChatPortal/Components/Account/IdentityText", new[] { "ChatPortal/Components/Account", "ChatPortal/Components/Chat/UserChip.razor", "ChatPortal/Components/Chat/MuteNotice.razor", "ChatPortal/Components/Admin/AdminLogin.razor", "ChatPortal/Profiles" })]
    [InlineData("ChatPortal/Chat/Notifications/NotificationText", new[] { "ChatPortal/Chat/Notifications" })]
    public void English_and_Chinese_have_the_same_strings_and_cover_every_key_used(string resx, string[] sources)
    {
        var en = Keys(Path.Combine(RepoPaths.Root, resx + ".resx"));
        var zh = Keys(Path.Combine(RepoPaths.Root, resx + ".zh-CN.resx"));
        Assert.Equal(en.Order(), zh.Order());
        var used = new HashSet<string>();
        foreach (var source in sources.Select(s => Path.Combine(RepoPaths.Root, s)))
        {
            var files = File.Exists(source) ? [source] : Directory.GetFiles(source, "*.razor").Concat(Directory.GetFiles(source, "*.cs"));
            foreach (var f in files)
            {
                // AccountText pages use L[...]; only T[...] / text[...] are this resource's.
                foreach (Match m in KeyRegex().Matches(File.ReadAllText(f))) used.Add(m.Groups[1].Value);
            }
        }
        Assert.NotEmpty(used);
        Assert.Empty(used.Except(en));
    }

    [Fact]
    public void The_localizer_finds_the_Chinese_resources()
    {
        var services = new ServiceCollection().AddLogging().AddLocalization().BuildServiceProvider();
        var saved = CultureInfo.CurrentUICulture;
        try
        {
            CultureInfo.CurrentUICulture = new CultureInfo("zh-CN");
            Assert.Equal("个人资料", services.GetRequiredService<IStringLocalizer<IdentityText>>()["Your profile"]);
            Assert.Equal("来自 bob 的消息", services.GetRequiredService<IStringLocalizer<NotificationText>>()["Message from {0}", "bob"]);
        }
        finally
        {
            CultureInfo.CurrentUICulture = saved;
        }
    }

    [Theory]
    [InlineData("erin", "erin")]
    [InlineData("Erin Example", "Erin Example")]
    [InlineData("  张三  ", "张三")]
    [InlineData("bad<script>name", "badscriptname")]
    [InlineData("a", null)]
    [InlineData("@@@", null)]
    [InlineData("a-very-long-preferred-username-from-the-provider", "a-very-long-preferred-userna")] // 28: room for a "-2" suffix
    public void Provider_names_become_valid_nicknames(string candidate, string? expected) => Assert.Equal(expected, OidcAccounts.CleanName(candidate));

    [Fact]
    public void Re_encoded_avatars_keep_pixels_and_lose_metadata()
    {
        var png = TestIdentityProvider.PictureWithMetadata();
        var avatar = AvatarStore.Reencode(png);
        using var decoded = SkiaSharp.SKBitmap.Decode(avatar);
        Assert.Equal(48, decoded.Width); // the centre square of 64×48, not scaled up
        Assert.Equal(48, decoded.Height);
        Assert.Equal(new SkiaSharp.SKColor(200, 30, 30), decoded.GetPixel(24, 24));
        Assert.DoesNotContain(TestIdentityProvider.PictureMarker, System.Text.Encoding.Latin1.GetString(avatar), StringComparison.Ordinal);
        Assert.Empty(AvatarStore.Reencode("not an image"u8));
    }

    [Theory]
    [InlineData(22 * 60, 7 * 60, "2026-01-01T23:30:00Z", "UTC", true)]
    [InlineData(22 * 60, 7 * 60, "2026-01-01T12:00:00Z", "UTC", false)]
    [InlineData(22 * 60, 7 * 60, "2026-01-01T06:59:00Z", "UTC", true)]
    [InlineData(22 * 60, 7 * 60, "2026-01-01T15:00:00Z", "Asia/Shanghai", true)] // 23:00 in Shanghai
    [InlineData(9 * 60, 17 * 60, "2026-01-01T10:00:00Z", "UTC", true)]
    [InlineData(9 * 60, 17 * 60, "2026-01-01T17:00:00Z", "UTC", false)]
    public void Quiet_hours_are_read_in_the_users_time_zone(int from, int to, string now, string zone, bool quiet) =>
        Assert.Equal(quiet, NotificationSettings.IsQuiet(new NotificationPreference { QuietFromMinute = from, QuietToMinute = to }, zone,
            DateTimeOffset.Parse(now, CultureInfo.InvariantCulture)));

    [Theory]
    [InlineData("a@b.example", true)]
    [InlineData("Alice <a@b.example>", false)]
    [InlineData("not an address", false)]
    [InlineData("a@b.example, c@d.example", false)]
    public void Only_a_bare_address_is_an_email(string s, bool ok) => Assert.Equal(ok, UserProfiles.IsEmail(s));

    [Fact]
    public async Task The_profile_cache_starts_empty_and_picks_up_profiles_another_node_wrote()
    {
        await using var h = await CoreHarness.StartAsync();
        var bob = await h.CreateUserAsync("bob");
        var directory = new ProfileDirectory(h.Services.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<ChatDbContext>>(),
            new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build(),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<ProfileDirectory>.Instance);
        await directory.RefreshAsync(); // nothing read yet and no rows: must not fail
        Assert.Null(directory.Get(bob.Id));

        // Another node writes a profile; this node's poll finds it, and later changes too.
        await h.WithDbAsync(async db =>
        {
            db.Profiles.Add(new UserProfile { UserId = bob.Id, DisplayName = "Bob B", UpdatedAt = DateTimeOffset.UtcNow });
            return await db.SaveChangesAsync();
        });
        await directory.RefreshAsync();
        Assert.Equal("Bob B", directory.Get(bob.Id)?.DisplayName);
        await h.WithDbAsync(async db =>
        {
            var p = await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.SingleAsync(db.Profiles, x => x.UserId == bob.Id);
            (p.DisplayName, p.UpdatedAt) = ("鲍勃", DateTimeOffset.UtcNow.AddSeconds(1));
            return await db.SaveChangesAsync();
        });
        await directory.RefreshAsync();
        Assert.Equal("鲍勃", directory.Get(bob.Id)?.DisplayName);
    }
}
