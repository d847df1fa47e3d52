namespace ChatPortal.Components.Account;

/// <summary>
/// Marker for the strings of profiles, self-service, notification settings, OpenID Connect sign-in
/// and the user chip (<c>IdentityText.resx</c>, <c>IdentityText.zh-CN.resx</c>); keys are the English text.
/// </summary>
public sealed class IdentityText;
