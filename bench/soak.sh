#!/usr/bin/env bash
# Soak, by hand (not part of ./test.sh). Two modes:
#
#   bench/soak.sh [load options]   # the load soak (default): ChatPortal in Release on a loopback
#                                  # port with a fresh data folder, 1,000 chatportal.v1 sockets in
#                                  # one room, 10 senders x 2 msg/s (20 msg/s in, 20,000 deliveries/s
#                                  # out) for 10 minutes; samples the server's RSS and open fds every
#                                  # 10 s; prints one line per interval and a JSON verdict; exits
#                                  # non-zero when the verdict fails (see docs/security.md, Soak).
#       e.g. bench/soak.sh --duration=120 --warmup=30 --conns=200   # a quick try
#       knobs: --conns --senders --rate (per sender) --duration --warmup --sample --window
#              --tolerance (0.10); SOAK_PORT (5873)
#
#   bench/soak.sh suite [runner args]   # the reliability suite in soak mode (CHATPORTAL_SOAK=1):
#                                  # the crash test with 200 senders and 5,000 acks before kill -9,
#                                  # the 1,000-idle-socket test, the flood and raw-frame tests.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ "${1:-}" = "suite" ]; then
  shift
  export CHATPORTAL_SOAK=1
  dotnet build ChatPortal.sln -c Debug -nologo -clp:ErrorsOnly
  exec ./ChatPortal.Tests/bin/Debug/net10.0/ChatPortal.Tests -namespace ChatPortal.Tests.Reliability "$@"
fi

PORT=${SOAK_PORT:-5873}
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; then echo "port $PORT is in use: set SOAK_PORT" >&2; exit 1; fi
WORK=$(mktemp -d /tmp/chatportal-soak.XXXXXX)
CP_PID=
cleanup() { if [ -n "$CP_PID" ]; then kill "$CP_PID" 2>/dev/null || true; wait "$CP_PID" 2>/dev/null || true; fi; }
trap cleanup EXIT
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

log "building Release"
dotnet build -c Release ChatPortal/ChatPortal.csproj -v q -nologo >/dev/null
dotnet build -c Release bench/ChatPortal.LoadGen/ChatPortal.LoadGen.csproj -v q -nologo >/dev/null

# The same benchmark-only settings as bench/run.sh's start_cp (one load generator sends faster
# than a person, every socket comes from 127.0.0.1, ...); the shipped defaults stay as they are.
mkdir -p "$WORK/data"
(cd "$ROOT/ChatPortal/bin/Release/net10.0" && exec env ASPNETCORE_ENVIRONMENT=Production DOTNET_ENVIRONMENT=Production \
  Urls=http://127.0.0.1:$PORT Portal__DataPath="$WORK/data" Logging__LogLevel__Default=Warning \
  Chat__RateLimitBurst=1000000 Chat__RateLimitPerSecond=1000000 \
  Limits__PostBurstPerAddress=0 Limits__GuestBurstPerAddress=0 Limits__ImageBurstPerAddress=0 Limits__ImageBytesPerAddressPerHour=0 Limits__RegistrationBurstPerAddress=0 \
  WebSockets__MaxConnectionsPerIp=100000 WebSockets__SendQueueCapacity=4096 WebSockets__AuthTimeoutSeconds=60 \
  dotnet ChatPortal.dll >>"$WORK/chatportal.log" 2>&1) &
CP_PID=$!
for _ in $(seq 1 600); do
  curl -sfL -o /dev/null "http://127.0.0.1:$PORT/" && break
  kill -0 "$CP_PID" 2>/dev/null || { log "server died: $WORK/chatportal.log"; exit 1; }
  sleep 0.05
done
log "chatportal pid $CP_PID on port $PORT (log: $WORK/chatportal.log)"

set +e
dotnet "$ROOT/bench/ChatPortal.LoadGen/bin/Release/net10.0/ChatPortal.LoadGen.dll" --mode=soak \
  --url=ws://127.0.0.1:$PORT/ws --pid="$CP_PID" --conns=1000 --senders=10 --rate=2 --duration=600 \
  --label=soak "$@" | tee "$WORK/soak.out"
status=${PIPESTATUS[0]}
set -e
errors=$(grep -cE '^(fail|crit):' "$WORK/chatportal.log" || true)
log "server log errors: $errors; output: $WORK/soak.out"
[ "$errors" -eq 0 ] || status=1
exit "$status"
