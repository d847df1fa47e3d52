using ChatPortal.Chat.Conversations;
using ChatPortal.Chat.Safeguards;

namespace ChatPortal.Chat;

public static class ChatSetup
{
    /// <summary>
    /// The chat core: one writer, in-process fan-out and presence, and the services adapters call —
    /// <see cref="ChatRooms"/> (rooms, membership), <see cref="ChatCommands"/> (post, edit, delete, typing),
    /// <see cref="ChatHistory"/> (history, catch-up, unread) and <see cref="ChatSessions"/> (one session per connection).
    /// </summary>
    public static IHostApplicationBuilder AddChatCore(this IHostApplicationBuilder builder)
    {
        var s = builder.Services;
        s.Configure<ChatOptions>(builder.Configuration.GetSection(ChatOptions.Section));
        s.AddSingleton(TimeProvider.System);
        s.AddMetrics();
        s.AddSingleton<ChatMetrics>();
        s.AddSingleton<UserDirectory>();
        s.AddSingleton<RoomDirectory>();
        s.AddSingleton<LocalFanout>();
        s.AddSingleton<IChatBackplane, InProcessBackplane>();
        s.AddSingleton<PresenceTracker>();
        s.AddSingleton<PresenceDigest>();
        s.AddHostedService(sp => sp.GetRequiredService<PresenceDigest>());
        s.AddSingleton<UserTimeZones>();
        s.AddSingleton<WordFilter>();
        s.AddSingleton<MessageWriter>();
        s.AddHostedService(sp => sp.GetRequiredService<MessageWriter>());
        s.AddSingleton<ChatHistory>();
        s.AddSingleton<ChatRooms>();
        s.AddSingleton<UserRooms>();
        s.AddSingleton<ChatCommands>();
        s.AddSingleton<ChatSessions>();
        s.AddConversations(); // reactions, pins, saved messages (Chat/Conversations)
        builder.AddChatSafeguards(); // per-address limits, image retention, guest expiry (Chat/Safeguards)
        s.Configure<Attachments.AttachmentOptions>(builder.Configuration.GetSection(Attachments.AttachmentOptions.Section));
        s.AddSingleton<Attachments.ChatAttachments>(); // issue 15: files ride on the images' table, quota and sweep
        return builder;
    }
}
