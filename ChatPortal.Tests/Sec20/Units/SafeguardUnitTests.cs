using System.Net;
using ChatPortal.Auth;
using ChatPortal.Chat;
using ChatPortal.Chat.Safeguards;
using ChatPortal.Cluster;
using Bunit;
using ChatPortal.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ChatPortal.Tests.Sec20.Units;

/// <summary>The pieces behind issue 20's fixes, without a server.</summary>
public sealed class SafeguardUnitTests
{
    [Theory]
    [InlineData("203.0.113.7", "203.0.113.7")]
    [InlineData("::ffff:203.0.113.7", "203.0.113.7")]                       // IPv4-mapped: the IPv4 address
    [InlineData("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64")]   // one subscriber's /64
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:3::1", "2001:db8:1:3::/64")]
    public void Addresses_are_counted_as_ipv4_or_by_their_ipv6_64(string address, string key) =>
        Assert.Equal(key, AddressKey.Of(address));

    [Fact]
    public void An_ipv6_client_rotating_addresses_inside_its_64_shares_one_budget_and_exempt_networks_have_none()
    {
        using var limits = new AddressLimits(Options.Create(new AddressLimitOptions
        {
            GuestBurstPerAddress = 3, GuestsPerMinutePerAddress = 0.01, ExemptNetworks = ["198.51.100.0/24"],
        }));
        Assert.True(limits.TryCreateGuest("2001:db8:7:7::1"));
        Assert.True(limits.TryCreateGuest("2001:db8:7:7::2"));
        Assert.True(limits.TryCreateGuest("2001:db8:7:7:ffff::3"));
        Assert.False(limits.TryCreateGuest("2001:db8:7:7::4"));
        Assert.True(limits.TryCreateGuest("2001:db8:7:8::1")); // the next /64 is someone else
        for (var i = 0; i < 10; i++) Assert.True(limits.TryCreateGuest("198.51.100.9"));
        Assert.True(limits.TryCreateGuest(null)); // no address known: the per-user limits remain
    }

    [Fact]
    public void The_image_budget_counts_bytes_as_well_as_uploads()
    {
        using var limits = new AddressLimits(Options.Create(new AddressLimitOptions
        {
            ImageBurstPerAddress = 100, ImagesPerMinutePerAddress = 100, ImageBytesPerAddressPerHour = 3_000_000,
        }));
        Assert.True(limits.TryUploadImage("203.0.113.1", 1_000_000));
        Assert.True(limits.TryUploadImage("203.0.113.1", 1_000_000));
        Assert.True(limits.TryUploadImage("203.0.113.1", 1_000_000));
        Assert.False(limits.TryUploadImage("203.0.113.1", 1_000_000));
        Assert.True(limits.TryUploadImage("203.0.113.2", 1_000_000));
    }

    [Fact]
    public void A_failed_sign_in_is_answered_later_the_more_an_account_fails_up_to_a_cap()
    {
        var o = new AccountOptions { FailuresBeforeDelay = 3, FailureDelayMs = 250, MaxFailureDelayMs = 4000 };
        Assert.Equal(TimeSpan.Zero, SignInGuard.DelayAfter(3, o));
        Assert.Equal(TimeSpan.FromMilliseconds(250), SignInGuard.DelayAfter(4, o));
        Assert.Equal(TimeSpan.FromMilliseconds(500), SignInGuard.DelayAfter(5, o));
        Assert.Equal(TimeSpan.FromMilliseconds(4000), SignInGuard.DelayAfter(50, o));
        using var guard = new SignInGuard(Options.Create(o), TimeProvider.System);
        for (var i = 0; i < 4; i++) Assert.False(guard.Failed(1, "203.0.113.5"));
        Assert.True(guard.Failed(1, "203.0.113.5"));            // the fifth failure: this address waits
        Assert.True(guard.IsBlocked(1, "203.0.113.5"));
        Assert.False(guard.IsBlocked(1, "198.51.100.5"));       // the owner elsewhere does not
        Assert.False(guard.IsBlocked(2, "203.0.113.5"));        // nor does another account from there
        Assert.True(guard.DelayFor(1) > TimeSpan.Zero);
    }

