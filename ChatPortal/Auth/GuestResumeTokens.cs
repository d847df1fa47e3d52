using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using ChatPortal.Data;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Auth;

/// <summary>
/// The resume tokens of <c>chatportal.v1</c> guests: the guest's id, an expiry and a hash of its security stamp (a kick
/// or ban changes it), signed with HMAC-SHA256. One key for the installation, made on first use and kept in the
/// settings table encrypted with DataProtection (the key ring every node shares), so every node reads the same key and
/// a copy of the database alone cannot mint tokens. A token is checked with one HMAC: DataProtection's own
/// <c>Unprotect</c> derives a key per payload and cost ~0.13 ms per returning guest in a 10,000-guest reconnect storm.
/// </summary>
public sealed class GuestResumeTokens(IDbContextFactory<ChatDbContext> dbFactory, IDataProtectionProvider protection, TimeProvider time,
    ILogger<GuestResumeTokens> log)
{
    internal const string KeySetting = "guests.resume_key";
    private const int PayloadLength = 8 + 8 + 16;
    private const int TokenLength = PayloadLength + 32;

    private readonly IDataProtector _keyProtector = protection.CreateProtector("ChatPortal.GuestResume.Key.v1");
    private readonly SemaphoreSlim _loading = new(1, 1);
    private byte[]? _key;

    /// <summary>A token naming the guest until <paramref name="expires"/>.</summary>
    public async ValueTask<string> IssueAsync(long guestId, string stamp, DateTimeOffset expires, CancellationToken ct = default) =>
        Issue(await KeyAsync(ct), guestId, stamp, expires);

    /// <summary>
    /// The guest a token names, when it is one of ours and has not expired; <see cref="Matches"/> then says whether a
    /// row's stamp is the one it was issued for.
    /// </summary>
    public async ValueTask<GuestResumeClaim?> ReadAsync(string? token, CancellationToken ct = default)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 128) return null;
        return Read(await KeyAsync(ct), token, time.GetUtcNow());
    }

    private static string Issue(byte[] key, long guestId, string stamp, DateTimeOffset expires)
    {
        Span<byte> token = stackalloc byte[TokenLength];
        BinaryPrimitives.WriteInt64BigEndian(token, guestId);
        BinaryPrimitives.WriteInt64BigEndian(token[8..], expires.ToUnixTimeSeconds());
        StampHash(stamp, token.Slice(16, 16));
        HMACSHA256.HashData(key, token[..PayloadLength], token[PayloadLength..]);
        return Base64Url.EncodeToString(token);
    }

    private static GuestResumeClaim? Read(byte[] key, string token, DateTimeOffset now)
    {
        // Checked first: decoding throws on characters outside the alphabet rather than answering false.
        if (!Base64Url.IsValid(token, out var length) || length != TokenLength) return null;
        Span<byte> bytes = stackalloc byte[TokenLength];
        if (!Base64Url.TryDecodeFromChars(token, bytes, out var written) || written != TokenLength) return null;
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(key, bytes[..PayloadLength], mac);
        if (!CryptographicOperations.FixedTimeEquals(mac, bytes.Slice(PayloadLength, 32))) return null; // forged or damaged
        var expires = DateTimeOffset.FromUnixTimeSeconds(BinaryPrimitives.ReadInt64BigEndian(bytes[8..]));
        if (expires <= now) return null;
        return new GuestResumeClaim(BinaryPrimitives.ReadInt64BigEndian(bytes), expires, bytes.Slice(16, 16).ToArray());
    }

    /// <summary>Whether <paramref name="stamp"/> (the guest row's now) is the one the claim's token was issued for.</summary>
    public static bool Matches(GuestResumeClaim claim, string stamp)
    {
        Span<byte> hash = stackalloc byte[16];
        StampHash(stamp, hash);
        return CryptographicOperations.FixedTimeEquals(hash, claim.StampHash);
    }

    private static void StampHash(string stamp, Span<byte> into)
    {
        Span<byte> full = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(stamp), full);
        full[..16].CopyTo(into);
    }

    private async ValueTask<byte[]> KeyAsync(CancellationToken ct)
    {
        if (Volatile.Read(ref _key) is { } key) return key;
        await _loading.WaitAsync(ct);
        try
        {
            return _key ??= await LoadOrMakeAsync(ct);
        }
        finally
        {
            _loading.Release();
        }
    }

    private async Task<byte[]> LoadOrMakeAsync(CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var row = await db.Settings.FirstOrDefaultAsync(s => s.Key == KeySetting, ct);
            if (row is not null && TryOpen(row.Value) is { } stored) return stored;
            // None yet, or one this key ring cannot open (a database moved without its keys/ folder): a new key. The
            // tokens signed with the old one then name nobody, and those guests come back as new ones.
            var made = RandomNumberGenerator.GetBytes(32);
            var value = Convert.ToBase64String(_keyProtector.Protect(made));
            if (row is null) db.Settings.Add(new PortalSetting { Key = KeySetting, Value = value });
            else
            {
                log.LogWarning("The guest resume key could not be read with this key ring; a new one is made (returning guests become new guests)");
                row.Value = value;
            }
            try
            {
                await db.SaveChangesAsync(ct);
                return made;
            }
            catch (DbUpdateException) when (attempt == 0)
            {
                // Another node made it at the same moment: read theirs.
            }
        }
    }

    /// <summary>The stored key, if this key ring can open it.</summary>
    private byte[]? TryOpen(string stored)
    {
        try { return _keyProtector.Unprotect(Convert.FromBase64String(stored)) is { Length: 32 } key ? key : null; }
        catch (CryptographicException) { return null; }
        catch (FormatException) { return null; }
    }
}

/// <summary>What a valid resume token says: the guest, until when, and a hash of the security stamp it was issued with.</summary>
public sealed record GuestResumeClaim(long GuestId, DateTimeOffset Expires, byte[] StampHash);
