using ChatPortal.Auth;
using ChatPortal.Chat;
using Microsoft.Extensions.Options;

namespace ChatPortal.WebSockets;

/// <summary>What every socket needs, in one singleton (a socket itself is not a DI service).</summary>
public sealed class SocketServices(ChatSessions sessions, ChatRooms rooms, ChatCommands commands, ChatHistory history, ChatImages images,
    Chat.Attachments.ChatAttachments attachments, SocketTickets tickets, ApiTokens tokens, GuestAccounts guests, PlainWireFormat plain, V1WireFormat v1, WebSocketMetrics metrics,
    IOptions<WebSocketEndpointOptions> options, TimeProvider time, ILoggerFactory logs, SiteAccess site, Chat.Conversations.ChatReactions reactions,
    Chat.Conversations.SavedMessages saved, Chat.Conversations.ChatThreads threads, Chat.Conversations.ReadReceipts receipts,
    Chat.Integrations.SlashCommands slash)
{
    public Chat.Integrations.SlashCommands Slash { get; } = slash;
    /// <summary>Whether guests may connect now (a site setting; <see cref="WebSocketEndpointOptions.AllowGuests"/> until the back office sets it).</summary>
    public SiteAccess Site { get; } = site;
    public Chat.Conversations.ReadReceipts Receipts { get; } = receipts;
    public Chat.Conversations.ChatThreads Threads { get; } = threads;
    public Chat.Conversations.ChatReactions Reactions { get; } = reactions;
    public Chat.Conversations.SavedMessages Saved { get; } = saved;
    public WebSocketMetrics Metrics { get; } = metrics;
    public ChatSessions Sessions { get; } = sessions;
    public ChatRooms Rooms { get; } = rooms;
    public ChatCommands Commands { get; } = commands;
    public ChatHistory History { get; } = history;
    public ChatImages Images { get; } = images;
    public Chat.Attachments.ChatAttachments Attachments { get; } = attachments;
    public SocketTickets Tickets { get; } = tickets;
    public ApiTokens Tokens { get; } = tokens;
    public GuestAccounts Guests { get; } = guests;
    public PlainWireFormat Plain { get; } = plain;
    public V1WireFormat V1 { get; } = v1;
    public WebSocketEndpointOptions Options { get; } = options.Value;
    public TimeProvider Time { get; } = time;
    public ILoggerFactory Logs { get; } = logs;
}
