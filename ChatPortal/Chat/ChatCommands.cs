using System.Threading.RateLimiting;
using ChatPortal.Data;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat;

/// <summary>What a post points at: a quoted message, a thread (its first message), and whether a thread reply also shows in the room.</summary>
public sealed record MessageLinks(long? QuoteId = null, long? ThreadId = null, bool AlsoInRoom = false);

/// <summary>
/// What users do to messages: post (text or an uploaded image), edit, delete, and say they are
/// typing. Each command is validated, authorized (<see cref="RoomDirectory.CheckPostAsync"/>),
/// rate-limited and word-filtered here, for every adapter alike, then goes through the single writer:
/// the task completes once the change is stored and fanned out.
/// </summary>
public sealed class ChatCommands(MessageWriter writer, RoomDirectory rooms, ChatRooms roomService, ChatHistory history, UserDirectory users,
    WordFilter wordFilter, IChatBackplane backplane, IOptions<ChatOptions> options, TimeProvider time,
    Safeguards.AddressLimits? addressLimits = null, Conversations.ChatThreads? threads = null) : IDisposable
{
    private readonly ChatOptions _options = options.Value;
    private readonly PartitionedRateLimiter<long> _rate = PartitionedRateLimiter.Create<long, long>(userId =>
        RateLimitPartition.GetTokenBucketLimiter(userId, _ => BucketFor(options.Value)));
    private readonly CountedMap<(long User, long Room), DateTimeOffset> _typing = new();

    public ChatOptions Options => _options;

    /// <summary>A burst of N, refilled at the configured rate (in steps of at most 100 ms).</summary>
    internal static TokenBucketRateLimiterOptions BucketFor(ChatOptions o)
    {
        var perSecond = Math.Max(0.01, o.RateLimitPerSecond);
        var (tokens, period) = perSecond >= 10
            ? ((int)Math.Ceiling(perSecond / 10), TimeSpan.FromMilliseconds(100))
            : (1, TimeSpan.FromSeconds(1 / perSecond));
        return new TokenBucketRateLimiterOptions
        {
            TokenLimit = Math.Max(1, o.RateLimitBurst),
            TokensPerPeriod = tokens,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        };
    }

    // ---------------------------------------------------------------- posting

    /// <summary>
    /// Validates, authorizes and rate-limits a post, then stores it. The task completes only
    /// after the message is committed (and fanned out); its id orders it in the room.
    /// </summary>
    public async Task<ChatResult<ChatMessage>> PostAsync(UserRef sender, long roomId, string? text,
        string? clientMsgId = null, string? imageId = null, CancellationToken ct = default, string? address = null, MessageLinks? links = null,
        MessageStyle? style = null) =>
        await (await BeginPostAsync(sender, roomId, text, clientMsgId, imageId, ct, address, links, style));

    /// <summary>
    /// <see cref="PostAsync"/> in two steps, for connections that pipeline their sends: the outer
    /// task completes once the post is checked and queued to the writer (so posts begun one after
    /// another are stored in that order), the inner one once it is committed and fanned out.
    /// A socket can thus have many posts in one group commit instead of one per round trip.
    /// </summary>
    public async Task<Task<ChatResult<ChatMessage>>> BeginPostAsync(UserRef sender, long roomId, string? text,
        string? clientMsgId = null, string? imageId = null, CancellationToken ct = default, string? address = null, MessageLinks? links = null,
        MessageStyle? style = null)
    {
        var body = CleanText(text);
        if (imageId is null && body.Length == 0) return Refused(ChatError.Empty);
        if (body.Length > _options.MaxMessageLength) return Refused(ChatError.TooLong(_options.MaxMessageLength));
        if (clientMsgId is { Length: > 64 }) return Refused(new ChatError("bad_client_id", "The client message id is longer than 64 characters."));
        var filtered = await wordFilter.ApplyAsync(body, ct);
        if (filtered.Rejected) return Refused(ChatError.Filtered);
        body = filtered.Text;

        var (room, error) = await CheckPostAsync(sender, roomId, ct);
        if (error is not null) return Refused(error);

        ImageRef? image = null;
        if (imageId is not null)
        {
            image = await history.GetImageAsync(imageId, ct);
            if (image is null) return Refused(ChatError.NotFound("The image"));
        }

        // A quote or a thread names a visible post of the same room (a thread's root is not itself a reply in a thread).
        QuoteRef? quote = null;
        if (links?.QuoteId is { } quoteId)
        {
            var quoted = await history.GetRowAsync(quoteId, ct);
            if (quoted is null || quoted.RoomId != room!.Id || quoted.IsDeleted || quoted.Kind is not (MessageKind.Text or MessageKind.Image))
                return Refused(ChatError.NotFound("The quoted message"));
            quote = new QuoteRef(quoted.Id, quoted.Sender, quoted.Text.Length <= 200 ? quoted.Text : quoted.Text[..200] + "…", false);
        }
        if (links?.ThreadId is { } threadId)
        {
            var root = await history.GetRowAsync(threadId, ct);
            if (root is null || root.RoomId != room!.Id || root.IsDeleted || root.Kind is not (MessageKind.Text or MessageKind.Image))
                return Refused(ChatError.NotFound("The thread"));
            if (root.ThreadId is not null) return Refused(new ChatError("not_a_thread", "That message is a reply in a thread; reply to the thread's first message."));
        }

        if (!sender.IsBot)
        {
            using var lease = _rate.AttemptAcquire(sender.Id);
            if (!lease.IsAcquired) return Refused(ChatError.RateLimited);
            if (addressLimits?.TryPost(address) == false) return Refused(ChatError.RateLimited); // rotating users buys nothing
        }

        var row = new Message
        {
            RoomId = room!.Id,
            SenderId = sender.Id,
            Kind = image is null ? MessageKind.Text : MessageKind.Image,
            Text = body,
            ClientMsgId = string.IsNullOrEmpty(clientMsgId) ? null : clientMsgId,
            ImageId = image?.Id,
            CreatedAt = time.GetUtcNow(),
            QuoteId = quote?.Id,
            ThreadId = links?.ThreadId,
            AlsoInRoom = links is { ThreadId: not null, AlsoInRoom: true },
            IsAction = style?.Action == true,
            AsName = Clip(style?.As?.Name, 80),
            AsIcon = Clip(style?.As?.IconUrl, 500),
            PostedVia = style?.As?.Via,
        };
        // Followers first, so whoever hears of the reply finds the thread among theirs.
        if (row.ThreadId is { } thread && threads is not null) await threads.NoteReplyAsync(room.Id, thread, sender, body, ct);
        var stored = await writer.EnqueueAsync(new PostOp(sender, row, image, quote), ct);
        return FinishPostAsync(sender, room, stored, ct);
    }

    /// <summary>The room, or why the user may not post in it now (the check every post and image upload makes).</summary>
    public async Task<(RoomInfo? Room, ChatError? Error)> CheckPostAsync(UserRef sender, long roomId, CancellationToken ct = default)
    {
        var room = await rooms.GetAsync(roomId, ct);
        if (room is null) return (null, ChatError.NotFound("The room"));
        var denied = await rooms.CheckPostAsync(sender, room, ct);
        return denied is null ? (room, null) : (null, denied);
    }

    private static Task<ChatResult<ChatMessage>> Refused(ChatError error) => Task.FromResult<ChatResult<ChatMessage>>(error);

    private async Task<ChatResult<ChatMessage>> FinishPostAsync(UserRef sender, RoomInfo room, Task<WriteResult> stored, CancellationToken ct)
    {
        var result = await stored.WaitAsync(ct);
        if (result.Error is not null) return result.Error;
        var message = result.Message!;
        _typing.TryRemove((sender.Id, room.Id), out _); // a new message starts a new typing period
        if (message.ThreadId is { } threadId && threads is not null) await threads.MarkReadAsync(sender, threadId, message.Id, ct); // one's own reply is read
        if (room.IsDirect && !result.Duplicate)
        {
            var partner = await roomService.DirectPartnerAsync(room.Id, sender.Id, ct);
            if (partner is not null)
                backplane.Publish(new DirectActivity(room.Id, partner, new DirectConversation(room, sender), message.Id));
        }
        return message;
    }

    // ---------------------------------------------------------------- editing and deleting

    public async Task<ChatResult<ChatMessage>> EditAsync(UserRef editor, long messageId, string? text, CancellationToken ct = default)
    {
        var body = CleanText(text);
        if (body.Length == 0) return ChatError.Empty;
        if (body.Length > _options.MaxMessageLength) return ChatError.TooLong(_options.MaxMessageLength);
        var filtered = await wordFilter.ApplyAsync(body, ct);
        if (filtered.Rejected) return ChatError.Filtered;
        body = filtered.Text;
        var target = await history.GetRowAsync(messageId, ct);
        if (target is null || target.IsDeleted || target.Kind is MessageKind.Edit or MessageKind.Delete)
            return ChatError.NotFound("The message");
        // A message in a room the editor may not read answers as a missing one; then: only one's own, not while muted.
        var room = await rooms.GetAsync(target.RoomId, ct);
        if (room is null || await rooms.CheckReadAsync(editor, room, ct) is { Code: "not_found" }) return ChatError.NotFound("The message");
        if (target.Sender.Id != editor.Id) return ChatError.Forbidden;
        if (target.Kind == MessageKind.Image) return new ChatError("not_editable", "Images cannot be edited.");
        if (await rooms.CheckPostAsync(editor, room, ct) is { } denied) return denied;

        var row = new Message
        {
            RoomId = target.RoomId, SenderId = editor.Id, Kind = MessageKind.Edit, Text = body, TargetId = target.Id, CreatedAt = time.GetUtcNow(),
        };
        var result = await writer.SubmitAsync(new ChangeOp(editor, row, editor, null), ct);
        return result.Error is not null ? result.Error : result.Message!;
    }

    /// <summary>Deletes one's own message, or any message when <paramref name="asModerator"/> (the back office).</summary>
    public async Task<ChatResult<long>> DeleteAsync(UserRef by, long messageId, bool asModerator = false, CancellationToken ct = default)
    {
        var target = await history.GetRowAsync(messageId, ct);
        if (target is null || target.IsDeleted || target.Kind is MessageKind.Edit or MessageKind.Delete)
            return ChatError.NotFound("The message");
        if (!asModerator)
        {
            // One's own message may go while muted too, but not from a room one may no longer see.
            var room = await rooms.GetAsync(target.RoomId, ct);
            var state = await users.GetAsync(by.Id, ct);
            if (room is null || state is null || !await rooms.IsVisibleAsync(by, room, ct)) return ChatError.NotFound("The message");
            if (state.Banned) return ChatError.Banned;
            if (target.Sender.Id != by.Id) return ChatError.Forbidden;
        }
        var row = new Message
        {
            RoomId = target.RoomId, SenderId = by.Id, Kind = MessageKind.Delete, TargetId = target.Id, CreatedAt = time.GetUtcNow(),
        };
        var result = await writer.SubmitAsync(new ChangeOp(by, row, target.Sender, null), ct);
        return result.Error is not null ? result.Error : result.Row!.Id;
    }

    private static string? Clip(string? s, int max) => string.IsNullOrWhiteSpace(s) ? null : s.Length <= max ? s.Trim() : s[..max].Trim();

    /// <summary>Keeps line breaks and tabs, drops other control characters, trims the ends.</summary>
    internal static string CleanText(string? text)
    {
        if (string.IsNullOrEmpty(text)) return "";
        var needsClean = false;
        foreach (var c in text)
        {
            if (char.IsControl(c) && c is not '\n' and not '\t') { needsClean = true; break; }
        }
        if (needsClean)
            text = string.Concat(text.Where(c => !char.IsControl(c) || c is '\n' or '\t'));
        return text.Trim();
    }

    // ---------------------------------------------------------------- typing

    /// <summary>
    /// Announces that the user is typing: the one throttle for every adapter, at most one event per
    /// user and room per <see cref="ChatOptions.TypingInterval"/>. True when announced.
    /// </summary>
    public bool Typing(UserRef user, long roomId)
    {
        var now = time.GetUtcNow();
        var key = (user.Id, roomId);
        if (_typing.TryGetValue(key, out var last) && now - last < _options.TypingInterval) return false;
        _typing.Set(key, now);
        if (_typing.Count > 50_000)
        {
            foreach (var (k, at) in _typing)
                if (now - at > _options.TypingInterval) _typing.TryRemove(k, out _);
        }
        backplane.Publish(new UserTyping(roomId, user));
        return true;
    }

    public void Dispose() => _rate.Dispose();
}
