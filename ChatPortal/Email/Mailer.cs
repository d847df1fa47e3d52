using ChatPortal.Hosting;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using MimeKit;

namespace ChatPortal.Email;

/// <summary>SMTP settings and the digest's timing (section <c>Email</c>). No <see cref="Host"/>: no mail at all.</summary>
public sealed class EmailOptions
{
    public const string Section = "Email";
    public string? Host { get; set; }
    public int Port { get; set; } = 587;
    /// <summary><c>Auto</c>, <c>None</c>, <c>StartTls</c>, <c>StartTlsWhenAvailable</c> or <c>SslOnConnect</c> (MailKit's <see cref="SecureSocketOptions"/>).</summary>
    public string Security { get; set; } = "StartTls";
    public string? User { get; set; }
    public string? Password { get; set; }
    public string From { get; set; } = "ChatPortal <chatportal@localhost>";
    /// <summary>A mention or direct message still unread after this long goes into the user's digest.</summary>
    public double DigestDelayMinutes { get; set; } = 15;
    /// <summary>How often the digest looks for what is due.</summary>
    public double DigestCheckSeconds { get; set; } = 30;

    public bool Enabled => !string.IsNullOrWhiteSpace(Host);
}

/// <summary>Sends mail through the configured SMTP server (MailKit), one connection per batch.</summary>
public sealed class Mailer(IOptions<EmailOptions> options, ILogger<Mailer> log)
{
    public bool Enabled => options.Value.Enabled;

    public MailboxAddress From => MailboxAddress.Parse(options.Value.From);

    public async Task SendAsync(IReadOnlyList<MimeMessage> messages, CancellationToken ct = default)
    {
        if (messages.Count == 0) return;
        var o = options.Value;
        if (!o.Enabled) throw new InvalidOperationException("Email is not configured (Email:Host).");
        using var smtp = new SmtpClient { Timeout = 30_000 };
        var security = Enum.TryParse<SecureSocketOptions>(o.Security, ignoreCase: true, out var s) ? s : SecureSocketOptions.StartTls;
        await smtp.ConnectAsync(o.Host!, o.Port, security, ct);
        if (!string.IsNullOrEmpty(o.User)) await smtp.AuthenticateAsync(o.User, o.Password ?? "", ct);
        foreach (var m in messages)
        {
            if (m.From.Count == 0) m.From.Add(From);
            await smtp.SendAsync(m, ct);
        }
        await smtp.DisconnectAsync(quit: true, ct);
        log.LogInformation("Sent {Count} mail(s)", messages.Count);
    }
}

/// <summary>
/// Signed links in mails: unsubscribe (works without signing in, never expires) and email
/// confirmation (48 hours). Signed with the shared DataProtection key ring, so every node accepts them.
/// </summary>
public sealed class EmailLinks(IDataProtectionProvider protection, IOptions<PortalOptions> portal, IServer server)
{
    private readonly IDataProtector _unsubscribe = protection.CreateProtector("ChatPortal.Email.Unsubscribe.v1");
    private readonly ITimeLimitedDataProtector _confirm = protection.CreateProtector("ChatPortal.Email.Confirm.v1").ToTimeLimitedDataProtector();

    public string UnsubscribeToken(long userId) => _unsubscribe.Protect(userId.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public long? ReadUnsubscribeToken(string? token)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 1000) return null;
        try { return long.TryParse(_unsubscribe.Unprotect(token), out var id) ? id : null; }
        catch (System.Security.Cryptography.CryptographicException) { return null; }
    }

    public string ConfirmToken(long userId, string email) =>
        _confirm.Protect($"{userId}\n{email}", TimeSpan.FromHours(48));

    public (long UserId, string Email)? ReadConfirmToken(string? token)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 2000) return null;
        try
        {
            var parts = _confirm.Unprotect(token).Split('\n', 2);
            return parts.Length == 2 && long.TryParse(parts[0], out var id) ? (id, parts[1]) : null;
        }
        catch (System.Security.Cryptography.CryptographicException) { return null; }
    }

    /// <summary>Absolute link: <c>Portal:PublicBaseUrl</c>, else the first address the server listens on.</summary>
    public string Absolute(string pathAndQuery)
    {
        var baseUrl = portal.Value.PublicBaseUrl;
        if (string.IsNullOrWhiteSpace(baseUrl))
            baseUrl = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "http://127.0.0.1:5080";
        return baseUrl.TrimEnd('/') + pathAndQuery;
    }
}

public static class EmailSetup
{
    public static IServiceCollection AddChatPortalEmail(this IServiceCollection services, IConfiguration configuration)
    {
        if (services.Any(d => d.ServiceType == typeof(Mailer))) return services;
        services.Configure<EmailOptions>(configuration.GetSection(EmailOptions.Section));
        services.AddSingleton<Mailer>();
        services.AddSingleton<EmailLinks>();
        return services;
    }
}
