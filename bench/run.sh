#!/usr/bin/env bash
# ChatPortal benchmark: builds Release, starts ChatPortal (fresh data folder, loopback) and the two
# comparison peers from ../shared/bench, runs the scenarios of issue 7 side by side, stops what it
# started (by PID) and writes bench/results.md. Bounded: every load run has --timeout, every
# server a lifetime; loopback only.
#
#   bench/run.sh                 # everything (about 15-25 min on 2 shared cores)
#   REPS=1 IDLE_CONNS=2000 bench/run.sh     # quicker
#   SKIP_BDN=1 bench/run.sh      # without the BenchmarkDotNet part (history/search/storage)
#   ONLY=webusers bench/run.sh   # scenario 4 alone (prints its JSON lines; bench/results.md is left as it is)
#   WEB_MODE=chromium bench/run.sh   # scenario 4 in headless Chromium (the old driver; ~200 pages at most)
#
# Benchmark-only settings (environment variables for the ChatPortal process; the shipped
# defaults in appsettings.json stay as they are):
#   Chat__RateLimitBurst=1000000, Chat__RateLimitPerSecond=1000000   one load generator sends
#       far faster than a person (shipped: burst 10, 3/s per user)
#   WebSockets__MaxConnectionsPerIp=100000   every socket comes from 127.0.0.1 (shipped: 256)
#   Limits__*PerAddress=0                    the per-address limits are off: every guest, post and
#       image of the load generator comes from 127.0.0.1 (shipped: see appsettings.json)
#   WebSockets__SendQueueCapacity=4096       a 2,000-message burst to each socket (shipped: 512;
#       a slower consumer is otherwise disconnected, which the benchmark would count as loss)
#   WebSockets__AuthTimeoutSeconds=60        10,000 guests signing in at once queue behind each
#       other on 2 shared cores (shipped: 10 s)
#   Logging__LogLevel__Default=Warning
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
REPS=${REPS:-3}
IDLE_CONNS=${IDLE_CONNS:-10000}
WEB_USERS=${WEB_USERS:-1000}
WEB_MODE=${WEB_MODE:-circuits}
ONLY=${ONLY:-}
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }
PEERS_SRC=${PEERS_SRC:-$ROOT/../../shared/bench}
[ -d "$PEERS_SRC" ] || PEERS_SRC=/work/shared/bench
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d /tmp/chatportal-bench.XXXXXX)
RUNS=$WORK/runs.jsonl
: >"$RUNS"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

log "publishing Release as the Dockerfile does (self-contained, ReadyToRun composite)"
APPDIR=$WORK/app
dotnet publish ChatPortal/ChatPortal.csproj -c Release -r linux-x64 -p:SelfContained=true -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true \
  -o "$APPDIR" -v q -nologo >/dev/null
dotnet build -c Release bench/ChatPortal.LoadGen/ChatPortal.LoadGen.csproj -v q -nologo >/dev/null
# Scenario 4's yardstick: the bare Blazor Web App template (Server interactivity, no auth), Release.
dotnet build -c Release bench/BareBlazor/BareBlazor.csproj -v q -nologo >/dev/null
LG="dotnet $ROOT/bench/ChatPortal.LoadGen/bin/Release/net10.0/ChatPortal.LoadGen.dll"

if [ -z "$ONLY" ]; then
  log "preparing peers in $WORK/peers"
  cp -r "$PEERS_SRC" "$WORK/peers"
  (cd "$WORK/peers" && npm install --no-audit --no-fund --silent >/dev/null)
  (cd "$WORK/peers/peer-aspnet" && dotnet build -c Release -v q -nologo >/dev/null)
fi

