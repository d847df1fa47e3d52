using ChatPortal.Components.Account;
using ChatPortal.Email;
using Microsoft.Extensions.Localization;
using MimeKit;

namespace ChatPortal.Profiles;

/// <summary>
/// Confirms an address typed on the profile page by mailing a signed link (48 h). Only a confirmed
/// address may link an OpenID Connect sign-in to the account, so typing someone else's address
/// gains nothing.
/// </summary>
public sealed class EmailConfirmation(Mailer mailer, EmailLinks links, UserProfiles profiles, IStringLocalizer<IdentityText> text,
    ILogger<EmailConfirmation> log)
{
    public bool Available => mailer.Enabled;

    /// <summary>Mails the link; false when mail is not configured or the send failed (logged).</summary>
    public async Task<bool> SendAsync(long userId, string userName, string email, CancellationToken ct = default)
    {
        if (!mailer.Enabled) return false;
        var link = links.Absolute("/account/confirm-email?t=" + Uri.EscapeDataString(links.ConfirmToken(userId, email)));
        var mail = new MimeMessage();
        mail.To.Add(new MailboxAddress(userName, email));
        mail.Subject = text["Confirm your email address for ChatPortal"];
        mail.Body = new BodyBuilder
        {
            TextBody = $"{text["Hello {0}, open this link to confirm that this address is yours (valid for 48 hours):", userName]}\n\n{link}\n\n" +
                       text["If you did not ask for this, ignore this mail."],
        }.ToMessageBody();
        try
        {
            await mailer.SendAsync([mail], ct);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            log.LogWarning(ex, "The confirmation mail for user {User} could not be sent", userId);
            return false;
        }
    }

    /// <summary>Applies a confirmation link; the user id when it confirmed the address.</summary>
    public async Task<long?> ConfirmAsync(string? token, CancellationToken ct = default)
    {
        if (links.ReadConfirmToken(token) is not { } t) return null;
        return await profiles.ConfirmEmailAsync(t.UserId, t.Email, ct) ? t.UserId : null;
    }
}
