using ChatPortal.Images;

namespace ChatPortal.Chat;

/// <summary>
/// Posting an image that arrives as bytes (a socket's binary frame): the same check as every post
/// first, so nothing is written to disk for a user who may not post there, then the image store
/// (validated by content), then the post.
/// </summary>
public sealed class ChatImages(ChatCommands commands, ImageStore images)
{
    /// <summary>Why the user may not post an image in the room now, or null (the same check as <see cref="ChatCommands.PostAsync"/>).</summary>
    public async Task<ChatError?> CheckAsync(UserRef user, long roomId, CancellationToken ct = default) =>
        (await commands.CheckPostAsync(user, roomId, ct)).Error;

    public async Task<ChatResult<ChatMessage>> PostAsync(UserRef user, long roomId, ReadOnlyMemory<byte> bytes, string? clientId,
        string? caption = null, CancellationToken ct = default)
    {
        if (await CheckAsync(user, roomId, ct) is { } denied) return denied;
        var saved = await images.SaveAsync(bytes, user.Id, null, ct);
        if (!saved.Ok) return saved.Error!;
        return await commands.PostAsync(user, roomId, caption, clientId, saved.Value!.Id, ct);
    }
}
