using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.RateLimiting;
using ChatPortal.Admin;
using ChatPortal.Auth;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.OpenApi;

namespace ChatPortal.Api;

/// <summary>REST API settings (section <c>Api</c>).</summary>
public sealed class ApiOptions
{
    public const string Section = "Api";
    /// <summary>Requests per minute each token may make on average.</summary>
    public int RateLimitPerMinute { get; set; } = 300;
    /// <summary>Requests a token may make in a burst before the per-minute rate applies.</summary>
    public int RateLimitBurst { get; set; } = 60;
}

/// <summary>
/// The REST API (<c>/api/v1</c>, issue 16): bearer tokens only, one rate limit per token, problem+json errors, and an
/// OpenAPI document at <c>/api/v1/openapi.json</c>. The handlers are thin: each calls the core or a back-office service.
/// </summary>
public static class ApiSetup
{
    public const string BasePath = "/api/v1";
    public const string OpenApiPath = BasePath + "/openapi.json";
    public const string RatePolicy = "api";
    private const string SecuritySchemeName = "Bearer";

    public static WebApplicationBuilder AddApi(this WebApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(ApiOptions.Section);
        builder.Services.Configure<ApiOptions>(section);
        var options = section.Get<ApiOptions>() ?? new ApiOptions();
        builder.Services.AddSingleton<ApiViews>();
        builder.Services.AddAuthentication().AddScheme<AuthenticationSchemeOptions, ApiTokenHandler>(ApiTokenHandler.SchemeName, null);
        var authz = builder.Services.AddAuthorizationBuilder();
        foreach (var scope in new[] { ApiScopeNames.Read, ApiScopeNames.Write, ApiScopeNames.Admin })
        {
            authz.AddPolicy(PolicyOf(scope), p => p.AddAuthenticationSchemes(ApiTokenHandler.SchemeName).RequireAuthenticatedUser()
                .RequireClaim(ApiTokenHandler.ScopeClaim, scope));
        }
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        });
        builder.Services.AddProblemDetails();
        builder.Services.AddRateLimiter(o =>
        {
            o.AddPolicy(RatePolicy, ctx => RateLimitPartition.GetTokenBucketLimiter(PartitionKey(ctx), _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = Math.Max(1, options.RateLimitBurst),
                TokensPerPeriod = 1,
                ReplenishmentPeriod = TimeSpan.FromMinutes(1) / Math.Max(1, options.RateLimitPerMinute),
                QueueLimit = 0,
                AutoReplenishment = true,
            }));
            o.OnRejected = async (context, ct) =>
            {
                var seconds = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retry)
                    ? Math.Max(1, (int)Math.Ceiling(retry.TotalSeconds))
                    : Math.Max(1, (int)Math.Ceiling(60.0 / Math.Max(1, options.RateLimitPerMinute)));
                context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await ApiProblems.Problem(StatusCodes.Status429TooManyRequests, "rate_limited",
                    $"This token sent too many requests; try again in {seconds} s.").ExecuteAsync(context.HttpContext);
            };
        });
        builder.Services.AddOpenApi("v1", o =>
        {
            o.ShouldInclude = d => d.RelativePath?.StartsWith("api/v1/", StringComparison.Ordinal) == true;
            o.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "ChatPortal API",
                    Version = "v1",
                    Description = "Rooms, members, messages, users and the back office. Send a personal access token as 'Authorization: Bearer <token>'. "
                        + "Errors are application/problem+json with a stable 'type' (urn:chatportal:problem:{code}) and 'code'.",
                };
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[SecuritySchemeName] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    BearerFormat = "cpt_…",
                    Description = "A personal access token (account page → API tokens) or a bot token from the back office.",
                };
                return Task.CompletedTask;
            });
            o.AddOperationTransformer((operation, context, _) =>
            {
                var scopes = context.Description.ActionDescriptor.EndpointMetadata.OfType<ApiScopeRequirement>().Select(s => s.Scope).Distinct().ToList();
                if (scopes.Count == 0) return Task.CompletedTask;
                operation.Security ??= [];
                operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SecuritySchemeName, context.Document)] = scopes });
                operation.Description = $"Needs the token scope{(scopes.Count > 1 ? "s" : "")}: {string.Join(", ", scopes)}.";
                operation.Responses ??= new OpenApiResponses();
                operation.Responses.TryAdd("401", new OpenApiResponse { Description = "No token, or an unknown, revoked or expired one (problem+json)" });
                operation.Responses.TryAdd("403", new OpenApiResponse { Description = "The token lacks the scope, or the account may not do this (problem+json)" });
                operation.Responses.TryAdd("429", new OpenApiResponse { Description = "Rate limited; see Retry-After (problem+json)" });
                return Task.CompletedTask;
            });
        });
        return builder;
    }

    public static WebApplication MapApi(this WebApplication app)
    {
        // After authentication and authorization (MapChatPortal), so the limiter partitions by the token's id.
        app.UseRateLimiter();
        var api = app.MapGroup(BasePath).RequireRateLimiting(RatePolicy).AddEndpointFilter(async (context, next) =>
        {
            try
            {
                context.HttpContext.Response.Headers.CacheControl = "no-store";
                return await next(context);
            }
            catch (AdminAccessDeniedException)
            {
                return AdminApi.NotAdmin();
            }
        });
        ChatApi.Map(api);
        AdminApi.Map(api);
        api.MapFallback(() => ApiProblems.Problem(StatusCodes.Status404NotFound, "no_such_endpoint", "There is no such API endpoint; see " + OpenApiPath))
            .ExcludeFromDescription();
        app.MapOpenApi(OpenApiPath).AllowAnonymous().RequireRateLimiting(RatePolicy);
        return app;
    }

    public static string PolicyOf(string scope) => "api:" + scope;

    public static TBuilder Read<TBuilder>(this TBuilder b) where TBuilder : IEndpointConventionBuilder => b.Scope(ApiScopeNames.Read);
    public static TBuilder Write<TBuilder>(this TBuilder b) where TBuilder : IEndpointConventionBuilder => b.Scope(ApiScopeNames.Write);
    public static TBuilder Admin<TBuilder>(this TBuilder b) where TBuilder : IEndpointConventionBuilder => b.Scope(ApiScopeNames.Admin);

    private static TBuilder Scope<TBuilder>(this TBuilder b, string scope) where TBuilder : IEndpointConventionBuilder =>
        b.RequireAuthorization(PolicyOf(scope)).WithMetadata(new ApiScopeRequirement(scope));

    /// <summary>One bucket per token (by its id); requests without a valid token (the OpenAPI document) share one per address.</summary>
    private static string PartitionKey(HttpContext ctx) =>
        ctx.User.ApiTokenId() is { } id ? "token:" + id : "ip:" + ctx.Connection.RemoteIpAddress;
}
