namespace ChatPortal.Chat;

/// <summary>
/// A link preview as the core hands it out: the page's title, description and site name (text only,
/// never markup), and the re-encoded <c>og:image</c> served from our origin (<c>/previews/{ImageId}</c>).
/// </summary>
public sealed record LinkPreview(string Url, string? Title, string? Description, string? SiteName,
    string? ImageId = null, int ImageWidth = 0, int ImageHeight = 0)
{
    public static LinkPreview From(Data.LinkPreviewRecord r) =>
        new(r.Url, r.Title, r.Description, r.SiteName, r.ImageId, r.ImageWidth, r.ImageHeight);
}

/// <summary>
/// A post's link preview is ready (fetched after the post was stored, stored, then published once
/// through the backplane): tabs and sockets that show the message add it. Catch-up carries it inside
/// the replayed <see cref="MessagePosted"/> (<see cref="ChatMessage.Preview"/>). A null
/// <paramref name="Preview"/>: the post was edited and its previewed link is gone, so is the preview.
/// </summary>
public sealed record LinkPreviewReady(long Room, long MessageId, LinkPreview? Preview) : ChatEvent(Room);

/// <summary>Limits of link previews (section <c>LinkPreviews</c>).</summary>
public sealed class LinkPreviewOptions
{
    public const string Section = "LinkPreviews";
    public bool Enabled { get; set; } = true;
    /// <summary>Time for the whole fetch of the page (redirects included), and again for its image.</summary>
    public double TimeoutSeconds { get; set; } = 5;
    /// <summary>Bytes of HTML read at most; a bigger page is not previewed.</summary>
    public long MaxHtmlBytes { get; set; } = 256 * 1024;
    /// <summary>Bytes of <c>og:image</c> read at most.</summary>
    public long MaxImageBytes { get; set; } = 2 * 1024 * 1024;
    /// <summary>Pixels of <c>og:image</c> decoded at most (checked from the header first).</summary>
    public long MaxImagePixels { get; set; } = 25_000_000;
    /// <summary>The re-encoded image's width at most.</summary>
    public int ImageWidth { get; set; } = 480;
    /// <summary>Posts waiting for a preview at most; more are not previewed (oldest kept).</summary>
    public int QueueLimit { get; set; } = 256;
    /// <summary>Fetches at once.</summary>
    public int Concurrency { get; set; } = 2;
}
