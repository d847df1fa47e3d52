namespace ChatPortal.Components.Account;

/// <summary>Marker for the sign-in page's strings (<c>AccountText.resx</c>, <c>AccountText.zh-CN.resx</c>); keys are the English text.</summary>
public sealed class AccountText;
