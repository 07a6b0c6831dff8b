#!/usr/bin/env bash
# The production shape of issue 16 under load, on 127.0.0.1 only, for a bounded time:
#
#   readers ─▶ Varnish (deploy/varnish/threadpress.vcl) ─▶ HAProxy (deploy/haproxy/threadpress.cfg)
#           ─▶ gunicorn ×2 ─▶ PostgreSQL 15 primary + streaming replica, Redis
#
# Everything is the script's own: two PostgreSQL clusters made with pg_createcluster (the
# replica by deploy/postgres/make-replica.sh), a redis-server, two gunicorns in the production
# configuration, HAProxy and Varnish; all of it is torn down on exit (also on Ctrl-C or a
# failure). The machine's own PostgreSQL and Redis are never touched. Then it prints:
#
#   edge ratio: N× the trivial view        article page (1,000 comments) through Varnish
#                                          against /healthz through one gunicorn, wrk, same run
#                                          (wrk sends no cookies: every request a new reader;
#                                          returning readers, a CSRF cookie each, shown too)
#   hit ratio: N %                         article pages answered from Varnish's cache during
#                                          that run (varnishncsa; the ESI fragments apart)
#   freshness p50/p99: A/B ms              admin approval POST returned → comment shown
#                                          through Varnish, --approvals times, under wrk load
#   database restart: N failed anonymous GETs    wrk through Varnish while the primary restarts
#   app server killed: N failed GETs       wrk through HAProxy while one gunicorn is kill -9'd,
#                                          and posts through the other afterwards
#   replica: reads served N %, stale reads seen by the writer N
#                                          share of the app database's transactions run on the
#                                          replica during GETs through HAProxy; a writer who
#                                          posts and reads at once, --writes times
#
# Options: --duration SECONDS (10, at most 60) for each wrk run, --comments N (1000),
#          --approvals N (50), --writes N (50), --workers N (2 per gunicorn),
#          --port N (8790: Varnish N, its admin N+1, HAProxy N+2, HAProxy stats N+3,
#          gunicorns N+4 and N+5), --pg-port N (5451: primary N, replica N+1),
#          --redis-port N (6393), --vcl FILE (deploy/varnish/threadpress.vcl; its
#          @BACKEND_HOST@ and @BACKEND_PORT@ become HAProxy's address), --logs DIR (keep
#          every component's log and wrk's output there), --no-replica (the replica
#          runs, but the app servers read only the primary: to compare).
# Needs root to create the PostgreSQL clusters (as Debian's postgresql-common does) and, when
# missing, installs varnish, varnish-modules, haproxy, wrk and redis-server with apt.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
GUNICORN=$ROOT/.venv/bin/gunicorn

DURATION=10 COMMENTS=1000 APPROVALS=50 WRITES=50 WORKERS=2 PORT=8790 PG_PORT=5451
REDIS_PORT=6393 VCL=deploy/varnish/threadpress.vcl LOGS="" NO_REPLICA=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) DURATION=$2; shift ;;
    --comments) COMMENTS=$2; shift ;;
    --approvals) APPROVALS=$2; shift ;;
    --writes) WRITES=$2; shift ;;
    --workers) WORKERS=$2; shift ;;
    --port) PORT=$2; shift ;;
    --pg-port) PG_PORT=$2; shift ;;
    --redis-port) REDIS_PORT=$2; shift ;;
    --vcl) VCL=$2; shift ;;
    --logs) LOGS=$2; shift ;;
    --no-replica) NO_REPLICA=1 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/!p}' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done
for value in "$DURATION" "$COMMENTS" "$APPROVALS" "$WRITES" "$WORKERS" "$PORT" "$PG_PORT" "$REDIS_PORT"; do
  [[ $value =~ ^[0-9]+$ ]] || { echo "not a number: $value" >&2; exit 2; }
done
(( DURATION >= 3 && DURATION <= 60 )) || { echo "--duration is between 3 and 60 s" >&2; exit 2; }
(( APPROVALS >= 1 && APPROVALS <= 200 )) || { echo "--approvals is between 1 and 200" >&2; exit 2; }
(( WRITES >= 1 && WRITES <= 200 )) || { echo "--writes is between 1 and 200" >&2; exit 2; }

