#!/usr/bin/env bash
# Interleaved A/B of two ChatPortal builds on the fan-out and steady scenarios of bench/run.sh
# (same load generator arguments), with the raw-Kestrel peer as the yardstick of the machine's
# noise in each round. For a change that may cost speed: run it against the commit before.
#
#   bench/compare.sh <old-commit> [REPS=3] [SCENARIOS="fanout steady connect"]
#
# connect (issue 19, item 1): 2,000 plain guest sockets, 100 connecting at a time; a ChatPortal
# socket counts as set up once its openSuccess (guest row, join, online list) has arrived.
# connect-token: 1,000 chatportal.v1 sockets with API tokens (issued before the timing starts), each
# set up once welcome, joined and caught_up have arrived; the raw-Kestrel peer's yardstick is 1,000
# plain sockets (it speaks no v1). connect-token-pipelined: the same, each client sending auth and join at once.
# connect-token-bearer: the same tokens sent as the upgrade request's Authorization header (no auth frame).
# connect-token-upgrade-join: the header and the room on the upgrade request (?join=lobby): no frame from the client.
# Token runs first connect 100 unmeasured sockets (the peer too) so that the load generator's handshake code is
# warm: a fresh load-generator process jitted it during the timed connects.
#
# Publishes both builds as the Dockerfile does (the old one from a temporary git worktree), starts
# each on a fresh data folder on loopback, runs round after round old → new → kestrel, stops what
# it started (by PID) and prints one JSON line per run plus a summary table. Bounded: every load
# run has --timeout, the peer a lifetime.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OLD=${1:?usage: bench/compare.sh <old-commit>}
REPS=${REPS:-3}
SCENARIOS=${SCENARIOS:-fanout steady}
# Unmeasured fan-out rounds per server first: a fresh .NET server runs ReadyToRun code, then instrumented
# code (slower) while tiered PGO profiles it, and reaches its optimized code only after its hot paths
# have run a while — on this machine ChatPortal after about six rounds (bench/notes.md). Measuring a cold
# server measures its JIT, and the build with more code to warm up loses for that alone.
WARMUP=${WARMUP:-6}
# The load generator warms itself up too (--warmup-msgs below): each run is a fresh process whose receive
# path is unoptimized for its first seconds; a server that sent many frames while clients connected (the
# builds that announced every join) warmed it before the burst, one that sends few did not.
PEERS_SRC=${PEERS_SRC:-$ROOT/../../shared/bench}
[ -d "$PEERS_SRC" ] || PEERS_SRC=/work/shared/bench
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d /tmp/chatportal-compare.XXXXXX)
RUNS=$WORK/runs.jsonl
: >"$RUNS"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  git -C "$ROOT" worktree remove --force "$WORK/old-src" 2>/dev/null || true
}
trap cleanup EXIT
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

publish() { # source dir → output dir
  dotnet publish "$1/ChatPortal/ChatPortal.csproj" -c Release -r linux-x64 -p:SelfContained=true -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true \
    -o "$2" -v q -nologo >/dev/null
}
log "publishing the old build ($OLD) and the new one ($(git rev-parse --short HEAD))"
git worktree add -q --detach "$WORK/old-src" "$OLD"
publish "$WORK/old-src" "$WORK/old"
publish "$ROOT" "$WORK/new"
dotnet build -c Release bench/ChatPortal.LoadGen/ChatPortal.LoadGen.csproj -v q -nologo >/dev/null
LG="dotnet $ROOT/bench/ChatPortal.LoadGen/bin/Release/net10.0/ChatPortal.LoadGen.dll"
cp -r "$PEERS_SRC" "$WORK/peers"
(cd "$WORK/peers/peer-aspnet" && dotnet build -c Release -v q -nologo >/dev/null)

