#!/usr/bin/env bash
# The one test command: installs what the tests need when it is missing, then runs every test.
# Ends with one line: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")"

# Debian packages the tests start for real: Chromium and its headless shell (browser tests), Redis and PostgreSQL
# (scale-out tests), nginx (reverse-proxy test), iproute2 (ss).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/lib/chromium/chromium-headless-shell ] || missing+=(chromium-headless-shell) # most browser tests: half the CPU
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v ss >/dev/null 2>&1 || missing+=(iproute2) # ss: the listen backlog test reads the kernel's view of the socket
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log=$(mktemp)
dotnet build ChatPortal.sln -c Debug -nologo -clp:ErrorsOnly 2>&1 | tee "$log"
build=${PIPESTATUS[0]}
if [ "$build" -ne 0 ]; then
  echo "Build failed."
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi

# The Dockerfile's restore and publish steps, exactly (Setup/BuildStepsTests fails when they differ): the app
# self-contained, the .NET and ASP.NET Core libraries and the app compiled into one ReadyToRun composite image (~4 min
# of the two cores). The suite then starts that published app wherever a test runs the portal as a process
# (CHATPORTAL_TEST_APP, Infrastructure/PortalProcess.cs): the app as it ships, and precompiled and optimised it needs
# about a third less CPU than the Debug build, which repays the compile (bench/results.md, twenty-fourth session).
# The restore names the publish's properties too: only then does it fetch the runtime packs and the ReadyToRun
# compiler pack that the --no-restore publish needs (without them the publish fails on an empty NuGet cache, NETSDK1094).
rm -rf artifacts/publish
if ! { dotnet restore ChatPortal/ChatPortal.csproj -r linux-x64 -p:SelfContained=true -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true -nologo -v quiet \
       && dotnet publish ChatPortal/ChatPortal.csproj -c Release -r linux-x64 -p:SelfContained=true -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true \
            -o artifacts/publish --no-restore -nologo -v quiet; } >"$log" 2>&1; then
  cat "$log"
  echo "Publish failed."
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi

CHATPORTAL_TEST_APP="$PWD/artifacts/publish" dotnet test --solution ChatPortal.sln --no-build -c Debug "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

num() { grep -E "^\s+$1: [0-9]+" "$log" | tail -1 | grep -oE '[0-9]+' || echo 0; }
passed=$(num succeeded); failed=$(num failed); skipped=$(num skipped)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
rm -f "$log"
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
