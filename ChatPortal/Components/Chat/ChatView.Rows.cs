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
