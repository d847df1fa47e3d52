using System.Security.Claims;
using Bunit;
using ChatPortal.Auth;
using ChatPortal.Chat;
using ChatPortal.Components.Chat;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.AspNetCore.Components;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;

namespace ChatPortal.Tests.Web;

/// <summary>
/// A bUnit context wired to the real chat core (a <see cref="CoreHarness"/> on SQLite) and
/// signed in as one chat user. The renderer reports itself as interactive Server, as a live
/// circuit does, so components subscribe to the core just as they do in the browser.
/// </summary>
public sealed class ComponentHarness : IAsyncDisposable
{
    private ComponentHarness(CoreHarness core, BunitContext context, UserRef me)
    {
        Core = core;
        Context = context;
        Me = me;
    }

    public CoreHarness Core { get; }
    public BunitContext Context { get; }
    public UserRef Me { get; }

    public static async Task<ComponentHarness> StartAsync(string userName, CoreHarness? core = null)
    {
        core ??= await CoreHarness.StartAsync();
        var me = await core.CreateUserAsync(userName);
        var entity = await core.WithDbAsync(db => db.Users.AsNoTracking().SingleAsync(u => u.Id == me.Id));

        var ctx = ComponentServices.NewContext(core);

        var auth = ctx.AddAuthorization();
        auth.SetAuthorized(entity.Name);
        // The same claims the sign-in cookie carries (the name claim comes from SetAuthorized).
        auth.SetClaims(PortalClaims.ForChatUser(entity).Claims.Where(c => c.Type != ClaimTypes.Name).ToArray());
        // After SetClaims, which builds the identity anew with bUnit's own type.
        auth.SetAuthenticationType(PortalClaims.ChatScheme);
        auth.SetPolicies(Policies.ChatUser);
        // Last: it builds the renderer, after which no services can be added.
        ctx.SetRendererInfo(new RendererInfo("Server", isInteractive: true));
        return new ComponentHarness(core, ctx, me);
    }

    public async Task<RoomInfo> LobbyAsync() => (await Core.Rooms.GetDefaultAsync())!;

    public async ValueTask DisposeAsync()
    {
        // MudBlazor's services are only IAsyncDisposable: dispose the context asynchronously.
        await Context.DisposeAsync();
        await Core.DisposeAsync();
    }
}
