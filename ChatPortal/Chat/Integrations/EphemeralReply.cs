namespace ChatPortal.Chat.Integrations;

/// <summary>
/// A reply only one user sees (issue 16): a slash command's answer or error, a custom command's ephemeral
/// response. Published on the user's own channel (every node), so each of their tabs and sockets that has the
/// room shows it; never stored, never sent to anyone else. <paramref name="Code"/> names the reply for clients
/// that translate (the web view) with <paramref name="Arg"/> (a name); <paramref name="Text"/> is the English text (sockets
/// send it as it is). <paramref name="From"/>: the integration that answered (a custom command's name).
/// </summary>
public sealed record EphemeralReply(long Room, long UserId, string Code, string Text, bool IsError = false, string? From = null, string? Arg = null)
    : ChatEvent(Room);
