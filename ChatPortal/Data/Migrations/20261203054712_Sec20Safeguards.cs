using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ChatPortal.Data.Migrations
{
    /// <inheritdoc />
    public partial class Sec20Safeguards : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "NameSkeleton",
                table: "Users",
                type: "TEXT",
                maxLength: 256,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "SignInSessions",
                columns: table => new
                {
                    Id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    UserId = table.Column<long>(type: "INTEGER", nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    LastSeenAt = table.Column<long>(type: "INTEGER", nullable: false),
                    RemoteIp = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    UserAgent = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_SignInSessions", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_Users_NameSkeleton",
                table: "Users",
                column: "NameSkeleton");

            migrationBuilder.CreateIndex(
                name: "IX_Messages_ImageId",
                table: "Messages",
                column: "ImageId");

            migrationBuilder.CreateIndex(
                name: "IX_Images_UploaderId",
                table: "Images",
                column: "UploaderId");

            migrationBuilder.CreateIndex(
                name: "IX_SignInSessions_UserId",
                table: "SignInSessions",
                column: "UserId");

            // Deletes stored before this change left the edited text in the edit rows (issue 20):
            // purge it, as every delete does from now on (Chat/Safeguards/DeletePurge).
            migrationBuilder.Sql("""
                UPDATE Messages SET Text = '' WHERE Kind = 2 AND Text <> '' AND TargetId IN (SELECT Id FROM Messages WHERE DeletedAt IS NOT NULL);
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "SignInSessions");

            migrationBuilder.DropIndex(
                name: "IX_Users_NameSkeleton",
                table: "Users");

            migrationBuilder.DropIndex(
                name: "IX_Messages_ImageId",
                table: "Messages");

            migrationBuilder.DropIndex(
                name: "IX_Images_UploaderId",
                table: "Images");

            migrationBuilder.DropColumn(
                name: "NameSkeleton",
                table: "Users");
        }
    }
}
