using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat.Safeguards;

/// <summary>
/// A delete purges, not only hides: the message's row is blanked (the writer does that), and so is
/// every edit row that targets it (an edit row carries the edited text, and catch-up replays edit
/// rows). The single writer calls this inside the delete's transaction, so no reader ever sees the
/// delete without the purge. It also remembers the deleted message's image, which the writer puts
/// on the <see cref="MessageDeleted"/> event so that <see cref="ImageRetention"/> removes the file.
/// Search indexes only posts, whose rows are blanked (the FTS triggers follow).
/// </summary>
internal sealed class DeletePurge
{
    private static readonly ILookup<long, Message> NoEdits = Array.Empty<Message>().ToLookup(m => 0L);
    private readonly ILookup<long, Message> _edits;
    private Dictionary<long, string>? _images;

    private DeletePurge(ILookup<long, Message> edits) => _edits = edits;

    /// <summary>Loads (tracked) the stored edit rows of the messages this batch deletes, so the batch's save blanks them.</summary>
    public static async Task<DeletePurge> LoadAsync(ChatDbContext db, IReadOnlyList<WriteOp> batch)
    {
        var deleted = batch.OfType<ChangeOp>().Where(c => c.Row.Kind == MessageKind.Delete).Select(c => c.TargetId).Distinct().ToList();
        if (deleted.Count == 0) return new DeletePurge(NoEdits);
        var rows = await db.Messages.Where(m => m.Kind == MessageKind.Edit && m.TargetId != null && deleted.Contains(m.TargetId.Value))
            .ToListAsync().ConfigureAwait(false);
        return new DeletePurge(rows.ToLookup(m => m.TargetId!.Value));
    }

    /// <summary>Call for a message being deleted, before its row is blanked: blanks its edit rows (stored, and added earlier in this batch).</summary>
    public void Apply(Message target, IEnumerable<Message> addedInBatch)
    {
        if (target.ImageId is { } image) (_images ??= [])[target.Id] = image;
        foreach (var edit in _edits[target.Id]) edit.Text = "";
        foreach (var edit in addedInBatch)
            if (edit.Kind == MessageKind.Edit && edit.TargetId == target.Id) edit.Text = "";
    }

    /// <summary>The image the deleted message had, if any.</summary>
    public string? ImageOf(long targetId) => _images?.GetValueOrDefault(targetId);
}
