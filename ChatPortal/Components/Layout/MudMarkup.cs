using System.Collections.Concurrent;
using Microsoft.AspNetCore.Components;

namespace ChatPortal.Components.Layout;

/// <summary>
/// MudBlazor's markup for the page chrome every circuit shows (icon buttons, icons, texts), written out instead of as
/// components (issue 19, item 3): a component costs a circuit its state, two render trees and MudBlazor's parameter
/// bookkeeping, several KB each, and the app bar and room header had ~30 of them. The icons' SVG is built once per icon
/// and size and shared by every circuit's render tree. Same classes and structure as MudIcon / MudIconButton (9.12).
/// </summary>
public static class MudMarkup
{
    private static readonly ConcurrentDictionary<(string Icon, string Size), MarkupString> Svgs = new();

    /// <summary>A MudIcon's &lt;svg&gt; for one of MudBlazor's icon strings; <paramref name="size"/> is small, medium or large.</summary>
    public static MarkupString Svg(string icon, string size = "medium") => Svgs.GetOrAdd((icon, size), k => new MarkupString(
        $"<svg class=\"mud-icon-root mud-svg-icon mud-icon-size-{k.Size}\" focusable=\"false\" viewBox=\"0 0 24 24\" aria-hidden=\"true\" role=\"img\">{k.Icon}</svg>"));

    private static readonly ConcurrentDictionary<string, MarkupString> NavIcons = new();

    /// <summary>The icon a MudNavLink renders before its text.</summary>
    public static MarkupString NavIcon(string icon) => NavIcons.GetOrAdd(icon, i => new MarkupString(
        $"<svg class=\"mud-icon-root mud-icon-default mud-svg-icon mud-icon-size-medium mud-nav-link-icon mud-nav-link-icon-default\" focusable=\"false\" viewBox=\"0 0 24 24\" aria-hidden=\"true\" role=\"img\">{i}</svg>"));

    /// <summary>A small filled MudChip (<paramref name="color"/>: default, primary, secondary…) showing a count.</summary>
    public static MarkupString CountChip(int count, string color, string cssClass) => new(
        $"<div class=\"mud-chip-container\"><div class=\"mud-chip mud-chip-filled mud-chip-size-small mud-chip-color-{color} {cssClass}\" tabindex=\"-1\"><span class=\"mud-chip-content\">{(count > 99 ? "99+" : count.ToString(System.Globalization.CultureInfo.InvariantCulture))}</span></div></div>");

    /// <summary>MudIconButton's classes, Color.Inherit.</summary>
    public const string InheritIconButton = "mud-button-root mud-icon-button mud-inherit-text hover:mud-inherit-hover mud-ripple mud-ripple-icon";
    /// <summary>MudIconButton's classes, Color.Default, Size.Small.</summary>
    public const string SmallIconButton = "mud-button-root mud-icon-button mud-ripple mud-ripple-icon mud-icon-button-size-small";
}
