using ChatPortal.Chat;
using ChatPortal.Images;
using ChatPortal.Profiles;

namespace ChatPortal.Api;

/// <summary>A user in v1 objects. <c>Bot</c> is true for bot accounts (built-in and made in the back office).</summary>
public sealed record ApiUser(long Id, string Name, string Kind, bool Bot, string? DisplayName = null, string? AvatarUrl = null)
;

/// <summary>A room's numbers (visible posts only), as the built-in bot's "stats" answer uses them.</summary>
public sealed record ApiRoomStats(long RoomId, int Messages, int Images, int Senders, int Members, DateTimeOffset? FirstMessageAt);

public sealed record ApiRoom(long Id, string Slug, string Name, string? Topic, bool Private, bool Archived, bool Direct, bool AllowGuests)
{
    public static ApiRoom From(RoomInfo r) => new(r.Id, r.Slug, r.Name, r.Topic, r.IsPrivate, r.IsArchived, r.IsDirect, r.AllowGuests);
}

public sealed record ApiRoomListing(ApiRoom Room, int Members, bool Joined);

public sealed record ApiImage(string Id, string ContentType, int Width, int Height, long Length, string? Name, bool File, string Url);

public sealed record ApiMessage(long Id, long RoomId, ApiUser Sender, string Kind, string Text, DateTimeOffset CreatedAt,
    DateTimeOffset? EditedAt, bool Deleted, string? ClientId, long? QuoteId, long? ThreadId, bool Pinned, ApiImage? Image);

/// <summary>Maps the core's records to v1 objects (profiles and image links come from their singletons).</summary>
public sealed class ApiViews(ProfileDirectory profiles, ImageUrls urls)
{
    public ApiUser User(UserRef u)
    {
        var card = profiles.Get(u.Id);
        return new(u.Id, u.Name, u.Kind.ToString().ToLowerInvariant(), u.IsBot, card?.DisplayName, card?.AvatarUrl);
    }

    public ApiMessage Message(ChatMessage m) => new(m.Id, m.RoomId, User(m.Sender),
        m.Kind.ToString().ToLowerInvariant(), m.IsDeleted ? "" : m.Text, m.CreatedAt, m.EditedAt, m.IsDeleted, m.ClientMsgId, m.QuoteId, m.ThreadId,
        m.Pinned, m.Image is { } i && !m.IsDeleted ? new ApiImage(i.Id, i.ContentType, i.Width, i.Height, i.Length, i.Name, i.IsFile, urls.For(i.Id)) : null);
}

public sealed record ApiMessagePage(IReadOnlyList<ApiMessage> Messages, long? Before, long? After);

public sealed record ApiSearchHit(ApiMessage Message, ApiRoom Room);

public sealed record ApiSearchPage(IReadOnlyList<ApiSearchHit> Hits, long? NextBefore);

public sealed record ApiDeleted(long Id, long EventId);

// ---------------------------------------------------------------- requests

/// <summary>Create a room: a name (the slug is derived), an optional topic, public or private.</summary>
public sealed record CreateRoomRequest(string? Name, string? Topic, bool Private = false);

/// <summary>Join a public room, or a private one with its invite code.</summary>
public sealed record JoinRoomRequest(string? InviteCode = null);

/// <summary>A post: text (Markdown as in the web chat), an optional client id (unique per sender: retries are idempotent), a quote or thread.</summary>
public sealed record PostMessageRequest(string? Text, string? ClientId = null, long? QuoteId = null, long? ThreadId = null, bool AlsoInRoom = false);

public sealed record EditMessageRequest(string? Text);

/// <summary>Add a member by name (admin scope: the back office's rule).</summary>
public sealed record AddMemberRequest(string? Name);
