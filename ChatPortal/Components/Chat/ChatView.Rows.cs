using ChatPortal.Chat;

namespace ChatPortal.Components.Chat;

/// <summary>What a message row (<see cref="MessageRow"/>) reads from and does to its view.</summary>
public sealed partial class ChatView
{
    internal UserRef Viewer => Me;
    internal RowTexts Texts => Row;
    internal int MaxMessageLength => Commands.Options.MaxMessageLength;
    internal string EditDraft { get => _editDraft; set => _editDraft = value; }
    internal void QuoteFrom(ChatMessage m) => _quote = m;
    internal void ToggleReacting(long id) => _reactingId = _reactingId == id ? null : id;
    internal void ConfirmDelete(long? id) => _confirmDeleteId = id;
    internal void ShowPreview(ImageRef image) => _preview = image;

    /// <summary>
    /// A click on a row's button (<see cref="RowActionEventArgs"/>): the one handler for the buttons of all rows. It does
    /// only what that row offered its reader (a client can send any action for any id): the core checks again.
    /// </summary>
    private Task OnRowActionAsync(RowActionEventArgs e)
    {
        if (_items.FirstOrDefault(i => i.Message?.Id == e.Id)?.Message is not { } m || m.IsDeleted) return Task.CompletedTask;
        var mine = m.Sender.Id == Me.Id;
        var actions = _lost is null && _editingId != m.Id;
        switch (e.Action)
        {
            case "quote" when actions: QuoteFrom(m); break;
            case "thread" when actions: return OpenThreadAsync(m.ThreadId ?? m.Id);
            case "react" when actions: ToggleReacting(m.Id); break;
            case "pin" when actions: return PinAsync(m);
            case "save" when actions && !Me.IsGuest: return SaveAsync(m);
            case "edit" when mine && _editingId != m.Id && m.Image is null: StartEdit(m); break;
            case "delete" when mine && _editingId != m.Id: ConfirmDelete(m.Id); break;
            case "in-thread" when m.ThreadId is { } root: return OpenThreadAsync(root);
            case "replies" when m.Thread is { Replies: > 0 }: return OpenThreadAsync(m.Id);
            case "preview" when m.Image is { IsFile: false } image: ShowPreview(image); break;
            case "reaction" when m.Reactions?.FirstOrDefault(r => r.Emoji == e.Arg) is { } reaction:
                return ReactAsync(m, reaction.Emoji, !reaction.Users.Any(u => u.Id == Me.Id));
        }
        return Task.CompletedTask;
    }

    /// <summary>The row's share of the view's state for message <paramref name="m"/> (computed per render of the list).</summary>
    private MessageRow.RowState RowStateOf(ChatMessage m, bool grouped, bool mine, string zone, DateTime today)
    {
        var readByOther = mine && !m.IsDeleted && Room.IsDirect && SeenBy(m).Count > 0;
        List<UserRef>? seen = mine && !Room.IsDirect && m.Id == _lastMineId && SeenBy(m) is { Count: > 0 } s ? s : null;
        return new MessageRow.RowState(grouped, m.Id == _focusId, _lost is null, _editingId == m.Id, _reactingId == m.Id,
            _confirmDeleteId == m.Id, Room.IsDirect, readByOther, seen?.Count ?? 0, seen is null ? null : string.Join(", ", seen.Select(u => u.Name)),
            zone, today);
    }
}
