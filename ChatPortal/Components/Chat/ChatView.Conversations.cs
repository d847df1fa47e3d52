using ChatPortal.Chat;

namespace ChatPortal.Components.Chat;

/// <summary>The conversation features of the room view (issue 15): reactions, pins, saved messages.</summary>
public sealed partial class ChatView
{
    /// <summary>Offered first when reacting; the full picker follows.</summary>
    internal static readonly string[] QuickReactions = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "✅"];

    private enum SidePanel { None, Pins, Saved }

    private long? _reactingId;
    private SidePanel _panel;
    private List<(ChatMessage Message, RoomInfo Room)> _panelItems = [];

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

    private void Update(long messageId, Func<ChatMessage, ChatMessage> change)
    {
        var i = _items.FindIndex(x => x.Message?.Id == messageId);
        if (i >= 0) _items[i] = _items[i] with { Message = change(_items[i].Message!) };
        var held = _missedPosts.FindIndex(m => m.Id == messageId);
        if (held >= 0) _missedPosts[held] = change(_missedPosts[held]);
    }

    private async Task ReactAsync(ChatMessage m, string emoji, bool add)
    {
        _reactingId = null;
        var result = await Reactions.ReactAsync(Me, m.Id, emoji, add);
        if (result.Ok) Update(m.Id, x => x with { Reactions = result.Value });
        else ShowError(ChatErrors.Describe(L, result.Error!));
    }

    private async Task PinAsync(ChatMessage m)
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

    private async Task SaveAsync(ChatMessage m)
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
    private string WhoReacted(ReactionSummary r)
    {
        var names = string.Join(", ", r.Users.Select(u => u.Id == Me.Id ? L["you"].Value : u.Name));
        var more = r.Count - r.Users.Count;
        return more > 0 ? L["{0} reacted with {1}, and {2} more", names, r.Emoji, more] : L["{0} reacted with {1}", names, r.Emoji];
    }
}
