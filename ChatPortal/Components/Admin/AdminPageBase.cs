using ChatPortal.Admin;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.Localization;
using MudBlazor;

namespace ChatPortal.Components.Admin;

/// <summary>
/// Shared plumbing of the admin pages: the caller for every service call, translated errors,
/// and the way out when the server says the admin is no longer allowed.
/// </summary>
public abstract class AdminPageBase : ComponentBase
{
    [Inject] protected AdminSession Session { get; set; } = default!;
    [Inject] protected IStringLocalizer<AdminText> L { get; set; } = default!;
    [Inject] protected ISnackbar Snackbar { get; set; } = default!;
    [Inject] protected NavigationManager Navigation { get; set; } = default!;

    /// <summary>True once the server refused the caller; the page shows nothing more.</summary>
    protected bool Denied { get; private set; }

    /// <summary>Runs a service call; a refusal sends the browser to the admin sign-in.</summary>
    protected async Task<T?> CallAsync<T>(Func<AdminCaller, Task<T>> action)
    {
        try
        {
            return await action(await Session.CallerAsync());
        }
        catch (AdminAccessDeniedException)
        {
            Denied = true;
            Navigation.NavigateTo("/admin/login", forceLoad: true);
            return default;
        }
    }

    /// <summary>Shows the outcome of a command as a snackbar; returns whether it worked.</summary>
    protected bool Report(AdminResult? result, string? successKey = null, params object[] args)
    {
        if (result is null) return false;
        if (result.Ok)
        {
            if (successKey is not null) Snackbar.Add(L[successKey, args], Severity.Success);
            return true;
        }
        Snackbar.Add(ErrorText(result), Severity.Error);
        return false;
    }

    protected string ErrorText(AdminResult result)
    {
        var text = L[$"Error.{result.ErrorCode}", result.Arg ?? ""];
        return text.ResourceNotFound ? result.Message ?? result.ErrorCode ?? "" : text.Value;
    }

    protected string Time(DateTimeOffset? t) => t is { } v ? v.ToLocalTime().ToString("yyyy-MM-dd HH:mm") : "—";
}
