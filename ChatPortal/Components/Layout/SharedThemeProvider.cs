using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Rendering;
using MudBlazor;

namespace ChatPortal.Components.Layout;

/// <summary>
/// <see cref="MudThemeProvider"/> with one theme and one set of stylesheets for the whole process instead of per
/// circuit (issue 19, item 3): without a <c>Theme</c> every provider builds its own <see cref="MudTheme"/> (two palettes,
/// ~120 colours), and every render builds the ~11,000-character <c>:root</c> stylesheet again and keeps it in the
/// circuit's render tree. The site's theme never changes at run time, so the stylesheets depend only on light or dark:
/// they are built once per mode and every circuit's render tree points at the same strings. The markup is
/// MudThemeProvider's own (MudBlazor 9.12): the scrollbar style, the charts' style, the theme.
/// </summary>
public sealed class SharedThemeProvider : MudThemeProvider
{
    /// <summary>The site's theme (MudBlazor's defaults), shared by every circuit; never mutated.</summary>
    internal static readonly MudTheme SiteTheme = new();

    internal const string ChartStyle = "<style>\n    .mud-chart-serie:hover {\n        filter: url(#lighten);\n    }\n\n    .mud-chart-serie-hovered \n    {\n        filter: url(#lighten);\n    }\n</style>\n\n";

    private static readonly ConcurrentDictionary<bool, string> Themes = new();
    private static string? _scrollbar;

    public SharedThemeProvider()
    {
        // MudThemeProvider's constructor builds a MudTheme of its own to fall back on, which it keeps: point it at the
        // shared one (if a MudBlazor version names it differently, each provider keeps its own, as before).
        try { OriginalTheme(this) = SiteTheme; }
        catch (MissingFieldException) { }
    }

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_originalMudTheme")]
    private static extern ref MudTheme OriginalTheme(MudThemeProvider provider);

    protected override void OnInitialized()
    {
        Theme = SiteTheme;
        base.OnInitialized();
    }

    protected override void BuildRenderTree(RenderTreeBuilder builder)
    {
        if (!ReferenceEquals(Theme, SiteTheme))
        {
            base.BuildRenderTree(builder);
            return;
        }
        if (!DefaultScrollbar) builder.AddMarkupContent(0, _scrollbar ??= BuildMudBlazorScrollbar());
        builder.AddMarkupContent(1, ChartStyle);
#pragma warning disable MUD0010 // read only: which of the two shared stylesheets to point at
        builder.AddMarkupContent(2, Themes.GetOrAdd(IsDarkMode, _ => BuildTheme()));
#pragma warning restore MUD0010
    }
}