OLD_PORT=5881; NEW_PORT=5882; KESTREL_PORT=9513
for port in $OLD_PORT $NEW_PORT $KESTREL_PORT; do
  if (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null; then echo "port $port is in use: stop that process first" >&2; exit 1; fi
done
wait_port() { for _ in $(seq 1 1500); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.02; done; return 1; }

start_cp() { # app dir, port → sets LAST_PID (the same benchmark-only settings as bench/run.sh)
  local data=$WORK/data-$2
  mkdir -p "$data"
  (cd "$1" && exec env ASPNETCORE_ENVIRONMENT=Production DOTNET_ENVIRONMENT=Production \
    Urls=http://127.0.0.1:$2 Portal__DataPath="$data" Logging__LogLevel__Default=Warning \
    Chat__RateLimitBurst=1000000 Chat__RateLimitPerSecond=1000000 \
    WebSockets__MaxConnectionsPerIp=100000 WebSockets__SendQueueCapacity=4096 WebSockets__AuthTimeoutSeconds=60 \
    Limits__PostBurstPerAddress=0 Limits__GuestBurstPerAddress=0 Limits__ImageBurstPerAddress=0 Limits__ImageBytesPerAddressPerHour=0 Limits__RegistrationBurstPerAddress=0 \
    dotnet ChatPortal.dll >>"$WORK/server-$2.log" 2>&1) &
  LAST_PID=$!; PIDS+=("$LAST_PID")
  wait_port "$2"
}
start_cp "$WORK/old" $OLD_PORT; OLD_PID=$LAST_PID
start_cp "$WORK/new" $NEW_PORT; NEW_PID=$LAST_PID
dotnet "$WORK/peers/peer-aspnet/bin/Release/net10.0/peer-aspnet.dll" --port=$KESTREL_PORT --lifetime=3000 >>"$WORK/kestrel.log" 2>&1 &
KESTREL_PID=$!; PIDS+=("$KESTREL_PID"); wait_port $KESTREL_PORT
sleep 2

cpu_ticks() { # pids... → their summed user+system CPU in clock ticks
  local t=0 p
  for p in "$@"; do [ -r /proc/$p/stat ] && t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat))); done
  echo $t
}
settle() { # waits (≤ 30 s) until all three servers are idle: the one measured before cleans up after its clients
  # (guest rows, presence) and must not do it on the CPU of the next run.
  local i a b
  for i in $(seq 1 30); do
    a=$(cpu_ticks "$OLD_PID" "$NEW_PID" "$KESTREL_PID"); sleep 1; b=$(cpu_ticks "$OLD_PID" "$NEW_PID" "$KESTREL_PID")
    [ $((b - a)) -le 5 ] && return 0
  done
  log "servers still busy after 30 s ($((b - a)) ticks/s); measuring anyway"
}

run() { # scenario server rep args...
  local scenario=$1 server=$2 rep=$3; shift 3
  local url pid out
  case $server in
    old) url=ws://127.0.0.1:$OLD_PORT/ws; pid=$OLD_PID ;;
    new) url=ws://127.0.0.1:$NEW_PORT/ws; pid=$NEW_PID ;;
    kestrel) url=ws://127.0.0.1:$KESTREL_PORT/; pid=$KESTREL_PID ;;
  esac
  # ChatPortal's plain sockets join after the upgrade: send once all have joined (see bench/run.sh).
  local joined=(); [ "$server" = kestrel ] || [[ "$scenario" = connect-token* ]] || joined=(--joined=openSuccess)
  # The peer speaks the plain protocol only.
  if [ "$server" = kestrel ] && [[ "$scenario" = connect-token* ]]; then set -- --conns=1000 --senders=0 --msgs=0 --hold=1 --cc=100 --timeout=300 --warmup-conns=100; fi
  settle
  # Token runs: the load generator without tiered compilation (each method compiled once, fully, during its warm-up
  # connections). With it, 40 % of the load generator's samples during the timed connects were its JIT thread
  # re-compiling the handshake path (instrumented, then optimized), on the cores the servers share.
  local lgenv=(); [[ "$scenario" = connect-token* ]] && lgenv=(env DOTNET_TieredCompilation=0)
  out=$("${lgenv[@]}" $LG --url="$url" --pid="$pid" --label="$scenario/$server/$rep" "$@" "${joined[@]}" || true)
  [ -n "$out" ] || out='{"error":"load generator failed"}'
  echo "$out" | jq -c --arg s "$scenario" --arg v "$server" --argjson r "$rep" '. + {scenario:$s, server:$v, rep:$r}' | tee -a "$RUNS"
}
for s in old new kestrel; do
  for i in $(seq 1 "$WARMUP"); do
    case $s in old) url=ws://127.0.0.1:$OLD_PORT/ws ;; new) url=ws://127.0.0.1:$NEW_PORT/ws ;; kestrel) url=ws://127.0.0.1:$KESTREL_PORT/ ;; esac
    joined=(); [ "$s" = kestrel ] || joined=(--joined=openSuccess)
    $LG --url="$url" --conns=1000 --senders=10 --msgs=200 --rate=0 --idle=10000 --timeout=180 "${joined[@]}" >/dev/null 2>&1 || true
  done
