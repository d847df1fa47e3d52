namespace ChatPortal.Admin;

/// <summary>
/// Outcome of an admin command: ok, or an error code the pages translate (AdminText
/// <c>Error.{Code}</c>) with an optional argument, plus the English message for logs and tests.
/// </summary>
public sealed record AdminResult(string? ErrorCode = null, string? Message = null, object? Arg = null)
{
    public static readonly AdminResult Success = new();
    public bool Ok => ErrorCode is null;
    public static AdminResult Fail(string code, string message, object? arg = null) => new(code, message, arg);
}

/// <summary>An admin command that also returns a value.</summary>
public sealed record AdminResult<T>(T? Value, AdminResult Status)
{
    public bool Ok => Status.Ok;
    public static implicit operator AdminResult<T>(T value) => new(value, AdminResult.Success);
    public static implicit operator AdminResult<T>(AdminResult failure) => new(default, failure);
}
