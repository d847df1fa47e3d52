using ChatPortal.Chat;
using Microsoft.AspNetCore.Components.Web;

namespace ChatPortal.Components.Chat;

/// <summary>The conversation features of the room view (issue 15): reactions, pins, saved messages.</summary>
public sealed partial class ChatView
{
    /// <summary>Offered first when reacting; the full picker follows.</summary>
    internal static readonly string[] QuickReactions = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "✅"];

    private enum SidePanel { None, Pins, Saved, Thread, Threads }

    private long? _reactingId;
    private SidePanel _panel;
    private List<(ChatMessage Message, RoomInfo Room)> _panelItems = [];
    private ChatMessage? _quote;
    private ChatMessage? _thread;
    private List<ChatMessage> _threadReplies = [];
    private bool _following;
    private string _threadDraft = "";
    private bool _alsoInRoom;
    private string? _threadError;
    private IReadOnlyList<ChatPortal.Chat.Conversations.ThreadEntry> _threadList = [];
    private int _threadUnread;
    /// <summary>Replies already counted on their first message (my own send and its live event are one reply).</summary>
    private readonly HashSet<long> _countedReplies = [];

    /// <summary>A reaction or pin event of this room: the message shows the new state (the event carries all of it).</summary>
    private void ApplyConversation(ChatEvent evt)
    {
        switch (evt)
        {
            case ReactionChanged r:
                Update(r.MessageId, m => m with { Reactions = r.Reactions });
                break;
            case PinChanged p:
                Update(p.MessageId, m => m with { Pinned = p.Pinned });
                if (_panel == SidePanel.Pins) _ = InvokeAsync(LoadPanelAsync);
                break;
        }
    }

    /// <summary>The user saved something or (un)followed a thread in another tab or socket (or this one): the panels follow.</summary>
    private async Task ApplyPersonalAsync(ChatEvent evt)
    {
        if (_lost is not null || _ended) return;
        switch (evt)
        {
            case SavedChanged when _panel == SidePanel.Saved:
                await LoadPanelAsync();
                break;
            case ThreadFollowChanged t:
                if (_thread?.Id == t.ThreadId) _following = t.Following;
                await RefreshThreadsAsync(); // the Threads view and its badge
                break;
        }
        StateHasChanged();
    }

    private void Update(long messageId, Func<ChatMessage, ChatMessage> change)
    {
        var i = _items.FindIndex(x => x.Message?.Id == messageId);
        if (i >= 0) _items[i] = _items[i] with { Message = change(_items[i].Message!) };
        var held = _missedPosts.FindIndex(m => m.Id == messageId);
        if (held >= 0) _missedPosts[held] = change(_missedPosts[held]);
    }

    internal async Task ReactAsync(ChatMessage m, string emoji, bool add)
    {
        _reactingId = null;
        var result = await Reactions.ReactAsync(Me, m.Id, emoji, add);
        if (result.Ok) Update(m.Id, x => x with { Reactions = result.Value });
        else ShowError(ChatErrors.Describe(L, result.Error!));
    }

    internal async Task PinAsync(ChatMessage m)
    {
        var pin = !m.Pinned;
        var result = await Reactions.PinAsync(Me, m.Id, pin);
        if (!result.Ok)
        {
            ShowError(ChatErrors.Describe(L, result.Error!));
            return;
        }
        Update(m.Id, x => x with { Pinned = pin });
        if (_panel == SidePanel.Pins) await LoadPanelAsync();
    }

    internal async Task SaveAsync(ChatMessage m)
    {
        var result = await Saved.SaveAsync(Me, m.Id);
        ShowError(result.Ok ? L["Saved. Find it under Saved messages."] : ChatErrors.Describe(L, result.Error!));
        if (_panel == SidePanel.Saved) await LoadPanelAsync();
    }

    private async Task UnsaveAsync(ChatMessage m)
    {
        await Saved.SaveAsync(Me, m.Id, save: false);
        await LoadPanelAsync();
    }

    private async Task TogglePanelAsync(SidePanel panel)
    {
        _panel = _panel == panel ? SidePanel.None : panel;
        _searchOpen = false;
        _onlineOpen = false;
        await LoadPanelAsync();
    }

    private async Task LoadPanelAsync()
    {
        switch (_panel)
        {
            case SidePanel.Pins:
                var pins = await Reactions.PinnedAsync(Me, Room.Id);
                _panelItems = (pins.Value ?? []).Select(m => (m, Room)).ToList();
                break;
            case SidePanel.Saved:
                _panelItems = (await Saved.ListAsync(Me)).ToList();
                break;
            case SidePanel.Threads:
                await RefreshThreadsAsync();
                break;
            case SidePanel.Thread:
                break;
            default:
                _panelItems = [];
                break;
        }
        StateHasChanged();
    }

    private async Task OpenPanelItemAsync(ChatMessage m, RoomInfo room)
    {
        if (room.Id == Room.Id)
        {
            _focusedFor = m.Id;
            await ShowAroundAsync(m.Id);
            return;
        }
        var path = room.IsDirect ? "/dm" : $"/rooms/{Uri.EscapeDataString(room.Slug)}";
        if (room.IsDirect)
        {
            var other = await Rooms.DirectPartnerAsync(room.Id, Me.Id);
            if (other is null) return;
            path = $"/dm/{Uri.EscapeDataString(other.Name)}";
        }
        Navigation.NavigateTo($"{path}?msg={m.Id}");
    }

    /// <summary>"who reacted": the names (the first ones), and how many more.</summary>
    internal string WhoReacted(ReactionSummary r)
    {
        var names = string.Join(", ", r.Users.Select(u => u.Id == Me.Id ? L["you"].Value : u.Name));
        var more = r.Count - r.Users.Count;
        return more > 0 ? L["{0} reacted with {1}, and {2} more", names, r.Emoji, more] : L["{0} reacted with {1}", names, r.Emoji];
    }

    // ------------------------------------------------------------- threads

    /// <summary>
    /// A reply in a thread arrived: the first message's reply count and the open thread follow it. True when it
    /// stays in its thread (not also sent to the room), so the room's list does not show it.
    /// </summary>
    private bool ApplyThreadReply(ChatMessage reply)
    {
        var rootId = reply.ThreadId!.Value;
        CountReply(rootId, reply);
        if (_panel == SidePanel.Thread && _thread?.Id == rootId && _threadReplies.All(r => r.Id != reply.Id))
        {
            _threadReplies.Add(reply);
            if (RendererInfo.IsInteractive && !Me.IsGuest) _ = Threads.MarkReadAsync(Me, rootId, reply.Id);
        }
        else if (!Me.IsGuest)
        {
            _ = InvokeAsync(RefreshThreadsAsync); // the Threads badge (maybe one more unread) and the view's counts, mine too
        }
        return !reply.AlsoInRoom;
    }

    private void CountReply(long rootId, ChatMessage reply)
    {
        if (_countedReplies.Add(reply.Id))
            Update(rootId, m => m with { Thread = new ThreadSummary((m.Thread?.Replies ?? 0) + 1, reply.CreatedAt) });
    }

    internal async Task OpenThreadAsync(long rootId)
    {
        var thread = await Threads.ThreadAsync(Me, rootId);
        if (!thread.Ok)
        {
            ShowError(ChatErrors.Describe(L, thread.Error!));
            return;
        }
        (_thread, var replies) = thread.Value;
        _threadReplies = replies.ToList();
        _threadError = null;
        _searchOpen = _onlineOpen = false;
        _panel = SidePanel.Thread;
        if (!Me.IsGuest)
        {
            _following = await Threads.IsFollowingAsync(Me.Id, rootId);
            await Threads.MarkReadAsync(Me, rootId);
            await RefreshThreadsAsync();
        }
    }

    private async Task OpenThreadEntryAsync(ChatPortal.Chat.Conversations.ThreadEntry t)
    {
        if (t.Room.Id == Room.Id)
        {
            await OpenThreadAsync(t.Root.Id);
            return;
        }
        await OpenPanelItemAsync(t.Root, t.Room);
    }

    private async Task RefreshThreadsAsync()
    {
        if (Me.IsGuest) return;
        _threadList = await Threads.ThreadsAsync(Me);
        _threadUnread = _threadList.Sum(t => t.Unread);
        StateHasChanged();
    }

    private async Task ToggleFollowAsync()
    {
        if (_thread is null) return;
        var result = await Threads.FollowAsync(Me, _thread.Id, !_following);
        if (result.Ok) _following = !_following;
        await RefreshThreadsAsync();
    }

    private async Task ThreadKeyAsync(KeyboardEventArgs e)
    {
        if (e.Key == "Enter" && !e.ShiftKey && !e.IsComposing) await SendThreadReplyAsync();
    }

    private async Task SendThreadReplyAsync()
    {
        if (_thread is null || string.IsNullOrWhiteSpace(_threadDraft)) return;
        var text = _threadDraft;
        var result = await Commands.PostAsync(Me, Room.Id, text, clientMsgId: Guid.NewGuid().ToString("N"), address: Address.Value,
            links: new MessageLinks(ThreadId: _thread.Id, AlsoInRoom: _alsoInRoom));
        if (!result.Ok)
        {
            _threadError = ChatErrors.Describe(L, result.Error!);
            return;
        }
        _threadError = null;
        if (_threadDraft == text) _threadDraft = "";
        var reply = result.Value!;
        if (_threadReplies.All(r => r.Id != reply.Id))
        {
            _threadReplies.Add(reply);
        }
        CountReply(_thread.Id, reply);
        if (reply.AlsoInRoom && _atLatest) Upsert(reply);
        _following = true; // replying follows the thread
    }

    // ------------------------------------------------------------- read receipts

    /// <summary>
    /// How far the members who read past <see cref="_receiptFloor"/> have read (those who hide receipts are never
    /// listed): ✓✓ and "seen by N". Only those: every view kept every member's cursor before, O(members) per circuit.
    /// </summary>
    private readonly Dictionary<long, (UserRef User, long LastReadId)> _cursors = [];
    private long? _lastMineId;

    /// <summary>
    /// The read position from which a cursor can change what this view shows: in a direct conversation every cursor
    /// (✓✓ on each of my messages; two members); in a room the first of my messages on screen ("seen by" is under
    /// my last one, and if that goes the one before it takes over), or, with none of mine on screen, past the newest
    /// message shown (only a reader of a message I have yet to send or load can matter).
    /// </summary>
    private long _receiptFloor;

    /// <summary>How many members' read cursors this view holds (tests).</summary>
    internal int CursorsKept => _cursors.Count;

    /// <summary>The member list offered after "@" (tests: shared between the views of a room).</summary>
    internal IReadOnlyList<UserRef> Members => _members;

    private long ReceiptFloor()
    {
        if (Room.IsDirect) return 0;
        long? firstMine = null;
        long newest = 0;
        foreach (var i in _items)
        {
            if (i.Message is not { } m) continue;
            if (m.Sender.Id == Me.Id && !m.IsDeleted) firstMine ??= m.Id;
            newest = Math.Max(newest, m.Id);
        }
        return firstMine ?? newest + 1;
    }

    /// <summary>
    /// After a render: a higher floor (I posted, the view moved on) lets go of the cursors below it; a lower one (an
    /// older message of mine came into view) reads the readers from there. Returns whether the page may change.
    /// </summary>
    private async Task<bool> MoveReceiptFloorAsync()
    {
        var floor = ReceiptFloor();
        if (floor < _receiptFloor)
        {
            await LoadReceiptsAsync();
            return _cursors.Count > 0;
        }
        if (floor > _receiptFloor && _cursors.Count > 0)
        {
            foreach (var (id, c) in _cursors)
            {
                if (c.LastReadId < floor) _cursors.Remove(id);
            }
        }
        _receiptFloor = floor;
        return false;
    }

    private void NoteCursor(UserRef user, long lastReadId)
    {
        if (user.Id != Me.Id && lastReadId >= _receiptFloor) _cursors[user.Id] = (user, lastReadId); // mine never shows
    }

    private async Task LoadReceiptsAsync()
    {
        _cursors.Clear();
        _receiptFloor = ReceiptFloor();
        var cursors = await Receipts.CursorsAsync(Me, Room.Id, readFrom: _receiptFloor);
        foreach (var c in cursors.Value ?? []) NoteCursor(c.User, c.LastReadId);
    }

    /// <summary>The others who have read up to this message.</summary>
    private List<UserRef> SeenBy(ChatMessage m) =>
        _cursors.Values.Where(c => c.User.Id != Me.Id && c.LastReadId >= m.Id).Select(c => c.User).OrderBy(u => u.Name, StringComparer.OrdinalIgnoreCase).ToList();
}
