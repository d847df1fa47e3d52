using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Localization;

namespace ChatPortal.Components.Chat;

public sealed partial class ChatView
{
    /// <summary>The texts every message row repeats (its action buttons, tags and ticks).</summary>
    internal sealed record RowTexts(string Reply, string ReplyInThread, string AddReaction, string Pin, string Unpin, string SaveForLater,
        string Edit, string Delete, string Bot, string Guest, string Edited, string Read, string Sent, string Pinned);

    // Looked up once per culture for every circuit: through the string localizer per button per message per render,
    // they were ~5 % of the server's CPU with 1,000 viewers of a room (a resource lookup each, on every render).
    private static readonly ConcurrentDictionary<string, RowTexts> RowTextsByCulture = new();

    private RowTexts Row => RowTextsByCulture.GetOrAdd(CultureInfo.CurrentUICulture.Name, static (_, l) => new RowTexts(
        l["Reply"], l["Reply in thread"], l["Add reaction"], l["Pin"], l["Unpin"], l["Save for later"], l["Edit"], l["Delete"],
        l["bot"], l["guest"], l["(edited)"], l["Read"], l["Sent"], l["Pinned"]), L);
}
