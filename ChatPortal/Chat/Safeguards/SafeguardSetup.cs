using ChatPortal.Images;

namespace ChatPortal.Chat.Safeguards;

/// <summary>
/// Abuse limits and retention around the chat core (issue 20): per-address limits, image
/// retention, guest expiry. Part of the core, so every host of it (the portal, the admin
/// command line, test hosts) gets them.
/// </summary>
public static class SafeguardSetup
{
    public static IHostApplicationBuilder AddChatSafeguards(this IHostApplicationBuilder builder)
    {
        var s = builder.Services;
        s.Configure<AddressLimitOptions>(builder.Configuration.GetSection(AddressLimitOptions.Section));
        s.Configure<ImageOptions>(builder.Configuration.GetSection(ImageOptions.Section));
        s.Configure<Hosting.PortalOptions>(builder.Configuration.GetSection(Hosting.PortalOptions.Section)); // the image folder
        s.Configure<GuestOptions>(builder.Configuration.GetSection(GuestOptions.Section));
        s.AddSingleton<AddressLimits>();
        s.AddSingleton<ImageRetention>();
        s.AddSingleton<IStoredEventObserver>(sp => sp.GetRequiredService<ImageRetention>());
        s.AddHostedService(sp => sp.GetRequiredService<ImageRetention>());
        s.AddSingleton<GuestExpiry>();
        s.AddHostedService(sp => sp.GetRequiredService<GuestExpiry>());
        return builder;
    }
}
