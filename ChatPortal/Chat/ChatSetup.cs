using ChatPortal.Chat.Safeguards;

namespace ChatPortal.Chat;

public static class ChatSetup
{
    /// <summary>The chat core: one writer, in-process fan-out and presence, the service adapters call.</summary>
    public static IHostApplicationBuilder AddChatCore(this IHostApplicationBuilder builder)
    {
        var s = builder.Services;
        s.Configure<ChatOptions>(builder.Configuration.GetSection(ChatOptions.Section));
        s.AddSingleton(TimeProvider.System);
        s.AddSingleton<LocalFanout>();
        s.AddSingleton<IChatBackplane, InProcessBackplane>();
        s.AddSingleton<PresenceTracker>();
        s.AddSingleton<UserDirectory>();
        s.AddSingleton<WordFilter>();
        s.AddSingleton<MessageWriter>();
        s.AddHostedService(sp => sp.GetRequiredService<MessageWriter>());
        s.AddSingleton<ChatService>();
        builder.AddChatSafeguards(); // per-address limits, image retention, guest expiry (Chat/Safeguards)
        return builder;
    }
}
