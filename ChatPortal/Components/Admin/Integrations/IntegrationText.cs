namespace ChatPortal.Components.Admin.Integrations;

/// <summary>Marker for the back office's Integrations page strings (<c>IntegrationText.resx</c>, <c>IntegrationText.zh-CN.resx</c>).</summary>
public sealed class IntegrationText;