done
[ "$WARMUP" -gt 0 ] && log "warmed up ($WARMUP fan-out rounds each)"
for scenario in $SCENARIOS; do
  for rep in $(seq 1 "$REPS"); do
    # The two builds take turns going first (whoever goes first has the cleanest machine).
    order="old new kestrel"; [ $((rep % 2)) -eq 0 ] && order="new old kestrel"
    for s in $order; do
      case $scenario in
        fanout) run fanout "$s" "$rep" --conns=1000 --senders=10 --msgs=200 --rate=0 --idle=10000 --timeout=180 --warmup-msgs=50 ;;
        steady) run steady "$s" "$rep" --conns=1000 --senders=10 --msgs=100 --rate=10 --idle=10000 --timeout=180 --warmup-msgs=50 ;;
        connect) run connect "$s" "$rep" --conns=2000 --senders=0 --msgs=0 --hold=1 --cc=100 --timeout=300 ;;
        # Token runs: the load generator's handshake warmed on 100 other connections first (the peer's too), tokens
        # issued once per server and kept for its later rounds (--token-cache).
        connect-token) run connect-token "$s" "$rep" --protocol=v1 --auth=token --conns=1000 --senders=0 --msgs=0 --hold=1 --cc=100 --timeout=600 \
          --warmup-conns=100 --token-cache="$WORK/tokens-$s.txt" ;;
        # The same with auth and join sent at once (one round trip instead of three; the protocol allows it).
        connect-token-pipelined) run connect-token-pipelined "$s" "$rep" --protocol=v1 --auth=token --conns=1000 --senders=0 --msgs=0 --hold=1 --cc=100 \
          --timeout=600 --warmup-conns=100 --token-cache="$WORK/tokens-$s.txt" --pipeline=1 ;;
        # The same tokens on the upgrade request (Authorization: Bearer; no auth frame). Both builds need it (ca94dba on).
        connect-token-bearer) run connect-token-bearer "$s" "$rep" --protocol=v1 --auth=bearer --conns=1000 --senders=0 --msgs=0 --hold=1 --cc=100 \
          --timeout=600 --warmup-conns=100 --token-cache="$WORK/tokens-$s.txt" ;;
        # The token and the room both on the upgrade request (?join=lobby): no frame from the client. Both builds need it.
        connect-token-upgrade-join) run connect-token-upgrade-join "$s" "$rep" --protocol=v1 --auth=bearer --upgrade-join=1 --conns=1000 --senders=0 \
          --msgs=0 --hold=1 --cc=100 --timeout=600 --warmup-conns=100 --token-cache="$WORK/tokens-$s.txt" ;;
      esac
    done
  done
done

echo
echo "| run | deliveries/s | p50 ms | p99 ms | loss | connects/s | server CPU s | CPU per connect, server · load generator (ms) | error |"
echo "|---|---|---|---|---|---|---|---|---|"
jq -r 'def per(x): if (.connected // 0) > 0 and x != null then (x * 1000 / .connected * 1000 | round / 1000 | tostring) else "" end;
  "| \(.scenario)/\(.server)/\(.rep) | \(.deliveriesPerSecond // "") | \(.latencyP50Ms // "") | \(.latencyP99Ms // "") | \(.loss // "") | \(.connectsPerSecond // "") | \(.serverCpuSeconds // "") | \(per(.serverCpuConnectSeconds)) · \(per(.loadGenCpuConnectSeconds)) | \(.error // "") |"' "$RUNS"
log "done (work folder $WORK)"
