#!/usr/bin/env bash
# A ChatPortal cluster on this machine, on loopback ports: Redis, PostgreSQL, two ChatPortal
# nodes and nginx in front, from Debian's packages (installed when missing).
#
#   deploy/cluster.sh          start, print the URL, and stay in the foreground; Ctrl-C stops all
#   deploy/cluster.sh stop     stop a cluster started from another terminal
#
# Everything lives in $CHATPORTAL_CLUSTER_DIR (default /tmp/chatportal-cluster); the database
# and the shared data folder survive a stop. Only processes this script started are stopped, by
# the PIDs it wrote down. CHATPORTAL_APP_DLL runs an existing build instead of publishing one.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${CHATPORTAL_CLUSTER_DIR:-/tmp/chatportal-cluster}
PIDS="$STATE/pids"
PGBIN=/usr/lib/postgresql/15/bin

log() { printf '[cluster] %s\n' "$*"; }

stop_all() {
  [ -f "$PIDS" ] || { log "nothing to stop"; return 0; }
  # Reverse start order: nginx, nodes, then the stores they need.
  tac "$PIDS" | while read -r name pid; do
    kill -0 "$pid" 2>/dev/null || continue
    log "stopping $name (pid $pid)"
    case "$name" in
      postgres) kill -INT "$pid" ;;     # PostgreSQL's fast shutdown
      nginx)    kill -QUIT "$pid" ;;    # graceful
      *)        kill -TERM "$pid" ;;
    esac
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && { log "$name did not stop; killing it"; kill -KILL "$pid"; }
  done
  rm -f "$PIDS"
}

if [ "${1:-start}" = "stop" ]; then stop_all; exit 0; fi
if [ "${1:-start}" != "start" ]; then echo "usage: $0 [start|stop]" >&2; exit 2; fi

if [ -f "$PIDS" ]; then
  while read -r name pid; do
    if kill -0 "$pid" 2>/dev/null; then log "already running ($name pid $pid): $0 stop"; exit 1; fi
  done < "$PIDS"
  rm -f "$PIDS"
fi

# ------------------------------------------------------------------ packages
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x "$PGBIN/postgres" ] || missing+=(postgresql)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# ------------------------------------------------------------------ helpers
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( (RANDOM % 20000) + 20000 ))
    if port_free "$p" && ! grep -qx "$p" "$STATE/ports" 2>/dev/null; then echo "$p" >> "$STATE/ports"; echo "$p"; return; fi
  done
  echo "no free port" >&2; exit 1
}
http_status() { # host port path → status code (bash only: the machine may have no curl)
  local code
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
  read -r _ code _ <&3 || true
  exec 3>&-
  echo "$code"
}
wait_http() { # port path name
  for _ in $(seq 1 300); do
    [ "$(http_status "$1" "$2" 2>/dev/null)" = "200" ] && return 0
    sleep 0.2
  done
  log "$3 did not come up; see $STATE/$3.log"; tail -20 "$STATE/$3.log" >&2 || true; exit 1
}
started() { echo "$1 $2" >> "$PIDS"; }

mkdir -p "$STATE"
: > "$STATE/ports"
trap 'log "stopping"; stop_all; exit 0' INT TERM
trap 'status=$?; if [ $status -ne 0 ]; then log "start failed; cleaning up"; stop_all; fi' EXIT

# ------------------------------------------------------------------ app build (a plain Release publish: the same app as
# the Dockerfile's, without its self-contained ReadyToRun composite, which takes minutes to compile)
if [ -n "${CHATPORTAL_APP_DLL:-}" ]; then
  APP="$CHATPORTAL_APP_DLL"
else
  log "publishing ChatPortal (Release)"
  dotnet publish "$ROOT/ChatPortal/ChatPortal.csproj" -c Release -o "$STATE/app" -nologo -v quiet >/dev/null
  APP="$STATE/app/ChatPortal.dll"
fi

# ------------------------------------------------------------------ Redis
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no > "$STATE/redis.log" 2>&1 &
started redis $!
log "redis on 127.0.0.1:$REDIS_PORT"

# ------------------------------------------------------------------ PostgreSQL (never as root)
PG_PORT=$(free_port)
PGDIR="$STATE/pg"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
mkdir -p "$PGDIR/sock"
if [ "$(id -u)" -eq 0 ]; then chmod 755 "$STATE"; chown -R postgres:postgres "$PGDIR"; fi
if [ ! -f "$PGDIR/data/PG_VERSION" ]; then
  as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
fi
as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/postgres.log" -w -o \
  "-p $PG_PORT -k $PGDIR/sock -c listen_addresses=127.0.0.1" start >/dev/null
started postgres "$(head -1 "$PGDIR/data/postmaster.pid")"
as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='chatportal'" postgres | grep -q 1 \
  || as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres chatportal
log "postgresql on 127.0.0.1:$PG_PORT"

# ------------------------------------------------------------------ two nodes, one shared data folder
mkdir -p "$STATE/data"
NODE_PORTS=()
for n in 1 2; do
  port=$(free_port)
  NODE_PORTS+=("$port")
  ( cd "$(dirname "$APP")" && exec env \
      ASPNETCORE_ENVIRONMENT=Production \
      Urls="http://127.0.0.1:$port" \
      Portal__DataPath="$STATE/data" \
      Portal__DatabaseProvider=Postgres \
      Portal__ConnectionString="Host=127.0.0.1;Port=$PG_PORT;Database=chatportal;Username=postgres" \
      Redis__Configuration="127.0.0.1:$REDIS_PORT" \
      Redis__NodeId="node$n" \
      dotnet "$APP" > "$STATE/node$n.log" 2>&1 ) &
  started "node$n" $!
  # One after the other: the first migrates the database and creates the shared key ring.
  wait_http "$port" /healthz "node$n"
  log "node$n on http://127.0.0.1:$port"
done

# ------------------------------------------------------------------ nginx in front
NGINX_PORT=$(free_port)
NG="$STATE/nginx"
mkdir -p "$NG"
servers=""
for p in "${NODE_PORTS[@]}"; do servers+="server 127.0.0.1:$p max_fails=1 fail_timeout=5s; "; done
sed -e "s|\${CHATPORTAL_LISTEN}|127.0.0.1:$NGINX_PORT|" -e "s|\${CHATPORTAL_SERVERS}|$servers|" "$ROOT/deploy/nginx.conf" > "$NG/chatportal.conf"
user_line=""; [ "$(id -u)" -eq 0 ] && user_line="user root;"
cat > "$NG/nginx.conf" <<CONF
$user_line
worker_processes 1;
daemon off;
pid $NG/nginx.pid;
error_log $NG/error.log warn;
events { worker_connections 1024; }
http {
    access_log $NG/access.log;
    client_body_temp_path $NG/body;
    proxy_temp_path $NG/proxy;
    fastcgi_temp_path $NG/fastcgi;
    uwsgi_temp_path $NG/uwsgi;
    scgi_temp_path $NG/scgi;
    include $NG/chatportal.conf;
}
CONF
"$NGINX" -t -q -p "$NG" -c "$NG/nginx.conf"
"$NGINX" -p "$NG" -c "$NG/nginx.conf" > "$STATE/nginx.log" 2>&1 &
started nginx $!
wait_http "$NGINX_PORT" /healthz nginx

trap - EXIT
log "ready: http://127.0.0.1:$NGINX_PORT   (nodes ${NODE_PORTS[*]}, logs in $STATE; Ctrl-C or '$0 stop' ends it)"
# Stay in the foreground until Ctrl-C, or until the processes are stopped from elsewhere.
while [ -f "$PIDS" ]; do sleep 1; done
