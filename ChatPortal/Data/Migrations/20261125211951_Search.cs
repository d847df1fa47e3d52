using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ChatPortal.Data.Migrations;

/// <summary>
/// Full-text search over message text for Chinese and English alike: an FTS5 table with the
/// trigram tokenizer (substring matching, no word segmentation needed), external-content over
/// Messages and kept in sync by triggers, so edits and deletes are reflected at once. A row is
/// indexed iff it is a post (Text/Image) with non-empty text; every trigger uses that rule so
/// the 'delete' commands always match what was inserted. SQLite only: other providers search
/// with LIKE (see Search/MessageSearch.cs).
/// </summary>
public partial class Search : Migration
{
    private const string Indexed = "{0}.Kind IN (0, 1) AND {0}.Text <> ''";

    /// <inheritdoc />
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        if (migrationBuilder.ActiveProvider != "Microsoft.EntityFrameworkCore.Sqlite") return;
        migrationBuilder.Sql(
            "CREATE VIRTUAL TABLE MessageSearch USING fts5(Text, content='Messages', content_rowid='Id', tokenize='trigram');");
        migrationBuilder.Sql($"""
            CREATE TRIGGER MessageSearch_ai AFTER INSERT ON Messages WHEN {string.Format(Indexed, "new")} BEGIN
              INSERT INTO MessageSearch(rowid, Text) VALUES (new.Id, new.Text);
            END;
            """);
        migrationBuilder.Sql($"""
            CREATE TRIGGER MessageSearch_ad AFTER DELETE ON Messages WHEN {string.Format(Indexed, "old")} BEGIN
              INSERT INTO MessageSearch(MessageSearch, rowid, Text) VALUES ('delete', old.Id, old.Text);
            END;
            """);
        // One trigger, two statements in order: the old text leaves the index before the new one enters.
        migrationBuilder.Sql($"""
            CREATE TRIGGER MessageSearch_au AFTER UPDATE OF Text, Kind ON Messages BEGIN
              INSERT INTO MessageSearch(MessageSearch, rowid, Text) SELECT 'delete', old.Id, old.Text WHERE {string.Format(Indexed, "old")};
              INSERT INTO MessageSearch(rowid, Text) SELECT new.Id, new.Text WHERE {string.Format(Indexed, "new")};
            END;
            """);
        migrationBuilder.Sql($"INSERT INTO MessageSearch(rowid, Text) SELECT Id, Text FROM Messages WHERE {string.Format(Indexed, "Messages")};");
    }

    /// <inheritdoc />
    protected override void Down(MigrationBuilder migrationBuilder)
    {
        if (migrationBuilder.ActiveProvider != "Microsoft.EntityFrameworkCore.Sqlite") return;
        migrationBuilder.Sql("DROP TRIGGER IF EXISTS MessageSearch_ai;");
        migrationBuilder.Sql("DROP TRIGGER IF EXISTS MessageSearch_ad;");
        migrationBuilder.Sql("DROP TRIGGER IF EXISTS MessageSearch_au;");
        migrationBuilder.Sql("DROP TABLE IF EXISTS MessageSearch;");
    }
}
