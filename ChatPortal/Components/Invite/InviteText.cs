namespace ChatPortal.Components.Invite;

/// <summary>Marker for the invite page's strings: InviteText.resx (en) and InviteText.zh-CN.resx.</summary>
public sealed class InviteText;