CP_PORT=5871; NODE_PORT=9502; KESTREL_PORT=9503; BARE_PORT=9504
CP_PID=; NODE_PID=; KESTREL_PID=; BARE_PID=
for port in $CP_PORT $NODE_PORT $KESTREL_PORT $BARE_PORT; do
  if (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null; then echo "port $port is in use: stop that process first" >&2; exit 1; fi
done

wait_http() { # url, pid → prints ms waited
  local start=$(date +%s%N)
  for _ in $(seq 1 600); do
    curl -sfL -o /dev/null "$1" && { echo $(( ($(date +%s%N) - start) / 1000000 )); return 0; }
    kill -0 "$2" 2>/dev/null || { log "server $2 died"; return 1; }
    sleep 0.02
  done
  return 1
}
wait_port() { for _ in $(seq 1 500); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.02; done; return 1; }

start_cp() { # fresh data folder; records the cold start (launch → first page served) unless "rooms" is given
  local data=$WORK/data-$RANDOM$RANDOM
  mkdir -p "$data"
  if [ "${1:-}" = rooms ]; then
    # Scenario 5's rooms (one per sender), made by the admin command line before the server starts.
    (cd "$APPDIR" && dotnet ChatPortal.dll admin create-room $(seq -f "storage-%g" 0 49) --guests --Portal:DataPath="$data" >/dev/null)
  fi
  local t0=$(date +%s%N)
  (cd "$APPDIR" && exec env ASPNETCORE_ENVIRONMENT=Production DOTNET_ENVIRONMENT=Production \
    Urls=http://127.0.0.1:$CP_PORT Portal__DataPath="$data" Logging__LogLevel__Default=Warning \
    Chat__RateLimitBurst=1000000 Chat__RateLimitPerSecond=1000000 \
    Limits__PostBurstPerAddress=0 Limits__GuestBurstPerAddress=0 Limits__ImageBurstPerAddress=0 Limits__ImageBytesPerAddressPerHour=0 Limits__RegistrationBurstPerAddress=0 \
    WebSockets__MaxConnectionsPerIp=100000 WebSockets__SendQueueCapacity=4096 WebSockets__AuthTimeoutSeconds=60 \
    dotnet ChatPortal.dll >>"$WORK/chatportal.log" 2>&1) &
  CP_PID=$!; PIDS+=("$CP_PID")
  wait_http "http://127.0.0.1:$CP_PORT/" "$CP_PID" >/dev/null
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ "${1:-}" = rooms ] || echo "{\"scenario\":\"coldstart\",\"server\":\"chatportal\",\"coldStartMs\":$ms}" >>"$RUNS"
  log "chatportal pid $CP_PID up in ${ms} ms"
}
stop_pid() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null || true; }
start_node() {
  node "$WORK/peers/peer-ws-node.mjs" --port=$NODE_PORT --lifetime=3000 >>"$WORK/node.log" 2>&1 &
  NODE_PID=$!; PIDS+=("$NODE_PID"); wait_port $NODE_PORT
}
start_bare() {
  (cd "$ROOT/bench/BareBlazor/bin/Release/net10.0" && exec env ASPNETCORE_ENVIRONMENT=Production DOTNET_ENVIRONMENT=Production \
    Urls=http://127.0.0.1:$BARE_PORT Logging__LogLevel__Default=Warning dotnet BareBlazor.dll >>"$WORK/bare.log" 2>&1) &
  BARE_PID=$!; PIDS+=("$BARE_PID"); wait_http "http://127.0.0.1:$BARE_PORT/" "$BARE_PID" >/dev/null
}
start_kestrel() {
  dotnet "$WORK/peers/peer-aspnet/bin/Release/net10.0/peer-aspnet.dll" --port=$KESTREL_PORT --lifetime=3000 >>"$WORK/kestrel.log" 2>&1 &
  KESTREL_PID=$!; PIDS+=("$KESTREL_PID"); wait_port $KESTREL_PORT
}

run() { # scenario server rep args... → appends the JSON summary
  local scenario=$1 server=$2 rep=$3; shift 3
  local url pid
  case $server in
    chatportal) url=ws://127.0.0.1:$CP_PORT/ws; pid=$CP_PID ;;
    node) url=ws://127.0.0.1:$NODE_PORT/; pid=$NODE_PID ;;
    kestrel) url=ws://127.0.0.1:$KESTREL_PORT/; pid=$KESTREL_PID ;;
  esac
  local out
  out=$($LG --url="$url" --pid="$pid" --label="$scenario/$server/$rep" "$@" || true)
  [ -n "$out" ] || out='{"error":"load generator failed"}'
  echo "$out" | jq -c --arg s "$scenario" --arg v "$server" --argjson r "$rep" '. + {scenario:$s, server:$v, rep:$r}' >>"$RUNS"
  log "$scenario $server #$rep: $(echo "$out" | jq -c '{deliveriesPerSecond,acksPerSecond,latencyP50Ms,latencyP99Ms,loss,connectsPerSecond,error}')"
}

if [ -z "$ONLY" ]; then
# Cold start (scenario 7): fresh starts (at least 3), each on a new data folder.
for i in $(seq 1 $(( REPS < 3 ? 3 : REPS ))); do
  start_cp
  stop_pid "$CP_PID"
done
start_cp rooms; start_node; start_kestrel

# ChatPortal's plain sockets join their room after the upgrade: sending starts once every one has
# (its openSuccess frame), or joins still running overlap the fan-out being measured. The peers send nothing.
joined() { [ "$1" = chatportal ] && echo --joined=openSuccess || true; }

# Scenario 1: fan-out burst. Scenario 2: steady 100 msg/s in. Servers interleaved per repetition.
# --warmup-msgs: every run first sends 50 unmeasured messages per sender and waits for them, so that the
# load generator (a fresh process each run) measures with its own code optimized (bench/notes.md).
for rep in $(seq 1 "$REPS"); do
  for s in chatportal node kestrel; do
    run fanout "$s" "$rep" --conns=1000 --senders=10 --msgs=200 --rate=0 --idle=10000 --timeout=180 --warmup-msgs=50 $(joined "$s")
  done
done
for rep in $(seq 1 "$REPS"); do
  for s in chatportal node kestrel; do
    run steady "$s" "$rep" --conns=1000 --senders=10 --msgs=100 --rate=10 --idle=10000 --timeout=180 --warmup-msgs=50 $(joined "$s")
  done
done

