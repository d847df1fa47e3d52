using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ChatPortal.Data.Migrations
{
    /// <inheritdoc />
    public partial class Int16bCommands : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "CommandResponseUrl",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Token = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    CommandId = table.Column<long>(type: "INTEGER", nullable: false),
                    RoomId = table.Column<long>(type: "INTEGER", nullable: false),
                    UserId = table.Column<long>(type: "INTEGER", nullable: false),
                    ExpiresAt = table.Column<long>(type: "INTEGER", nullable: false),
                    Uses = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_CommandResponseUrl", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "CustomCommand",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Name = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    Url = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: false),
                    Description = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Token = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    PostAsUserId = table.Column<long>(type: "INTEGER", nullable: false),
                    Enabled = table.Column<bool>(type: "INTEGER", nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    CreatedBy = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_CustomCommand", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_CommandResponseUrl_ExpiresAt",
                table: "CommandResponseUrl",
                column: "ExpiresAt");

            migrationBuilder.CreateIndex(
                name: "IX_CommandResponseUrl_Token",
                table: "CommandResponseUrl",
                column: "Token",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_CustomCommand_Name",
                table: "CustomCommand",
                column: "Name",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "CommandResponseUrl");

            migrationBuilder.DropTable(
                name: "CustomCommand");
        }
    }
}
