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
    public static BunitContext NewContext(CoreHarness core) => NewContext(core.Services);

    /// <summary>A context whose components use the services of <paramref name="node"/> (a core harness or a running portal).</summary>
    public static BunitContext NewContext(IServiceProvider node)
    {
        var ctx = new BunitContext();
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        // The component tests read as a person looking at the page (visible and focused).
        ctx.JSInterop.Setup<bool>("chatPortal.watchAttention", _ => true).SetResult(true);
        var s = ctx.Services;
        s.AddMudServices();
        s.AddLocalization();
        s.AddSingleton(node.GetRequiredService<ChatPortal.Chat.ChatRooms>());
        s.AddSingleton(node.GetRequiredService<ChatPortal.Chat.ChatCommands>());
        s.AddSingleton(node.GetRequiredService<ChatPortal.Chat.ChatHistory>());
        s.AddSingleton(node.GetRequiredService<ChatPortal.Chat.ChatSessions>());
        s.AddSingleton(node.GetRequiredService<ChatPortal.Chat.ChatMetrics>());
        s.AddSingleton(node.GetRequiredService<ChatPortal.Chat.Conversations.ChatReactions>());
        s.AddSingleton(node.GetRequiredService<ChatPortal.Chat.Conversations.SavedMessages>());
        s.AddSingleton(node.GetRequiredService<ChatPortal.Chat.Conversations.ChatThreads>());
        s.AddSingleton(node.GetRequiredService<ChatPortal.Chat.Conversations.ReadReceipts>());
        s.AddSingleton(node.GetRequiredService<ImageStore>());
        s.AddSingleton(node.GetRequiredService<ChatPortal.Chat.Attachments.ChatAttachments>());
        s.AddSingleton(node.GetRequiredService<ImageUrls>());
        s.AddSingleton(node.GetRequiredService<BotDirectory>());
        s.AddSingleton(node.GetRequiredService<ChatPortal.Search.MessageSearch>());
        s.AddSingleton(node.GetRequiredService<IOptions<ImageOptions>>());
        // Profiles (the online list's user chips) and the composer's mute notice: a running portal has
        // them; a bare core gets them built on its database.
        var db = node.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<ChatPortal.Data.ChatDbContext>>();
        s.AddSingleton(node.GetService<ChatPortal.Profiles.ProfileDirectory>() ?? new ChatPortal.Profiles.ProfileDirectory(db,
            new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build(),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<ChatPortal.Profiles.ProfileDirectory>.Instance));
        var users = node.GetRequiredService<ChatPortal.Chat.UserDirectory>();
        s.AddSingleton(node.GetService<ChatPortal.Auth.SelfService.AccountSelfService>() ?? new ChatPortal.Auth.SelfService.AccountSelfService(db, users,
            node.GetRequiredService<ChatPortal.Chat.ChatSessions>(), new ChatPortal.Auth.ApiTokens(db, users, TimeProvider.System), TimeProvider.System));
        s.AddSingleton(node.GetService<ChatPortal.Chat.UserTimeZones>() ?? new ChatPortal.Chat.UserTimeZones());
        s.AddSingleton(node.GetService<TimeProvider>() ?? TimeProvider.System);
        s.AddSingleton(node.GetService<ChatPortal.Chat.Notifications.NotificationSettings>() ?? new ChatPortal.Chat.Notifications.NotificationSettings(db,
            Microsoft.Extensions.Options.Options.Create(new ChatPortal.Chat.Notifications.NotificationOptions()), TimeProvider.System));
        s.AddSingleton(node.GetService<ChatPortal.Chat.UserRooms>() ?? new ChatPortal.Chat.UserRooms(db, node.GetRequiredService<ChatPortal.Chat.ChatRooms>(),
            users, node.GetService<TimeProvider>() ?? TimeProvider.System));
        // Slash commands (issue 16): the composer runs them, the view shows their ephemeral replies.
        s.AddSingleton(sp => node.GetService<ChatPortal.Chat.Integrations.SlashCommands>() ?? new ChatPortal.Chat.Integrations.SlashCommands(
            node.GetRequiredService<ChatPortal.Chat.ChatCommands>(), node.GetRequiredService<ChatPortal.Chat.ChatRooms>(),
            sp.GetRequiredService<ChatPortal.Chat.UserRooms>(), users, sp.GetRequiredService<ChatPortal.Chat.Notifications.NotificationSettings>(),
            node.GetRequiredService<ChatPortal.Chat.IChatBackplane>()));
        s.AddHttpContextAccessor();
        s.AddScoped<RoomMuteSignal>();
        s.AddScoped<ChatCircuit>();
        s.AddScoped<ViewerClock>();
        s.AddScoped<ClientAddress>();
        return ctx;
    }
}
