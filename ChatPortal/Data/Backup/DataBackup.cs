using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace ChatPortal.Data.Backup;

/// <summary>The manifest inside a backup (<c>backup.json</c>).</summary>
public sealed record BackupManifest(int Format, DateTimeOffset CreatedAt, string? LastMigration, long Messages, long MaxMessageId, int Images,
    int Keys);

/// <summary>A backup or restore that cannot go on; the message says why and what to do.</summary>
public sealed class BackupException(string message) : Exception(message);

/// <summary>
/// Online backup and restore of a SQLite installation's data folder. A backup is one ZIP:
/// <c>chatportal.db</c> (a consistent copy taken with SQLite's online backup API while the server
/// keeps writing: one read transaction, so it holds exactly the commits before it began, and in
/// WAL mode the writer is never blocked), the <c>images/</c> (copied after the database, and an
/// image file is always written before the message naming it, so every image the copy refers to
/// is there), the DataProtection key ring <c>keys/</c> (without it every sign-in cookie and API
/// ticket sealed before the restore is void) and <c>backup.json</c>. Restore refuses while a
/// server holds the data folder (<see cref="ServerLock"/>), checks the archive and the copy
/// (<c>PRAGMA integrity_check</c>), moves what is there aside to <c>pre-restore-*</c> (nothing is
/// deleted) and puts the backup in its place; the next start applies any newer migrations.
/// </summary>
public static partial class DataBackup
{
    public const int Format = 1;
    public const string DbName = "chatportal.db";