    [Theory]
    [InlineData("admin", "аdmin")]        // Cyrillic а
    [InlineData("admin", "ａｄｍｉｎ")]    // fullwidth
    [InlineData("admin", "𝐚𝐝𝐦𝐢𝐧")]       // mathematical bold
    [InlineData("admin", "ADMIN")]
    [InlineData("paypal", "раураl")]      // Cyrillic р, а, у
    [InlineData("scope", "ѕсоре")]        // Cyrillic ѕ, с, о, р, е
    [InlineData("olga", "οlga")]          // Greek omicron
    [InlineData("modern", "rnodern")]     // rn / m
    [InlineData("bill", "bi1l")]          // 1 / l
    public void Lookalikes_share_a_skeleton_with_icu_and_with_the_built_in_subset(string name, string lookalike)
    {
        Assert.Contains(NameSkeletons.Of(name), NameSkeletons.Keys(lookalike));
        Assert.Equal(NameSkeletons.Of(name, forceBuiltIn: true), NameSkeletons.Of(lookalike, forceBuiltIn: true));
    }

    [Theory]
    [InlineData("alice", "bob")]
    [InlineData("张伟", "张三")]
    [InlineData("anna", "ann")]
    public void Different_names_have_different_skeletons(string a, string b)
    {
        Assert.NotEqual(NameSkeletons.Of(a), NameSkeletons.Of(b));
        Assert.NotEqual(NameSkeletons.Of(a, forceBuiltIn: true), NameSkeletons.Of(b, forceBuiltIn: true));
    }

    [Fact]
    public void This_machine_uses_icus_confusables_data()
    {
        // Debian ships ICU (as does the runtime container image); the built-in subset is the fallback only.
        Assert.StartsWith("icu ", NameSkeletons.Source);
    }

    [Theory]
    [InlineData("ok name")]
    [InlineData("李小龙")]
    [InlineData("neo 😎")]
    public void Ordinary_names_pass_the_character_rules(string name) => Assert.Null(UserNames.Validate(name));

    [Theory]
    [InlineData("\u3164\u3164")]
    [InlineData("ab\uFFA0")]
    [InlineData("\u2800\u2800")]
    [InlineData("ab\u200Bcd")]
    [InlineData("\uFDFD\uFDFD")]
    public void Blank_and_filler_characters_are_refused(string name) => Assert.NotNull(UserNames.Validate(name));

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("10.1.2.3", true)]
    [InlineData("172.31.0.1", true)]
    [InlineData("192.168.0.1", true)]
    [InlineData("::1", true)]
    [InlineData("fd12::1", true)]
    [InlineData("::ffff:10.1.2.3", true)]
    [InlineData("172.32.0.1", false)]
    [InlineData("203.0.113.9", false)]
    [InlineData("2001:db8::1", false)]
    public void Metrics_default_to_loopback_and_private_ranges(string address, bool allowed) =>
        Assert.Equal(allowed, new MetricsAccess(new MetricsOptions()).Allows(IPAddress.Parse(address)));

    [Fact]
    public async Task The_web_composer_posts_with_the_circuits_address_so_the_per_address_limit_holds_for_web_users()
    {
        await using var core = await CoreHarness.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Limits:PostBurstPerAddress"] = "2", ["Limits:PostsPerSecondPerAddress"] = "0.01",
        });
        var room = await core.CreateRoomAsync("web");
        var a = await core.CreateUserAsync("weba");
        var b = await core.CreateUserAsync("webb");
        Assert.True((await core.Commands.PostAsync(a, room.Id, "one", address: "203.0.113.44")).Ok);
        Assert.True((await core.Commands.PostAsync(b, room.Id, "two", address: "203.0.113.44")).Ok);
        Assert.Equal("rate_limited", (await core.Commands.PostAsync(a, room.Id, "three", address: "203.0.113.44")).Error?.Code);
        Assert.True((await core.Commands.PostAsync(b, room.Id, "four", address: "203.0.113.45")).Ok);
        Assert.True((await core.Commands.PostAsync(b, room.Id, "five")).Ok); // no address (bots, back office): per-user only

        // The web composer passes its circuit's address: the same address's budget is spent.
        await using var ctx = ComponentServices.NewContext(core);
        ctx.Services.AddScoped(_ => new Components.Chat.ClientAddress { Value = "203.0.113.44" });
        ctx.SetRendererInfo(new Microsoft.AspNetCore.Components.RendererInfo("Server", isInteractive: true));
        var sent = new List<ChatMessage>();
        var composer = ctx.Render<Components.Chat.Composer>(p => p.Add(c => c.Room, room).Add(c => c.Me, b).Add(c => c.OnSent, m => sent.Add(m)));
        await composer.InvokeAsync(() => composer.Find("#composer-input").Input("from the web"));
        await composer.InvokeAsync(() => composer.Find("#send-button").Click());
        composer.WaitForAssertion(() => Assert.Contains("too fast", composer.Find("#composer-error").TextContent));
        Assert.Empty(sent);
    }
}
