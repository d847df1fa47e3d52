namespace ChatPortal.Components.Account;

/// <summary>Marker for the API token page's strings (<c>TokenText.resx</c>, <c>TokenText.zh-CN.resx</c>); keys are the English text.</summary>
public sealed class TokenText;
