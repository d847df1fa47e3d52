using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChatPortal.WebSockets;

// chatportal.v1 frames of the integrations (issue 16; docs/protocol.md "Slash commands").

/// <summary>A reply only this user sees (a command's answer or error); sent to each of their sockets that joined the room.</summary>
internal sealed record EphemeralFrame(long RoomId, string Code, string Text, bool? Error, string? From)
{
    [JsonPropertyOrder(-1)] public string Type => "ephemeral";
}

/// <summary>Reply to <c>command</c>: the command ran; <c>message_id</c> when it posted a message (<c>/me</c>).</summary>
internal sealed record CommandDoneFrame(JsonElement? ReplyTo, long RoomId, string Command, long? MessageId)
{
    [JsonPropertyOrder(-1)] public string Type => "command_done";
}

/// <summary>A message posted by an integration: the name and icon it shows, and which integration (<c>webhook:12</c>, ...).</summary>
internal sealed record WirePostedAs(string? Name, string? IconUrl, string Via);
