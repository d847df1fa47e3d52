using ChatPortal.Auth;
using ChatPortal.Chat.Governance;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Components.Server.Circuits;

namespace ChatPortal.Admin;

public static class AdminSetup
{
    /// <summary>The back office's services: accounts, guard, audit, and one service per screen.</summary>
    public static IHostApplicationBuilder AddChatPortalAdmin(this IHostApplicationBuilder builder)
    {
        var s = builder.Services;
        s.AddHttpContextAccessor();
        s.AddSingleton<AdminGuard>();
        s.AddSingleton<AdminAudit>();
        s.AddSingleton<AdminAccounts>();
        s.AddSingleton<AdminRooms>();
        s.AddSingleton<AdminChatUsers>();
        s.AddSingleton<AdminModeration>();
        s.AddSingleton<AdminSite>();
        s.AddSingleton<AdminBots>();
        s.AddSingleton<AdminBotAccounts>(); // issue 16: bot accounts with tokens
        s.AddSingleton<AdminGovernance>();
        s.AddChatGovernanceServices(builder.Configuration); // the Data page's services live in the core
        s.AddSingleton<DashboardFeed>();
        s.AddHostedService(sp => sp.GetRequiredService<DashboardFeed>());
        s.AddScoped<ClientAddress>();
        s.AddScoped<AdminSession>();
        s.AddScoped<CircuitHandler, AdminCircuitHandler>();
        return builder;
    }

    public static IEndpointRouteBuilder MapChatPortalAdmin(this IEndpointRouteBuilder app)
    {
        // Sign-out is a POST with antiforgery (the layout's form carries the token), for admins only.
        app.MapPost("/admin/logout", async (HttpContext ctx, AdminAudit audit, IAntiforgery antiforgery) =>
        {
            // No form parameters are bound here, so nothing else would check the token.
            if (!await antiforgery.IsRequestValidAsync(ctx)) return Results.BadRequest();
            if (ctx.User.ToAdmin() is { } admin)
                await audit.WriteAsync(admin.Id, admin.Name, ctx.Connection.RemoteIpAddress?.ToString(), AuditActions.SignOut, admin.Name);
            await ctx.SignOutAsync(PortalClaims.AdminScheme);
            return Results.LocalRedirect("/admin/login");
        }).RequireAuthorization(Policies.Admin);
        AdminGovernance.MapAdminExports(app);
        return app;
    }
}
