# ChatPortal container: multi-stage (SDK build → ASP.NET runtime), non-root, one data volume.
#   docker build -t chatportal .
#   docker run -p 8080:8080 -v chatportal-data:/data chatportal
# The restore/publish lines are the ones test.sh runs, so CI proves them on every run.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project files only: the layer is reused until a dependency changes.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY ChatPortal/ChatPortal.csproj ChatPortal/
# PublishReadyToRun at restore too: it brings the ReadyToRun compiler pack the publish below needs.
RUN dotnet restore ChatPortal/ChatPortal.csproj -r linux-x64 -p:PublishReadyToRun=true
COPY . .
# ReadyToRun: precompiled code starts the server and serves the first page about a third sooner.
RUN dotnet publish ChatPortal/ChatPortal.csproj -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
    -o /app --no-restore

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app .
# The data folder holds the SQLite database (single node), images and the DataProtection keys.
ENV Urls=http://0.0.0.0:8080 \
    Portal__DataPath=/data \
    DOTNET_CLI_TELEMETRY_OPTOUT=1
RUN mkdir -p /data && chown app:app /data
USER app
VOLUME /data
EXPOSE 8080
# The image has no curl: the app probes its own /healthz (exit 0 = 200; Redis down is still 200, "Degraded").
HEALTHCHECK --interval=15s --timeout=6s --start-period=30s --retries=3 \
    CMD ["dotnet", "ChatPortal.dll", "healthcheck"]
ENTRYPOINT ["dotnet", "ChatPortal.dll"]
