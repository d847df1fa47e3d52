#!/usr/bin/env bash
# The one test command: installs what the tests need when it is missing, then runs every test.
# Ends with one line: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")"

# Debian packages the tests start for real: Chromium (browser tests), Redis and PostgreSQL
# (scale-out tests), nginx (reverse-proxy test), iproute2 (ss).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
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

# The Dockerfile's restore and publish steps, exactly (Setup/BuildStepsTests fails when they differ), run beside the
# suite: compiling the framework and the app into one ReadyToRun composite image takes ~3.5 min of the two cores, and
# the suite keeps only ~1.3 of them busy on average (it waits on its servers, browsers and timers), so the publish runs
# at the lowest priority (nice 19) in the room the suite leaves; it still costs the suite about a minute. The published
# app is then started by a test class of its own (Setup/PublishedAppTests), after the publish is done.
# The restore names the publish's properties too: only then does it fetch the runtime packs and the ReadyToRun
# compiler pack that the --no-restore publish needs (without them the publish fails on an empty NuGet cache, NETSDK1094).
rm -rf artifacts/publish
publog=$(mktemp)
publish_app() {
  dotnet restore ChatPortal/ChatPortal.csproj -r linux-x64 -p:SelfContained=true -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true -nologo -v quiet \
    && dotnet publish ChatPortal/ChatPortal.csproj -c Release -r linux-x64 -p:SelfContained=true -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true \
         -o artifacts/publish --no-restore -nologo -v quiet
}
# The build's MSBuild nodes and compiler servers stay running at normal priority and a later build would hand its work
# to them: they are stopped first, and the publish starts its own (without reuse, no shared compiler server), so all
# of its work runs at the lower priority. (The suite had taken 20 min instead of 16.6 beside a publish done at full
# priority that way.)
dotnet build-server shutdown >/dev/null 2>&1 || true
( renice -n 19 -p "$BASHPID" >/dev/null; export MSBUILDDISABLENODEREUSE=1 UseSharedCompilation=false; publish_app ) >"$publog" 2>&1 &
publish_pid=$!

published=ChatPortal.Tests.Setup.PublishedAppTests
dotnet test --solution ChatPortal.sln --no-build -c Debug --filter-not-class "$published" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
num() { grep -E "^\s+$1: [0-9]+" "$2" | tail -1 | grep -oE '[0-9]+' || echo 0; }
passed=$(num succeeded "$log"); failed=$(num failed "$log"); skipped=$(num skipped "$log")
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi

if wait "$publish_pid"; then
  dotnet test --solution ChatPortal.sln --no-build -c Debug --filter-class "$published" 2>&1 | tee "$log"
  pstatus=${PIPESTATUS[0]}
  p=$(num succeeded "$log"); f=$(num failed "$log"); k=$(num skipped "$log")
  if [ "$pstatus" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + k))
  [ "$pstatus" -eq 0 ] || status=$pstatus
else
  cat "$publog"
  echo "Publish failed."
  failed=$((failed + 1)); status=1
fi
rm -f "$log" "$publog"
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