    public static async Task<BackupManifest> BackupAsync(string dataPath, string connectionString, string file, TextWriter output,
        CancellationToken ct = default)
    {
        var target = Path.GetFullPath(file);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var snapshot = target + ".db-partial";
        var partial = target + ".partial";
        try
        {
            // 1. The database, consistent: SQLite's backup API in one step (one read transaction).
            await using (var source = new SqliteConnection(connectionString))
            await using (var copy = new SqliteConnection($"Data Source={snapshot};Pooling=False"))
            {
                await source.OpenAsync(ct);
                await copy.OpenAsync(ct);
                source.BackupDatabase(copy);
                await using var cmd = copy.CreateCommand();
                cmd.CommandText = "PRAGMA journal_mode=DELETE;"; // one self-contained file
                await cmd.ExecuteNonQueryAsync(ct);
            }
            var (messages, maxId, migration) = await DescribeAsync(snapshot, ct);

            // 2. The archive: database first, then images and keys as they are now.
            var images = 0;
            var keys = 0;
            BackupManifest manifest;
            await using (var stream = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 64 * 1024, useAsync: true))
            {
                await using (var zip = await ZipArchive.CreateAsync(stream, ZipArchiveMode.Create, leaveOpen: true, entryNameEncoding: null, ct))
                {
                    await AddFileAsync(zip, snapshot, DbName, CompressionLevel.Optimal, ct);
                    var imageDir = Path.Combine(dataPath, "images");
                    if (Directory.Exists(imageDir))
                        foreach (var f in Directory.EnumerateFiles(imageDir).Where(f => ImageName().IsMatch(Path.GetFileName(f))).Order(StringComparer.Ordinal))
                        {
                            await AddFileAsync(zip, f, "images/" + Path.GetFileName(f), CompressionLevel.NoCompression, ct);
                            images++;
                        }
                    var keyDir = Path.Combine(dataPath, "keys");
                    if (Directory.Exists(keyDir))
                        foreach (var f in Directory.EnumerateFiles(keyDir, "*.xml").Where(f => KeyName().IsMatch(Path.GetFileName(f))))
                        {
                            await AddFileAsync(zip, f, "keys/" + Path.GetFileName(f), CompressionLevel.Optimal, ct);
                            keys++;
                        }
                    manifest = new BackupManifest(Format, DateTimeOffset.UtcNow, migration, messages, maxId, images, keys);
                    await using var m = await zip.CreateEntry("backup.json").OpenAsync(ct);
                    await JsonSerializer.SerializeAsync(m, manifest, BackupJson.Options, ct);
                }
                stream.Flush(flushToDisk: true);
            }
            File.Move(partial, target, overwrite: true);
            await output.WriteLineAsync(
                $"Backup written to {target}: {messages} messages (ids up to {maxId}), {images} images, {keys} keys; schema {migration}.");
            return manifest;
        }
        finally
        {
            File.Delete(snapshot);
            File.Delete(partial);
        }
    }

    public static async Task<BackupManifest> RestoreAsync(string dataPath, string file, TextWriter output, CancellationToken ct = default)
    {
        var source = Path.GetFullPath(file);
        if (!File.Exists(source)) throw new BackupException($"{source} does not exist.");
        Directory.CreateDirectory(dataPath);
        // Held for the whole restore: a server cannot start on the folder meanwhile, and one that runs makes this fail.
        using var exclusive = ServerLock.TryTakeExclusive(dataPath)
            ?? throw new BackupException($"A ChatPortal server is running on {dataPath} ({ServerLock.Describe(dataPath)}). " +
                "Stop it first: restore replaces its database, images and keys. Nothing was changed.");

        var manifest = await ReadManifestAsync(source, ct);
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var staging = Path.Combine(dataPath, $".restore-{stamp}");
        Directory.CreateDirectory(staging);
        try
        {
            // 1. Unpack into a staging folder next to the data and check it, before touching anything.
            await using (var zip = await ZipFile.OpenReadAsync(source, ct))
            {
                foreach (var entry in zip.Entries)
                {
                    var name = entry.FullName;
                    if (name is "backup.json" || name.EndsWith('/')) continue;
                    if (name != DbName && !(name.StartsWith("images/", StringComparison.Ordinal) && ImageName().IsMatch(name[7..]))
                        && !(name.StartsWith("keys/", StringComparison.Ordinal) && KeyName().IsMatch(name[5..])))
                        throw new BackupException($"The backup holds an unexpected file \"{name}\"; it was not made by ChatPortal. Nothing was changed.");
                    var path = Path.Combine(staging, name.Replace('/', Path.DirectorySeparatorChar));
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    await entry.ExtractToFileAsync(path, overwrite: false, ct);
                }
            }
            var db = Path.Combine(staging, DbName);
            if (!File.Exists(db)) throw new BackupException("The backup has no database. Nothing was changed.");
            await using (var c = new SqliteConnection($"Data Source={db};Pooling=False"))
            {
                await c.OpenAsync(ct);
                await using var check = c.CreateCommand();
                check.CommandText = "PRAGMA integrity_check;";
                var verdict = (string?)await check.ExecuteScalarAsync(ct);
                if (verdict != "ok") throw new BackupException($"The backup's database fails its integrity check ({verdict}). Nothing was changed.");
            }

            // 2. Move what is there aside (never deleted), then the backup in.
            var aside = Path.Combine(dataPath, $"pre-restore-{stamp}");
            var moved = new List<string>();
            foreach (var name in new[] { DbName, DbName + "-wal", DbName + "-shm", "images", "keys" })
            {
                var path = Path.Combine(dataPath, name);
                if (!File.Exists(path) && !Directory.Exists(path)) continue;
                Directory.CreateDirectory(aside);
                if (Directory.Exists(path)) Directory.Move(path, Path.Combine(aside, name));
                else File.Move(path, Path.Combine(aside, name));
                moved.Add(name);
            }
            foreach (var name in new[] { DbName, "images", "keys" })
            {
                var path = Path.Combine(staging, name);
                if (Directory.Exists(path)) Directory.Move(path, Path.Combine(dataPath, name));
                else if (File.Exists(path)) File.Move(path, Path.Combine(dataPath, name));
            }
            await output.WriteLineAsync(
                $"Restored the backup of {manifest.CreatedAt:u} into {dataPath}: {manifest.Messages} messages (ids up to {manifest.MaxMessageId}), " +
                $"{manifest.Images} images, {manifest.Keys} keys.");
            await output.WriteLineAsync(moved.Count == 0
                ? "The data folder was empty; nothing was moved aside."
                : $"What was there before ({string.Join(", ", moved)}) was moved to {aside}; delete it once the restored server works.");
            await output.WriteLineAsync("Start the server: it applies any newer migrations on start.");
            return manifest;
        }
        finally
        {
            try { Directory.Delete(staging, recursive: true); }
            catch (IOException) { }
        }
    }

    public static async Task<BackupManifest> ReadManifestAsync(string file, CancellationToken ct = default)
    {
        try
        {
            await using var zip = await ZipFile.OpenReadAsync(file, ct);
            var entry = zip.GetEntry("backup.json") ?? throw new BackupException($"{file} has no backup.json: it is not a ChatPortal backup.");
            await using var s = await entry.OpenAsync(ct);
            var manifest = await JsonSerializer.DeserializeAsync<BackupManifest>(s, BackupJson.Options, ct)
                ?? throw new BackupException("backup.json is empty.");
            if (manifest.Format != Format) throw new BackupException($"The backup has format {manifest.Format}; this version reads format {Format}.");
            return manifest;
        }
        catch (InvalidDataException)
        {
            throw new BackupException($"{file} is not a ZIP archive.");
        }
        catch (JsonException ex)
        {
            throw new BackupException($"backup.json cannot be read: {ex.Message}");
        }
    }

    private static async Task<(long Messages, long MaxId, string? Migration)> DescribeAsync(string db, CancellationToken ct)
    {
        await using var c = new SqliteConnection($"Data Source={db};Pooling=False");
        await c.OpenAsync(ct);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*), IFNULL(MAX(Id), 0) FROM Messages";
        long count, max;
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            await r.ReadAsync(ct);
            count = r.GetInt64(0);
            max = r.GetInt64(1);
        }
        cmd.CommandText = "SELECT MigrationId FROM __EFMigrationsHistory ORDER BY MigrationId DESC LIMIT 1";
        return (count, max, (string?)await cmd.ExecuteScalarAsync(ct));
    }

    private static async Task AddFileAsync(ZipArchive zip, string path, string name, CompressionLevel level, CancellationToken ct)
    {
        await using var entry = await zip.CreateEntry(name, level).OpenAsync(ct);
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 64 * 1024, useAsync: true);
        await file.CopyToAsync(entry, ct);
    }

    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex ImageName();

    [GeneratedRegex("^key-[0-9a-fA-F-]{36}\\.xml$")]
    private static partial Regex KeyName();
}