VARNISH_PORT=$PORT VARNISH_ADMIN_PORT=$((PORT + 1)) HAPROXY_PORT=$((PORT + 2))
STATS_PORT=$((PORT + 3)) APP_PORTS=($((PORT + 4)) $((PORT + 5)))
REPLICA_PORT=$((PG_PORT + 1))
EDGE=http://127.0.0.1:$VARNISH_PORT
BALANCER=http://127.0.0.1:$HAPROXY_PORT
APP1=http://127.0.0.1:${APP_PORTS[0]}

# --- tools ----------------------------------------------------------------------------------
install_missing() {  # command package… : apt-get install the packages when command is missing
  local command=$1; shift
  command -v "$command" >/dev/null && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "installing $* (apt)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "$command is missing: sudo apt-get install $*" >&2; exit 1
  fi
}
install_missing varnishd varnish varnish-modules
compgen -G "/usr/lib/*/varnish/vmods/libvmod_xkey.so" >/dev/null ||
  install_missing /nonexistent varnish-modules  # xkey
install_missing haproxy haproxy
install_missing wrk wrk
install_missing redis-server redis-server
install_missing pg_createcluster postgresql-15
[[ $(id -u) -eq 0 ]] || { echo "run as root: the PostgreSQL clusters are made with pg_createcluster" >&2; exit 1; }
PG_VERSION=15
[[ -x /usr/lib/postgresql/$PG_VERSION/bin/postgres ]] || install_missing /nonexistent postgresql-15
[[ -x $GUNICORN ]] || { echo "no $GUNICORN: run make install-test first" >&2; exit 1; }

for port in "$VARNISH_PORT" "$VARNISH_ADMIN_PORT" "$HAPROXY_PORT" "$STATS_PORT" "${APP_PORTS[@]}" \
  "$PG_PORT" "$REPLICA_PORT" "$REDIS_PORT"; do
  if ss -Hltn "sport = :$port" | grep -q .; then
    echo "port $port is in use (see --port, --pg-port, --redis-port)" >&2; exit 1
  fi
done