# Scenario 5 through the socket: 50 v1 senders, window 32, acks = stored. Each sender in a room of
# its own, so the figure measures storage (scenario 1 measures fan-out); for comparison, the same
# 50 sockets all in the lobby, where every message also goes to 50 sockets.
run storage-warmup chatportal 1 --protocol=v1 --room='storage-{i}' --conns=50 --senders=50 --msgs=400 --window=32 --timeout=180
for rep in $(seq 1 "$REPS"); do
  run storage chatportal "$rep" --protocol=v1 --room='storage-{i}' --conns=50 --senders=50 --msgs=3000 --window=32 --timeout=180
done
for rep in $(seq 1 "$REPS"); do
  run storage-shared chatportal "$rep" --protocol=v1 --conns=50 --senders=50 --msgs=400 --window=32 --timeout=180
done

# Scenario 3: idle sockets on freshly started servers (RSS before vs held).
stop_pid "$CP_PID"; stop_pid "$NODE_PID"; stop_pid "$KESTREL_PID"
start_cp; start_node; start_kestrel
sleep 2
# ChatPortal's sockets are chatportal.v1 guests that signed in but joined no room: a plain socket
# joins the lobby and every join is announced to everyone already there (N² frames while connecting).
run idle chatportal 1 --protocol=v1 --room=- --conns="$IDLE_CONNS" --senders=0 --msgs=0 --hold=3 --cc=100 --timeout=900
for s in node kestrel; do
  run idle "$s" 1 --conns="$IDLE_CONNS" --senders=0 --msgs=0 --hold=3 --cc=100 --timeout=900
done
stop_pid "$CP_PID"; stop_pid "$NODE_PID"; stop_pid "$KESTREL_PID"

fi

# Scenario 4: signed-in web users (Blazor circuits) in one room, on a fresh server.
if want webusers; then
  start_cp
  if [ "$WEB_MODE" = chromium ]; then
    log "web users: $WEB_USERS pages in headless Chromium"
    out=$($LG --mode=web --url=ws://127.0.0.1:$CP_PORT/ws --pid="$CP_PID" --conns="$WEB_USERS" --msgs=10 --timeout=900 --label=webusers || true)
    [ -n "$out" ] || out='{"error":"web load failed"}'
    echo "$out" | jq -c '. + {scenario:"webusers", server:"chatportal", rep:1}' >>"$RUNS"
    log "webusers: $out"
  else
    # Headless circuits (bench/ChatPortal.LoadGen/Circuits): the bare template first, on a server of
    # its own, then ChatPortal with every circuit a signed-in user of its own; memory per circuit is
    # measured the same way on both (RSS growth over the circuits, after 10 warm-up circuits).
    start_bare
    log "web users: $WEB_USERS circuits on the bare Blazor template"
    out=$($LG --mode=circuits --url=http://127.0.0.1:$BARE_PORT/ --path=/ --signin=false --pid="$BARE_PID" --conns="$WEB_USERS" --cc=20 --msgs=0 --timeout=600 --label=webusers/blazor-template || true)
    [ -n "$out" ] || out='{"error":"circuit load failed"}'
    echo "$out" | jq -c '. + {scenario:"webusers", server:"blazor-template", rep:1}' >>"$RUNS"
    log "webusers blazor-template: $(echo "$out" | jq -c 'del(.jsCalls)')"
    stop_pid "$BARE_PID"
    log "web users: $WEB_USERS signed-in circuits on ChatPortal"
    out=$($LG --mode=circuits --url=http://127.0.0.1:$CP_PORT/ --path=/rooms/lobby --pid="$CP_PID" --conns="$WEB_USERS" --cc=20 --signin-cc=8 --msgs=10 --timeout=1500 --label=webusers/chatportal || true)
    [ -n "$out" ] || out='{"error":"circuit load failed"}'
    echo "$out" | jq -c '. + {scenario:"webusers", server:"chatportal", rep:1}' >>"$RUNS"
    log "webusers chatportal: $(echo "$out" | jq -c 'del(.jsCalls)')"
  fi
  stop_pid "$CP_PID"
fi
if [ -n "$ONLY" ]; then
  cat "$RUNS"
  log "done: $ONLY only (JSON lines above and in $RUNS; bench/results.md unchanged)"
  exit 0
fi

# In-process figures (scenario 5 baseline, scenario 6) from BenchmarkDotNet.
BDN_DIR=
if [ -z "${SKIP_BDN:-}" ]; then
  log "BenchmarkDotNet (history, search, storage)"
  BDN_DIR=$WORK/bdn
  (cd bench/ChatPortal.Benchmarks && dotnet run -c Release -- --artifacts "$BDN_DIR" --filter '*' >"$WORK/bdn.log" 2>&1) || log "BenchmarkDotNet failed: see $WORK/bdn.log"
fi

log "writing bench/results.md"
python3 bench/report.py "$RUNS" "${BDN_DIR:-}" >bench/results.md
cp "$RUNS" bench/results-raw.jsonl
log "done: bench/results.md (work folder $WORK)"
