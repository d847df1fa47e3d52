#!/usr/bin/env bash
# Reconnect storm (issue 19, item 2): N chatportal.v1 clients of the real client kit
# (wwwroot-assets/chatportal.js, run in Node by bench/storm/storm.mjs) sit in one room while a poster
# posts numbered messages; the server is restarted (graceful stop: every socket gets 1012, then a new
# process on the same data folder); the clients come back by themselves (the kit's backoff with full
# jitter), re-join from their last event id and catch up. The driver checks that every client got
# every acknowledged message exactly once, in order, and reports the time from the stop until all
# are caught up. Then the raw-Kestrel peer of ../shared/bench just accepts N sockets opened the same
# way (each at a random moment within the kit's first-try window of 500 ms; failed tries retried with
# the kit's backoff), REPS times; the ratio is ChatPortal's time over the peer's median.
#
#   bench/storm.sh                       # 10,000 clients; appends a section to bench/results.md
#   CLIENTS=1000 bench/storm.sh          # smaller
#   NO_RESULTS=1 bench/storm.sh          # print the figures only
#   APPDIR=/path/to/published/app bench/storm.sh   # skip the publish (an app published as below)
#   NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" bench/storm.sh   # node options of the storm driver (e.g. its profile)
#   ADDRESSES=250 bench/storm.sh         # clients from 250 loopback addresses, both runs (default 1: 127.0.0.1)
#   CP_ENV="DOTNET_PerfMapEnabled=1 ..." bench/storm.sh   # extra environment of the ChatPortal process (profiling)
#   KIT=/path/to/chatportal.js bench/storm.sh   # another client kit for the clients (e.g. an earlier commit's, for an A/B)
#
# Benchmark-only settings of the ChatPortal process: those of bench/run.sh (rate limits and the
# per-address limits off, 100,000 sockets per address, send queue 4,096, auth timeout 60 s). The
# shipped defaults stay as they are. Bounded: the driver has a hard --timeout, the peer a lifetime,
# every wait below a limit; loopback only; the script ends only the processes it started, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CLIENTS=${CLIENTS:-10000}
RATE=${RATE:-5}
ADDRESSES=${ADDRESSES:-1}
REPS=${REPS:-3}
TIMEOUT=${TIMEOUT:-900}
PEERS_SRC=${PEERS_SRC:-$ROOT/../../shared/bench}
[ -d "$PEERS_SRC" ] || PEERS_SRC=/work/shared/bench
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((CLIENTS + 500)) ] || { echo "ulimit -n $(ulimit -n) is too low for $CLIENTS clients" >&2; exit 1; }

