using ChatPortal.Hosting;
using Microsoft.Extensions.Options;

namespace ChatPortal.Images;

/// <summary>Builds image links on <c>Portal:PublicImageBaseUrl</c> (a CDN, another host) or the portal's own <c>/images/</c>.</summary>
public sealed class ImageUrls(IOptions<PortalOptions> portal)
{
    private readonly string _base = Normalize(portal.Value.PublicImageBaseUrl);

    public string For(string imageId) => _base + Uri.EscapeDataString(imageId);

    private static string Normalize(string? configured)
    {
        if (string.IsNullOrWhiteSpace(configured)) return "/images/";
        var b = configured.Trim();
        // Only http(s) or a local path: the value ends up in src attributes.
        if (!b.StartsWith('/') && !b.StartsWith("http://", StringComparison.OrdinalIgnoreCase)
            && !b.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException("Portal:PublicImageBaseUrl must be an http(s) URL or a path starting with '/'.");
        return b.EndsWith('/') ? b : b + "/";
    }
}
