using System.Globalization;
using Microsoft.AspNetCore.Localization;

namespace ChatPortal.Localization;

/// <summary>
/// zh-CN and en. The language follows the browser (Accept-Language) until the user picks one;
/// the pick is kept in the standard culture cookie. Each feature keeps its own .resx files
/// next to its components and reads them with <c>IStringLocalizer&lt;T&gt;</c>.
/// </summary>
public static class LocalizationSetup
{
    public static readonly string[] Cultures = ["en", "zh-CN"];

    public static IHostApplicationBuilder AddChatPortalLocalization(this IHostApplicationBuilder builder)
    {
        builder.Services.AddLocalization();
        builder.Services.Configure<RequestLocalizationOptions>(o =>
        {
            o.SetDefaultCulture("en").AddSupportedCultures(Cultures).AddSupportedUICultures(Cultures);
            o.FallBackToParentCultures = true;
            o.FallBackToParentUICultures = true;
            // Cookie first (the user's pick), then the browser.
            o.RequestCultureProviders = [new CookieRequestCultureProvider(), new AcceptLanguageHeaderRequestCultureProvider()];
        });
        return builder;
    }

    public static IEndpointRouteBuilder MapChatPortalLocalization(this IEndpointRouteBuilder app)
    {
        // GET is fine here: it only sets a preference cookie, then goes back to a local page.
        app.MapGet("/culture/set", (HttpContext ctx, string? culture, string? returnUrl) =>
        {
            var c = Cultures.Contains(culture) ? culture! : "en";
            ctx.Response.Cookies.Append(CookieRequestCultureProvider.DefaultCookieName,
                CookieRequestCultureProvider.MakeCookieValue(new RequestCulture(c)),
                new CookieOptions { Expires = DateTimeOffset.UtcNow.AddYears(1), HttpOnly = true, SameSite = SameSiteMode.Lax, IsEssential = true });
            return Results.LocalRedirect(Auth.SafeReturnUrl.Resolve(returnUrl));
        });
        return app;
    }

    public static bool IsChinese => CultureInfo.CurrentUICulture.Name.StartsWith("zh", StringComparison.OrdinalIgnoreCase);
}