WORK=$(mktemp -d /tmp/chatportal-storm.XXXXXX)
PIDS=()
cleanup() {
  exec 3>&- 2>/dev/null || true
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

if [ -z "${APPDIR:-}" ]; then
  log "publishing Release as the Dockerfile does (self-contained, ReadyToRun composite)"
  APPDIR=$WORK/app
  dotnet publish ChatPortal/ChatPortal.csproj -c Release -r linux-x64 -p:SelfContained=true -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true \
    -o "$APPDIR" -v q -nologo >/dev/null
fi
[ -d bench/storm/node_modules/ws ] || (cd bench/storm && npm ci --no-audit --no-fund --silent >/dev/null)
cp -r "$PEERS_SRC" "$WORK/peers"
(cd "$WORK/peers/peer-aspnet" && dotnet build -c Release -v q -nologo >/dev/null)

CP_PORT=5873; KESTREL_PORT=9523
for port in $CP_PORT $KESTREL_PORT; do
  if (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null; then echo "port $port is in use: stop that process first" >&2; exit 1; fi
done
wait_http() { # url pid
  for _ in $(seq 1 1500); do
    curl -sf -o /dev/null "$1" && return 0
    kill -0 "$2" 2>/dev/null || { log "server $2 died"; return 1; }
    sleep 0.02
  done
  return 1
}
wait_port() { for _ in $(seq 1 1500); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.02; done; return 1; }

DATA=$WORK/data
mkdir -p "$DATA"
CP_PID=
start_cp() { # the same data folder every time
  (cd "$APPDIR" && exec env ${CP_ENV:-} ASPNETCORE_ENVIRONMENT=Production DOTNET_ENVIRONMENT=Production \
    Urls=http://127.0.0.1:$CP_PORT Portal__DataPath="$DATA" Logging__LogLevel__Default=Warning \
    Chat__RateLimitBurst=1000000 Chat__RateLimitPerSecond=1000000 \
    Limits__PostBurstPerAddress=0 Limits__GuestBurstPerAddress=0 Limits__ImageBurstPerAddress=0 Limits__ImageBytesPerAddressPerHour=0 Limits__RegistrationBurstPerAddress=0 \
    WebSockets__MaxConnectionsPerIp=100000 WebSockets__SendQueueCapacity=4096 WebSockets__AuthTimeoutSeconds=60 \
    dotnet ChatPortal.dll >>"$WORK/chatportal.log" 2>&1) &
  CP_PID=$!; PIDS+=("$CP_PID")
}

# ---- the storm
start_cp
wait_http "http://127.0.0.1:$CP_PORT/login" "$CP_PID" || { log "ChatPortal did not start (log: $WORK/chatportal.log)"; exit 1; }
log "chatportal pid $CP_PID; $CLIENTS clients joining (load average $(loadavg))"
mkfifo "$WORK/ctl"
node ${NODE_ARGS:-} bench/storm/storm.mjs --kit="${KIT:-$ROOT/wwwroot-assets/chatportal.js}" --url="http://127.0.0.1:$CP_PORT/" --clients="$CLIENTS" --rate="$RATE" --pid="$CP_PID" --addresses="$ADDRESSES" \
  --timeout="$TIMEOUT" --label="storm/chatportal" <"$WORK/ctl" >"$WORK/storm.out" 2>"$WORK/storm.err" &
DRIVER_PID=$!; PIDS+=("$DRIVER_PID")
exec 3>"$WORK/ctl"
for _ in $(seq 1 $((TIMEOUT * 5))); do
  grep -q '"event":"ready"' "$WORK/storm.out" 2>/dev/null && break
  kill -0 "$DRIVER_PID" 2>/dev/null || break
  sleep 0.2
done
grep -q '"event":"ready"' "$WORK/storm.out" || { log "the driver did not get ready:"; tail -5 "$WORK/storm.err" >&2; exit 1; }
LOAD_BEFORE=$(loadavg)
log "ready; restarting the server (load average $LOAD_BEFORE)"
echo stop >&3
kill -TERM "$CP_PID"
wait "$CP_PID" 2>/dev/null || true
echo exited >&3
OLD_PID=$CP_PID
start_cp
# "started" = the new process serves a page. Its port opens at once (EarlyListen: connections made while it starts
# wait in the listen queue), so an open port no longer means it is ready. (The port first: a curl every 20 ms
# against a closed port would take CPU from the start-up it waits for.)
wait_port $CP_PORT && wait_http "http://127.0.0.1:$CP_PORT/login" "$CP_PID" || { log "ChatPortal did not come back"; exit 1; }
echo "started $CP_PID" >&3
log "old pid $OLD_PID exited, new pid $CP_PID serving; waiting for the clients"
wait "$DRIVER_PID" || true
exec 3>&-
LOAD_AFTER=$(loadavg)
log "load average after the storm: $LOAD_AFTER"
STORM=$(grep '"event":"summary"' "$WORK/storm.out" | tail -1)
[ -n "$STORM" ] || STORM='{"event":"summary","reason":"driver failed"}'
cp "$WORK/storm.err" "$WORK/storm-driver.log"
log "storm: $(echo "$STORM" | jq -c '{reason,ok,allCaughtUpMs,serverStartedMs,gaps,duplicates,storedTwice,rawRepeats,clientsNotCaughtUp,sameGuestAfterRestart}')"
kill "$CP_PID" 2>/dev/null && wait "$CP_PID" 2>/dev/null || true

# ---- the yardstick: the raw-Kestrel peer accepting the same number of sockets
PEER_RUNS=()
for rep in $(seq 1 "$REPS"); do
  dotnet "$WORK/peers/peer-aspnet/bin/Release/net10.0/peer-aspnet.dll" --port=$KESTREL_PORT --lifetime=600 >>"$WORK/kestrel.log" 2>&1 &
  KESTREL_PID=$!; PIDS+=("$KESTREL_PID")
  wait_port $KESTREL_PORT
  sleep 1
  out=$(node bench/storm/storm.mjs --mode=connect --url="ws://127.0.0.1:$KESTREL_PORT/" --clients="$CLIENTS" --pid="$KESTREL_PID" --addresses="$ADDRESSES" \
    --timeout=300 --label="connect/kestrel/$rep" 2>>"$WORK/connect.log" | grep '"event":"summary"' | tail -1 || true)
  [ -n "$out" ] || out='{"event":"summary","reason":"driver failed"}'
  PEER_RUNS+=("$out")
  log "kestrel accept #$rep: $(echo "$out" | jq -c '{reason,allOpenMs,failures,maxInFlight}')"
  kill "$KESTREL_PID" 2>/dev/null && wait "$KESTREL_PID" 2>/dev/null || true
done

printf '%s\n' "$STORM" "${PEER_RUNS[@]}" >"$WORK/runs.jsonl"
PEER_MEDIAN=$(printf '%s\n' "${PEER_RUNS[@]}" | jq -s '[.[] | .allOpenMs | select(. != null)] | sort | if length == 0 then null else .[(length - 1) / 2 | floor] end')
RATIO=$(echo "$STORM" | jq --argjson p "$PEER_MEDIAN" 'if .allCaughtUpMs == null or $p == null then null else (.allCaughtUpMs / $p * 100 | round / 100) end')
RATIO_STARTED=$(echo "$STORM" | jq --argjson p "$PEER_MEDIAN" 'if .allCaughtUpAfterStartedMs == null or $p == null then null else (.allCaughtUpAfterStartedMs / $p * 100 | round / 100) end')
log "ratio (stop → all caught up) / (peer accepts all): $RATIO; from the new server serving: $RATIO_STARTED"
cat "$WORK/runs.jsonl"

if [ -z "${NO_RESULTS:-}" ]; then
  python3 bench/storm/report.py "$WORK/runs.jsonl" "$LOAD_BEFORE" "$LOAD_AFTER" "$(git rev-parse --short HEAD)" >>bench/results.md
  log "appended to bench/results.md"
fi
log "done (work folder $WORK)"
