using Bunit;
using ChatPortal.Bots;
using ChatPortal.Components.Chat;
using ChatPortal.Images;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MudBlazor.Services;

namespace ChatPortal.Tests.Infrastructure;

/// <summary>What the chat components need in a bUnit container, taken from a real core.</summary>
public static class ComponentServices
{
    public static BunitContext NewContext(CoreHarness core)
    {
        var ctx = new BunitContext();
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        var s = ctx.Services;
        s.AddMudServices();
        s.AddLocalization();
        s.AddSingleton(core.Chat);
        s.AddSingleton(core.Images);
        s.AddSingleton(core.Services.GetRequiredService<ImageUrls>());
        s.AddSingleton(core.Services.GetRequiredService<BotDirectory>());
        s.AddSingleton(core.Search);
        s.AddSingleton(core.Services.GetRequiredService<IOptions<ImageOptions>>());
        // Profiles (the online list's user chips) and the composer's mute notice.
        var db = core.Services.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<ChatPortal.Data.ChatDbContext>>();
        s.AddSingleton(new ChatPortal.Profiles.ProfileDirectory(db, new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build(),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<ChatPortal.Profiles.ProfileDirectory>.Instance));
        s.AddSingleton(new ChatPortal.Auth.SelfService.AccountSelfService(db, core.Chat, new ChatPortal.Auth.ApiTokens(db, core.Chat.Users, TimeProvider.System),
            TimeProvider.System));
        s.AddScoped<CircuitPresence>();
        s.AddScoped<ChatViewState>();
        return ctx;
    }
}