internal static class BackupJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { WriteIndented = true };
}

/// <summary>
/// Marks a data folder as in use by a running server: <c>server.lock</c>, held with a shared
/// advisory lock while the server runs (several nodes may share a folder). Restore takes it
/// exclusively, so it refuses while any server runs, and a server will not start mid-restore.
/// </summary>
public sealed class ServerLock : IHostedService, IDisposable
{
    public const string FileName = "server.lock";
    private readonly FileStream _file;

    private ServerLock(FileStream file) => _file = file;

    /// <summary>For a server: a shared hold. Throws when a restore holds the folder.</summary>
    public static ServerLock HoldShared(string dataPath)
    {
        Directory.CreateDirectory(dataPath);
        try
        {
            var f = new FileStream(Path.Combine(dataPath, FileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
            f.SetLength(0);
            var pid = System.Text.Encoding.ASCII.GetBytes($"{Environment.ProcessId} {Environment.MachineName}\n");
            f.Write(pid);
            f.Flush();
            return new ServerLock(f);
        }
        catch (IOException ex)
        {
            throw new InvalidOperationException($"The data folder {dataPath} is being restored (server.lock is held); start the server when the restore is done.", ex);
        }
    }

    /// <summary>For restore: the exclusive hold, or null while a server runs.</summary>
    public static ServerLock? TryTakeExclusive(string dataPath)
    {
        try
        {
            return new ServerLock(new FileStream(Path.Combine(dataPath, FileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Who holds it, as the servers wrote it (process id and host).</summary>
    public static string Describe(string dataPath)
    {
        try
        {
            using var f = new FileStream(Path.Combine(dataPath, FileName), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var text = new StreamReader(f).ReadToEnd().Trim();
            return text.Length == 0 ? "server.lock is held" : $"process {text}";
        }
        catch (IOException)
        {
            return "server.lock is held";
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Released when the server stops (a restore may run once the last server is gone).</summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _file.Dispose();
}