# --- teardown: everything this script starts --------------------------------------------
PRIMARY=tp_edge_primary_$PG_PORT REPLICA=tp_edge_replica_$REPLICA_PORT
TMP=$(mktemp -d -t tp_edge.XXXXXX)
chmod 755 "$TMP"  # Varnish's worker process (user vcache) reads its working directory here
APP_PIDS=() BACKGROUND=() REDIS_PID="" HAPROXY_PID="" VARNISH_PID="" CLUSTERS=()
stop_pid() {  # pid: TERM, then KILL after 5 s
  local pid=$1
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  for pid in "${BACKGROUND[@]}"; do kill "$pid" 2>/dev/null; done
  [[ -s $TMP/varnishncsa.pid ]] && kill "$(cat "$TMP/varnishncsa.pid")" 2>/dev/null
  [[ -n $VARNISH_PID ]] && stop_pid "$VARNISH_PID"
  [[ -n $HAPROXY_PID ]] && stop_pid "$HAPROXY_PID"
  for pid in "${APP_PIDS[@]}"; do stop_pid "$pid"; done
  [[ -n $REDIS_PID ]] && stop_pid "$REDIS_PID"
  for (( i = ${#CLUSTERS[@]} - 1; i >= 0; i-- )); do  # the replica first
    pg_dropcluster --stop "$PG_VERSION" "${CLUSTERS[i]}" >/dev/null 2>&1
  done
  wait 2>/dev/null
  if (( status != 0 )); then
    for log in "$TMP"/*.log; do
      [[ -s $log ]] && { echo "--- $(basename "$log") (last lines)"; tail -n 15 "$log"; }
    done
  fi
  if [[ -n $LOGS ]]; then
    mkdir -p "$LOGS" && cp "$TMP"/*.log "$TMP"/*.out "$TMP"/*.vcl "$LOGS"/ 2>/dev/null
  fi
  rm -rf "$TMP"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- PostgreSQL: primary + streaming replica ------------------------------------------------
for cluster in "$PRIMARY" "$REPLICA"; do  # left over from a run that was killed -9
  if pg_lsclusters -h "$PG_VERSION" "$cluster" >/dev/null 2>&1; then
    pg_dropcluster --stop "$PG_VERSION" "$cluster"
  fi
done
CLUSTERS+=("$PRIMARY")
pg_createcluster "$PG_VERSION" "$PRIMARY" -p "$PG_PORT" \
  -o max_connections=100 -o shared_buffers=64MB \
  -- --auth-local=trust --auth-host=trust >"$TMP/pg-create.log" 2>&1
pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PRIMARY" start
PGADMIN=(psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt)
"${PGADMIN[@]}" -p "$PG_PORT" -c "CREATE DATABASE threadpress" >/dev/null

CLUSTERS+=("$REPLICA")
if [[ -x deploy/postgres/make-replica.sh ]]; then
  deploy/postgres/make-replica.sh "$PG_PORT" "$REPLICA_PORT" "$REPLICA" >"$TMP/replica.log" 2>&1
else  # until deploy/postgres/make-replica.sh exists: the same steps, inline
  pg_createcluster "$PG_VERSION" "$REPLICA" -p "$REPLICA_PORT" \
    -- --auth-local=trust --auth-host=trust >"$TMP/replica.log" 2>&1
  DATA=/var/lib/postgresql/$PG_VERSION/$REPLICA
  find "$DATA" -mindepth 1 -delete  # pg_basebackup fills the empty directory
  runuser -u postgres -- pg_basebackup -h 127.0.0.1 -p "$PG_PORT" -U postgres -D "$DATA" \
    --write-recovery-conf --wal-method=stream --checkpoint=fast >>"$TMP/replica.log" 2>&1
  pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$REPLICA" start
fi
for _ in $(seq 50); do
  [[ $("${PGADMIN[@]}" -p "$REPLICA_PORT" -c "SELECT pg_is_in_recovery()" 2>/dev/null) == t ]] && break
  sleep 0.2
done
[[ $("${PGADMIN[@]}" -p "$REPLICA_PORT" -c "SELECT pg_is_in_recovery()") == t ]] ||
  { echo "the replica is not in recovery" >&2; exit 1; }

# --- the app's environment: production configuration, on loopback ---------------------------
export DJANGO_DEBUG=0
DJANGO_SECRET_KEY=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(50))')
export DJANGO_SECRET_KEY
export DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost DJANGO_SECURE_SSL_REDIRECT=0
export DJANGO_SESSION_COOKIE_SECURE=0 DJANGO_CSRF_COOKIE_SECURE=0 DJANGO_SECURE_HSTS_SECONDS=0
export DJANGO_LOG_LEVEL=ERROR THREADPRESS_LOG_LEVEL=WARNING
# Posting under load: no flood limit, no first-comment hold, no minimum typing time.
export COMMENTS_FLOOD_SECONDS=0 COMMENTS_REQUIRE_PREVIOUSLY_APPROVED=0 COMMENTS_MIN_SUBMIT_SECONDS=0
export AXES_ENABLED=1
export THREADPRESS_RELEASE="edge-$$" CACHE_KEY_PREFIX="tp_edge_$$"
export DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/threadpress
export CACHE_URL=redis://127.0.0.1:$REDIS_PORT/0
REPLICA_URL=postgres://postgres@127.0.0.1:$REPLICA_PORT/threadpress
PURGE_URL=http://127.0.0.1:$VARNISH_PORT/

redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
  --daemonize no >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!

echo "seeding: migrate, an article with $COMMENTS comments, $APPROVALS held replies (primary)"
"$PY" manage.py collectstatic --no-input --verbosity 0
ARTICLE=$("$PY" -m benchmarks.loadtools seed --comments "$COMMENTS")
"$PY" -m benchmarks.edgetools prepare "$ARTICLE" --pending "$APPROVALS" >"$TMP/prepared.json"

APP_REPLICA_URLS=$REPLICA_URL
(( NO_REPLICA == 0 )) || APP_REPLICA_URLS=""
start_app() {  # index port
  DATABASE_REPLICA_URLS=$APP_REPLICA_URLS EDGE_PURGE_URLS=$PURGE_URL \
    GUNICORN_WORKERS=$WORKERS GUNICORN_BIND=127.0.0.1:$2 \
    GUNICORN_ACCESS_LOG=/dev/null GUNICORN_ERROR_LOG=$TMP/app$1.log GUNICORN_LOG_LEVEL=warning \
    "$GUNICORN" -c site_config/gunicorn.conf.py site_config.wsgi &
  APP_PIDS+=($!)
  disown  # its kill -9 below is the point, not news for bash to report
}
start_app 1 "${APP_PORTS[0]}"
start_app 2 "${APP_PORTS[1]}"

HAPROXY_BIND=127.0.0.1:$HAPROXY_PORT HAPROXY_STATS_BIND=127.0.0.1:$STATS_PORT \
  APP1=127.0.0.1:${APP_PORTS[0]} APP2=127.0.0.1:${APP_PORTS[1]} HAPROXY_CHECK_HOST=127.0.0.1 \
  HAPROXY_STATS_SOCKET=$TMP/haproxy.sock \
  haproxy -W -db -f deploy/haproxy/threadpress.cfg >"$TMP/haproxy.log" 2>&1 &
HAPROXY_PID=$!

# Varnish with the project's VCL, its backend pointed at HAProxy.
[[ -f $VCL ]] || { echo "no $VCL" >&2; exit 1; }
sed -e "s/@BACKEND_HOST@/127.0.0.1/" -e "s/@BACKEND_PORT@/$HAPROXY_PORT/" "$VCL" >"$TMP/threadpress.vcl"
head -c 32 /dev/urandom | base64 >"$TMP/varnish.secret"
VARNISH_JAIL=()
[[ $(id -u) -eq 0 ]] || VARNISH_JAIL=(-j none)
varnishd -F "${VARNISH_JAIL[@]}" -n "$TMP/varnish" -a "127.0.0.1:$VARNISH_PORT" \
  -T "127.0.0.1:$VARNISH_ADMIN_PORT" -S "$TMP/varnish.secret" -f "$TMP/threadpress.vcl" \
  -s malloc,256m >"$TMP/varnish.log" 2>&1 &
VARNISH_PID=$!

wait_for() {  # url what
  for _ in $(seq 150); do curl -fs -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.2; done
  echo "$2 did not start ($1)" >&2; exit 1
}
wait_for "$APP1/healthz" "gunicorn 1"
wait_for "http://127.0.0.1:${APP_PORTS[1]}/healthz" "gunicorn 2"
wait_for "$BALANCER/healthz" "HAProxy"
wait_for "http://127.0.0.1:$STATS_PORT/healthz" "HAProxy's monitoring endpoint"
wait_for "$EDGE/healthz" "Varnish"

echo
echo "versions: $(varnishd -V 2>&1 | head -n 1) · $(haproxy -v | head -n 1 | cut -d' ' -f1-3)" \
  "· PostgreSQL $("${PGADMIN[@]}" -p "$PG_PORT" -c 'SHOW server_version')" \
  "· $(redis-server --version | cut -d' ' -f1-3) · gunicorn $("$GUNICORN" --version | grep -o '[0-9][0-9.]*')" \
  "· Django $("$PY" -c 'import django; print(django.get_version())') · $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs (other work shares it)"
(( NO_REPLICA == 0 )) || echo "--no-replica: the app servers read only the primary"
echo "shape: Varnish :$VARNISH_PORT → HAProxy :$HAPROXY_PORT → gunicorn :${APP_PORTS[0]} + :${APP_PORTS[1]} ($WORKERS workers each)" \
  "→ PostgreSQL :$PG_PORT (primary) + :$REPLICA_PORT (replica), Redis :$REDIS_PORT"
echo "article: $ARTICLE ($COMMENTS comments) · wrk -t2 -c16 -d${DURATION}s -H 'Accept-Encoding: gzip' unless said"

run_wrk() {  # url seconds connections → "requests_per_second failures" (non-2xx/3xx + socket errors)
  local out rps non2xx errors
  # As browsers do: a cache that compresses may answer compressed.
  out=$(wrk -t2 -c"${3:-16}" -d"${2}s" --timeout 10s -H "Accept-Encoding: gzip" "$1")
  echo "$out" >>"$TMP/wrk.out"
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  errors=$(awk -F'[ ,]+' '/Socket errors/ {print $4+$6+$8+$10}' <<<"$out")
  echo "${rps:-0} $(( ${non2xx:-0} + ${errors:-0} ))"
}
varnish_counter() {  # name → its value
  varnishstat -n "$TMP/varnish" -1 -f "$1" | awk '{print $2}'
}
xacts() {  # port → transactions committed in the app's database on that cluster
  "${PGADMIN[@]}" -p "$1" -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'threadpress'"
}

# Warm what wrk reads (the thread cache, Varnish).
for url in "$EDGE$ARTICLE" "$EDGE/" "$BALANCER$ARTICLE" "$BALANCER/"; do curl -fs -o /dev/null "$url"; done
# wrk has no cookies: each request is a new reader. Their page carries an empty CSRF token
# (the same for all: their comment post is checked on Sec-Fetch-Site/Origin, see
# site_config/csrf.py); a token that is not empty must never be shared between readers.
TOKENS=$(for _ in 1 2; do
  curl -fs "$EDGE$ARTICLE" | grep -o 'name="csrfmiddlewaretoken" value="[^"]*"' | head -n 1 || true
done | sort -u)
if [[ -z $TOKENS ]]; then
  echo "two cookie-less page views through Varnish: no CSRF token field in the page"
elif [[ $TOKENS == *'value=""' && $(grep -c . <<<"$TOKENS") -eq 1 ]]; then
  echo "two cookie-less page views through Varnish: an empty CSRF token (new readers, as designed)"
elif [[ $(grep -c . <<<"$TOKENS") -eq 1 ]]; then
  echo "two cookie-less page views through Varnish: THE SAME CSRF token (readers share a secret: a bug)"
else
  echo "two cookie-less page views through Varnish: different CSRF tokens"
fi

# --- 1. edge ratio and hit ratio ------------------------------------------------------------
echo
read -r TRIVIAL_RPS TRIVIAL_BAD < <(run_wrk "$APP1/healthz" "$DURATION")
HITS=$(varnish_counter MAIN.cache_hit) MISSES=$(varnish_counter MAIN.cache_miss)
CLIENT_REQS=$(varnish_counter MAIN.client_req) BACKEND_REQS=$(varnish_counter MAIN.backend_req)
# The article pages themselves (not their ESI fragments): hit or miss, one line each.
varnishncsa -n "$TMP/varnish" -q 'ReqURL ~ "^/articles/"' -F '%{Varnish:hitmiss}x' \
  -w "$TMP/pages.ncsa" -D -P "$TMP/varnishncsa.pid"
sleep 0.5
read -r EDGE_RPS EDGE_BAD < <(run_wrk "$EDGE$ARTICLE" "$DURATION")
sleep 0.5
kill "$(cat "$TMP/varnishncsa.pid")" 2>/dev/null || true
PAGE_HITS=$(grep -c '^hit' "$TMP/pages.ncsa" || true) PAGE_MISSES=$(grep -vc '^hit' "$TMP/pages.ncsa" || true)
HITS=$(( $(varnish_counter MAIN.cache_hit) - HITS )) MISSES=$(( $(varnish_counter MAIN.cache_miss) - MISSES ))
CLIENT_REQS=$(( $(varnish_counter MAIN.client_req) - CLIENT_REQS ))
BACKEND_REQS=$(( $(varnish_counter MAIN.backend_req) - BACKEND_REQS ))
PAGE_KB=$(curl -fs "$EDGE$ARTICLE" | wc -c | awk '{printf "%.0f", $1/1024}')
PAGE_KB="$PAGE_KB KB, $(curl -fs -H 'Accept-Encoding: gzip' "$EDGE$ARTICLE" | wc -c | awk '{printf "%.0f", $1/1024}') KB as sent to wrk"
# Returning readers: each has the CSRF cookie their first page set, so Varnish keeps their
# token's fragment for them (wrk picks one of 1,000 cookies per thread for each request).
cat >"$TMP/returning.lua" <<'LUA'
local chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
local cookies = {}
math.randomseed(os.time())
for i = 1, 1000 do
  local secret = {}
  for j = 1, 32 do
    local k = math.random(#chars)
    secret[j] = chars:sub(k, k)
  end
  cookies[i] = "csrftoken=" .. table.concat(secret)
end
request = function()
  wrk.headers["Cookie"] = cookies[math.random(#cookies)]
  return wrk.format(nil)
end
LUA
RETURNING_OUT=$(wrk -t2 -c16 -d"${DURATION}s" --timeout 10s -H "Accept-Encoding: gzip" \
  -s "$TMP/returning.lua" "$EDGE$ARTICLE")
echo "$RETURNING_OUT" >>"$TMP/wrk.out"
RETURNING_RPS=$(awk '/Requests\/sec/ {print $2}' <<<"$RETURNING_OUT")
RETURNING_BAD=$(( $(awk '/Non-2xx/ {print $5}' <<<"$RETURNING_OUT" || true) + 0 ))
# What Varnish serves when nothing of the page goes to the app: a cached static file.
STATIC=$(curl -fs "$EDGE$ARTICLE" | grep -o '/static/[^"]*\.css' | head -n 1 || true)
STATIC_RPS=""
if [[ -n $STATIC ]]; then
  curl -fs -o /dev/null "$EDGE$STATIC"
  read -r STATIC_RPS _ < <(run_wrk "$EDGE$STATIC" "$DURATION")
fi
echo "| URL | requests/s | failed |"
echo "|---|---|---|"
echo "| /healthz through gunicorn 1 ($WORKERS workers) | $TRIVIAL_RPS | $TRIVIAL_BAD |"
echo "| article page (${PAGE_KB}) through Varnish | $EDGE_RPS | $EDGE_BAD |"
echo "| article page through Varnish, 2,000 returning readers (each their own CSRF cookie) | $RETURNING_RPS | $RETURNING_BAD |"
[[ -z $STATIC_RPS ]] || echo "| $STATIC through Varnish (no ESI: nothing reaches the app) | $STATIC_RPS | |"
echo "Varnish during the article run: article pages $PAGE_HITS hits, $PAGE_MISSES misses (varnishncsa); with the ESI fragments $HITS hits, $MISSES misses; $BACKEND_REQS requests to the app for $CLIENT_REQS page views"
RETURNING_LINE=$("$PY" -c "import sys; print(f'edge ratio for returning readers (a CSRF cookie each): {float(sys.argv[1]) / float(sys.argv[2]):.1f}× the trivial view')" "$RETURNING_RPS" "$TRIVIAL_RPS")
echo "$RETURNING_LINE"
EDGE_LINE=$("$PY" -c "import sys; print(f'edge ratio: {float(sys.argv[1]) / float(sys.argv[2]):.1f}× the trivial view')" "$EDGE_RPS" "$TRIVIAL_RPS")
HIT_LINE=$("$PY" -c "import sys; h, m = int(sys.argv[1]), int(sys.argv[2]); print(f'hit ratio: {100 * h / max(h + m, 1):.2f} %')" "$PAGE_HITS" "$PAGE_MISSES")

# --- 2. freshness under load ----------------------------------------------------------------
echo
echo "freshness: $APPROVALS approvals through the admin (via Varnish, a real session) while wrk -t1 -c8 reads the article page through Varnish"
wrk -t1 -c8 -d300s --timeout 10s "$EDGE$ARTICLE" >"$TMP/wrk-fresh.out" 2>&1 &
BACKGROUND+=($!)
FRESH_STATUS=0
"$PY" -m benchmarks.edgetools freshness "$EDGE" "$ARTICLE" "$TMP/prepared.json" --app "$BALANCER" \
  >"$TMP/fresh.out" || FRESH_STATUS=$?
kill "${BACKGROUND[-1]}" 2>/dev/null || true
cat "$TMP/fresh.out"
FRESH_LINE=$(tail -n 1 "$TMP/fresh.out")

# --- 3. the primary restarts ----------------------------------------------------------------
# With replicas the app purges every change twice, the second time a few seconds later
# (DATABASE_REPLICA_MAX_LAG_SECONDS + 1.5 s): let the approvals' second purges land first. A
# hard purge while the database is down leaves no stale copy for grace to serve (an earlier
# run lost 2 GETs that way); this phase measures the restart itself.
sleep 5
echo
echo "database restart: wrk -t1 -c8 on the article page and on the home page through Varnish; the primary restarts after $((DURATION / 4)) s"
(
  sleep $((DURATION / 4))
  started=$(date +%s%N)
  pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PRIMARY" restart
  echo "  the primary restarted in $(( ($(date +%s%N) - started) / 1000000 )) ms"
) &
RESTARTER=$!
run_wrk "$EDGE$ARTICLE" "$DURATION" 8 >"$TMP/restart-article" &
ARTICLE_WRK=$!
read -r HOME_RPS HOME_BAD < <(run_wrk "$EDGE/" "$DURATION" 8)
wait "$ARTICLE_WRK"
read -r RESTART_RPS RESTART_BAD <"$TMP/restart-article"
wait "$RESTARTER"
echo "| article page through Varnish, primary restarting | $RESTART_RPS | $RESTART_BAD |"
echo "| home page through Varnish, primary restarting | $HOME_RPS | $HOME_BAD |"
curl -s -o /dev/null -w "  after: a page through HAProxy (the app) answers %{http_code}\n" "$BALANCER/?after-restart"
RESTART_LINE="database restart: $((RESTART_BAD + HOME_BAD)) failed anonymous GETs"

# --- 4. one app server killed -----------------------------------------------------------------
echo
echo "app server killed: wrk on the article page through HAProxy (no cache); gunicorn 1 (master and workers) gets kill -9 after $((DURATION / 3)) s, then posts through the form"
(
  sleep $((DURATION / 3))
  workers=$(pgrep -P "${APP_PIDS[0]}" | tr '\n' ' ')
  kill -9 "${APP_PIDS[0]}" $workers
  echo "  killed gunicorn 1: master ${APP_PIDS[0]}, workers $workers"
  sleep 0.2
  "$PY" -m benchmarks.loadtools post "$BALANCER$ARTICLE" --workers 4 --posts 5 || true
) >"$TMP/kill.out" 2>&1 &
KILLER=$!
read -r KILL_RPS KILL_BAD < <(run_wrk "$BALANCER$ARTICLE" "$DURATION")
wait "$KILLER" || true
sed 's/^posted/  posted/' "$TMP/kill.out"
echo "| article page through HAProxy, gunicorn 1 killed | $KILL_RPS | $KILL_BAD |"
POSTED=$(grep -o '303: [0-9]*' "$TMP/kill.out" | awk '{print $2}' || true)
echo "  posts stored through the other app server after the kill: ${POSTED:-0}"
echo "  HAProxy's view: $(curl -fs "http://127.0.0.1:$STATS_PORT/stats;csv" |
  awk -F, '$1 == "app" && $2 ~ /^app[0-9]/ {printf "%s %s  ", $2, $18}')"
KILL_LINE="app server killed: $KILL_BAD failed GETs"

# --- 5. the replica ---------------------------------------------------------------------------
echo
echo "replica: transactions in the app's database on each cluster (pg_stat_database) during wrk -t1 -c8 on the article and home pages through HAProxy"
# Backends report their statistics when idle, at most 10 s late (PostgreSQL 15).
sleep 11
PRIMARY_BEFORE=$(xacts "$PG_PORT") REPLICA_BEFORE=$(xacts "$REPLICA_PORT")
run_wrk "$BALANCER$ARTICLE" "$DURATION" 8 >"$TMP/replica-article" &
ARTICLE_WRK=$!
run_wrk "$BALANCER/" "$DURATION" 8 >/dev/null
wait "$ARTICLE_WRK"
sleep 11
PRIMARY_READS=$(( $(xacts "$PG_PORT") - PRIMARY_BEFORE ))
REPLICA_READS=$(( $(xacts "$REPLICA_PORT") - REPLICA_BEFORE ))
echo "  transactions: primary $PRIMARY_READS, replica $REPLICA_READS"
WRITER_STATUS=0
"$PY" -m benchmarks.edgetools writer "$EDGE" "$ARTICLE" --times "$WRITES" >"$TMP/writer.out" || WRITER_STATUS=$?
sed 's/^/  /' "$TMP/writer.out"
STALE=$(awk '/^stale reads/ {print $7}' "$TMP/writer.out")
REPLICA_LINE=$("$PY" -c "import sys; p, r = int(sys.argv[1]), int(sys.argv[2]); print(f'replica: reads served {100 * r / max(p + r, 1):.1f} %, stale reads seen by the writer {sys.argv[3]}')" \
  "$PRIMARY_READS" "$REPLICA_READS" "${STALE:-?}")

echo
echo "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$EDGE_LINE"
echo "$HIT_LINE"
echo "$FRESH_LINE"
echo "$RESTART_LINE"
echo "$KILL_LINE"
echo "$REPLICA_LINE"
(( FRESH_STATUS == 0 && WRITER_STATUS == 0 )) || exit 1
