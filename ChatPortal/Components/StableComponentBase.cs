using Microsoft.AspNetCore.Components;

namespace ChatPortal.Components;

/// <summary>
/// A component that does not render again when its parent renders and hands it the same parameters (issue 19, item 3).
/// Blazor re-renders a child whenever one of its parameters is an object (a room, a user, a list), changed or not: the
/// room view renders for every message, and so did its composer, menu and every chip of its online list, each keeping a
/// second copy of its render tree for it. Here the render that follows a parameter set is skipped when every value
/// equals the last set's (records by value, the rest as <see cref="object.Equals(object?, object?)"/> decides; a new
/// lambda or render fragment counts as changed). The component's own <c>StateHasChanged</c> renders as always.
/// </summary>
public abstract class StableComponentBase : ComponentBase
{
    private IReadOnlyDictionary<string, object?>? _given;
    private bool _sameParameters;

    public override Task SetParametersAsync(ParameterView parameters)
    {
        var given = parameters.ToDictionary();
        _sameParameters = _given is { } last && Same(last, given);
        _given = given;
        var set = base.SetParametersAsync(parameters); // OnParametersSet and the render it asks for, or not
        _sameParameters = false;
        return set;
    }

    protected override bool ShouldRender() => !_sameParameters;

    private static bool Same(IReadOnlyDictionary<string, object?> last, IReadOnlyDictionary<string, object?> given)
    {
        if (last.Count != given.Count) return false;
        foreach (var (name, value) in given)
            if (!last.TryGetValue(name, out var before) || !Equals(before, value)) return false;
        return true;
    }
}
