namespace ChatPortal.Components.Chat;

/// <summary>
/// Marker for the chat UI's strings (<c>ChatText.resx</c>, <c>ChatText.zh-CN.resx</c>): chat
/// views, drawer, composer, search, app bar. Keys are the English text, so a missing
/// translation shows English.
/// </summary>
public sealed class ChatText;

/// <summary>Localized messages for the core's error codes (the core speaks English; the UI translates by code).</summary>
public static class ChatErrors
{
    public static string Describe(Microsoft.Extensions.Localization.IStringLocalizer<ChatText> l, ChatPortal.Chat.ChatError e) => e.Code switch
    {
        "forbidden" => l["You may not do that here."],
        "muted" => l["You are muted and cannot send messages right now."],
        "banned" => l["Your account is banned."],
        "archived" => l["This room is archived and read-only."],
        "rate_limited" => l["You are sending too fast; wait a moment."],
        "empty" => l["The message is empty."],
        "too_long" => l["The message is too long."],
        "storage_failed" => l["The message could not be stored; it was not sent. Try again."],
        "unavailable" => l["The server is shutting down; try again shortly."],
        "not_found" => l["Not found."],
        "image_empty" => l["The image is empty."],
        "image_too_large" => l["The image is too large."],
        "image_type" => l["Only PNG, JPEG, GIF and WebP images are accepted."],
        "image_corrupt" => l["The image could not be decoded; it is damaged or not an image."],
        "image_dimensions" => l["The image has too many pixels."],
        "image_quota" => l["Your stored images have reached your quota; delete some first."],
        "file_empty" => l["The file is empty."],
        "file_too_large" => l["The file is too large."],
        "file_quota" => l["Your stored files and images have reached your quota; delete some first."],
        "files_disabled" => l["File attachments are switched off here."],
        "not_editable" => l["Images cannot be edited."],
        "self" => l["You cannot start a conversation with yourself."],
        "guest" => l["Guests cannot receive direct messages."],
        "default_room" => l["Everyone stays in the default room."],
        "name_required" => l["Give the room a name."],
        "name_too_long" => l["The name is too long."],
        "topic_too_long" => l["The topic is too long."],
        "not_public" => l["That room is private; you need an invitation."],
        "group_too_small" => l["Name at least two other people for a group conversation."],
        "group_too_large" => l["A group conversation has at most 15 other people."],
        "no_such_user" => l["There is no user with one of those names."],
        "unknown_emoji" => l["That is not an emoji: react with exactly one emoji."],
        "too_many_reactions" => l["This message already has 50 different reactions; react with one of those."],
        "too_many_saved" => l["You have saved too many messages; remove some first."],
        _ => e.Message,
    };
}
