using System.Text.Json;

namespace ChatPortal.WebSockets;

/// <summary>The <c>chatportal.v1</c> requests of the conversation features: one core call each (see docs/protocol.md).</summary>
internal sealed partial class V1Protocol
{
    private async Task ReactAsync(Request r, bool add)
    {
        if (r.Frame.MessageId is not { } messageId || r.Frame.Emoji is null)
        {
            Error(r.Id, "bad_request", $"{(add ? "react" : "unreact")} needs \"message_id\" and \"emoji\".");
            return;
        }
        var result = await _s.Reactions.ReactAsync(r.Me, messageId, r.Frame.Emoji, add, r.Ct);
        if (!result.Ok) Error(r.Id, result.Error!);
        else conn.Send(PlainWireFormat.Json(new ReactedFrame(r.Id, messageId, WireConversations.Reactions(_s.V1, result.Value!)), J.ReactedFrame));
    }

    private async Task PinAsync(Request r, bool pin)
    {
        if (r.Frame.MessageId is not { } messageId)
        {
            Error(r.Id, "bad_request", $"{(pin ? "pin" : "unpin")} needs \"message_id\".");
            return;
        }
        var result = await _s.Reactions.PinAsync(r.Me, messageId, pin, r.Ct);
        if (!result.Ok) Error(r.Id, result.Error!);
        else conn.Send(PlainWireFormat.Json(new MarkedFrame(pin ? "pinned" : "unpinned", r.Id, messageId, result.Value), J.MarkedFrame));
    }

    private async Task PinsAsync(Request r)
    {
        var (room, error) = await ResolveRoomAsync(r.Me, r.Frame, r.Ct);
        if (room is null)
        {
            Error(r.Id, error!);
            return;
        }
        var pins = await _s.Reactions.PinnedAsync(r.Me, room.Id, r.Ct);
        if (!pins.Ok) Error(r.Id, pins.Error!);
        else conn.Send(PlainWireFormat.Json(new MessageListFrame("pins", r.Id, room.Id, pins.Value!.Select(_s.V1.Message).ToList()), J.MessageListFrame));
    }

    private async Task SaveAsync(Request r, bool save)
    {
        if (r.Frame.MessageId is not { } messageId)
        {
            Error(r.Id, "bad_request", $"{(save ? "save" : "unsave")} needs \"message_id\".");
            return;
        }
        var result = await _s.Saved.SaveAsync(r.Me, messageId, save, r.Ct);
        if (!result.Ok) Error(r.Id, result.Error!);
        else conn.Send(PlainWireFormat.Json(new MarkedFrame(save ? "saved" : "unsaved", r.Id, messageId, result.Value), J.MarkedFrame));
    }

    private async Task SavedListAsync(Request r)
    {
        var list = await _s.Saved.ListAsync(r.Me, r.Ct);
        conn.Send(PlainWireFormat.Json(new MessageListFrame("saved_messages", r.Id, null, list.Select(x => _s.V1.Message(x.Message)).ToList()),
            J.MessageListFrame));
    }

    private static Chat.MessageLinks? Links(ClientFrame f) =>
        f.Quote is null && f.ThreadId is null ? null : new Chat.MessageLinks(f.Quote, f.ThreadId, f.AlsoInRoom == true);

    private async Task ThreadAsync(Request r)
    {
        if (r.Frame.MessageId is not { } rootId)
        {
            Error(r.Id, "bad_request", "thread needs \"message_id\" (the thread's first message).");
            return;
        }
        var thread = await _s.Threads.ThreadAsync(r.Me, rootId, r.Ct);
        if (!thread.Ok)
        {
            Error(r.Id, thread.Error!);
            return;
        }
        var (root, replies) = thread.Value;
        var following = await _s.Threads.IsFollowingAsync(r.Me.Id, rootId, r.Ct);
        conn.Send(PlainWireFormat.Json(new ThreadFrame(r.Id, _s.V1.Message(root), replies.Select(_s.V1.Message).ToList(), following), J.ThreadFrame));
    }

    private async Task FollowAsync(Request r, bool follow)
    {
        if (r.Frame.MessageId is not { } rootId)
        {
            Error(r.Id, "bad_request", $"{(follow ? "follow" : "unfollow")} needs \"message_id\" (the thread's first message).");
            return;
        }
        var result = await _s.Threads.FollowAsync(r.Me, rootId, follow, r.Ct);
        if (!result.Ok) Error(r.Id, result.Error!);
        else conn.Send(PlainWireFormat.Json(new MarkedFrame(follow ? "followed" : "unfollowed", r.Id, rootId, result.Value), J.MarkedFrame));
    }

    private async Task ThreadsAsync(Request r)
    {
        var list = await _s.Threads.ThreadsAsync(r.Me, r.Ct);
        conn.Send(PlainWireFormat.Json(new ThreadsFrame(r.Id, list.Select(t => new WireThreadEntry(_s.V1.Message(t.Root), t.Room.Id, t.Replies, t.Unread,
            t.LastReplyAt is { } at ? WireJson.Utc(at) : null)).ToList()), J.ThreadsFrame));
    }

    private async Task ThreadReadAsync(Request r)
    {
        if (r.Frame.MessageId is not { } rootId)
        {
            Error(r.Id, "bad_request", "thread_read needs \"message_id\" (the thread's first message).");
            return;
        }
        await _s.Threads.MarkReadAsync(r.Me, rootId, ct: r.Ct); // the whole thread, as far as it is now
        conn.Send(PlainWireFormat.Json(new MarkedFrame("thread_read", r.Id, rootId, true), J.MarkedFrame));
    }

    private async Task ReadAsync(Request r)
    {
        var (room, error) = await ResolveRoomAsync(r.Me, r.Frame, r.Ct);
        if (room is not null && r.Frame.MessageId is null) error = new Chat.ChatError("bad_request", "read needs \"room\" and \"message_id\" (the last message read).");
        else if (room is not null && await _s.Rooms.Directory.CheckReadAsync(r.Me, room, r.Ct) is { } denied) error = denied;
        if (error is not null)
        {
            Error(r.Id, error);
            return;
        }
        await _s.Receipts.MarkReadAsync(r.Me, room!.Id, r.Frame.MessageId!.Value, r.Ct);
        conn.Send(PlainWireFormat.Json(new MarkedFrame("read", r.Id, r.Frame.MessageId.Value, true), J.MarkedFrame));
    }

    private async Task ReceiptsAsync(Request r)
    {
        var (room, error) = await ResolveRoomAsync(r.Me, r.Frame, r.Ct);
        if (room is null)
        {
            Error(r.Id, error!);
            return;
        }
        var cursors = await _s.Receipts.CursorsAsync(r.Me, room.Id, r.Ct);
        if (!cursors.Ok) Error(r.Id, cursors.Error!);
        else conn.Send(PlainWireFormat.Json(new ReceiptsFrame(r.Id, room.Id, cursors.Value!.Select(c => new WireCursor(_s.V1.User(c.User), c.LastReadId)).ToList()),
            J.ReceiptsFrame));
    }

    private async Task ReceiptSettingAsync(Request r)
    {
        if (r.Frame.Hidden is not { } hidden)
        {
            Error(r.Id, "bad_request", "read_receipts needs \"hidden\": true or false.");
            return;
        }
        await _s.Receipts.SetHiddenAsync(r.Me, hidden, r.Ct);
        conn.Send(PlainWireFormat.Json(new MarkedFrame("read_receipts", r.Id, 0, hidden), J.MarkedFrame));
    }
}
