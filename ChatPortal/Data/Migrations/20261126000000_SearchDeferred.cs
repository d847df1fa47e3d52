using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ChatPortal.Data.Migrations;

/// <summary>
/// Search indexing leaves the commit path: new posts are no longer indexed by an insert trigger
/// (FTS5 merged many tiny segments, one per group commit, and that merging was a quarter of the
/// writer's CPU). The writer indexes them afterwards in larger steps (SqlitePostStore.IndexPending)
/// and records how far it got in SearchProgress, in the same transaction. The rule is: a row is in
/// the index iff Id &lt;= SearchProgress.LastId and it is indexable; the edit and delete triggers
/// keep that true for rows already indexed, and search reads the short unindexed tail with LIKE.
/// SQLite only, like the Search migration.
/// </summary>
public partial class SearchDeferred : Migration
{
    private const string Indexed = "{0}.Kind IN (0, 1) AND {0}.Text <> ''";
    private const string Covered = "{0}.Id <= (SELECT LastId FROM SearchProgress WHERE Id = 1)";

    /// <inheritdoc />
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        if (migrationBuilder.ActiveProvider != "Microsoft.EntityFrameworkCore.Sqlite") return;
        migrationBuilder.Sql("CREATE TABLE SearchProgress (Id INTEGER NOT NULL PRIMARY KEY CHECK (Id = 1), LastId INTEGER NOT NULL);");
        // Everything stored so far was indexed by the insert trigger.
        migrationBuilder.Sql("INSERT INTO SearchProgress (Id, LastId) SELECT 1, IFNULL(MAX(Id), 0) FROM Messages;");
        migrationBuilder.Sql("DROP TRIGGER MessageSearch_ai;");
        migrationBuilder.Sql("DROP TRIGGER MessageSearch_ad;");
        migrationBuilder.Sql("DROP TRIGGER MessageSearch_au;");
        migrationBuilder.Sql($"""
            CREATE TRIGGER MessageSearch_ad AFTER DELETE ON Messages WHEN {string.Format(Indexed, "old")} AND {string.Format(Covered, "old")} BEGIN
              INSERT INTO MessageSearch(MessageSearch, rowid, Text) VALUES ('delete', old.Id, old.Text);
            END;
            """);
        // Rows past LastId are not in the index yet: the writer indexes their current text later.
        migrationBuilder.Sql($"""
            CREATE TRIGGER MessageSearch_au AFTER UPDATE OF Text, Kind ON Messages WHEN {string.Format(Covered, "old")} BEGIN
              INSERT INTO MessageSearch(MessageSearch, rowid, Text) SELECT 'delete', old.Id, old.Text WHERE {string.Format(Indexed, "old")};
              INSERT INTO MessageSearch(rowid, Text) SELECT new.Id, new.Text WHERE {string.Format(Indexed, "new")};
            END;
            """);
    }

    /// <inheritdoc />
    protected override void Down(MigrationBuilder migrationBuilder)
    {
        if (migrationBuilder.ActiveProvider != "Microsoft.EntityFrameworkCore.Sqlite") return;
        // Index the tail first, then restore the Search migration's triggers.
        migrationBuilder.Sql($"""
            INSERT INTO MessageSearch(rowid, Text) SELECT Id, Text FROM Messages
            WHERE Id > (SELECT LastId FROM SearchProgress WHERE Id = 1) AND {string.Format(Indexed, "Messages")};
            """);
        migrationBuilder.Sql("DROP TRIGGER MessageSearch_ad;");
        migrationBuilder.Sql("DROP TRIGGER MessageSearch_au;");
        migrationBuilder.Sql("DROP TABLE SearchProgress;");
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
        migrationBuilder.Sql($"""
            CREATE TRIGGER MessageSearch_au AFTER UPDATE OF Text, Kind ON Messages BEGIN
              INSERT INTO MessageSearch(MessageSearch, rowid, Text) SELECT 'delete', old.Id, old.Text WHERE {string.Format(Indexed, "old")};
              INSERT INTO MessageSearch(rowid, Text) SELECT new.Id, new.Text WHERE {string.Format(Indexed, "new")};
            END;
            """);
    }
}
