namespace ChatPortal.Auth;

/// <summary>Only local paths are followed after sign-in: no open redirects.</summary>
public static class SafeReturnUrl
{
    public static string Resolve(string? returnUrl, string fallback = "/")
    {
        if (string.IsNullOrWhiteSpace(returnUrl)) return fallback;
        var u = returnUrl.Trim();
        // "/x" is local; "//host" and "/\host" are protocol-relative (browsers treat '\' as '/').
        if (u[0] != '/') return fallback;
        if (u.Length > 1 && (u[1] == '/' || u[1] == '\\')) return fallback;
        if (u.Any(c => char.IsControl(c))) return fallback;
        return u;
    }
}
