namespace ChatPortal.Components.Admin;

/// <summary>Marker for the back office's strings: AdminText.resx (en) and AdminText.zh-CN.resx.</summary>
public sealed class AdminText;
