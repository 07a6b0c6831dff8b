#!/usr/bin/env bash
# Load test through gunicorn, on 127.0.0.1 only, for a bounded time.
#
#   benchmarks/load.sh                     wrk: 1,000-comment article page vs /healthz, ratio
#   benchmarks/load.sh --post              + concurrent posts through the real form, then comments_check
#   benchmarks/load.sh --kill-redis        + a private Redis stopped and restarted mid-run
#   benchmarks/load.sh --drop-db-connections   + (PostgreSQL) every app connection killed mid-run
#   benchmarks/load.sh --reactions         + the article page while 20 reactions a second arrive
#                                            (signed-in readers, toggling across its comments),
#                                            and how stale the anonymous page's counts get
#   benchmarks/load.sh --live              + the live-updates version endpoint (comments/live.py)
#                                            against /healthz in turns, and what 2,000 readers
#                                            polling every 15 s cost in CPU (gunicorn workers'
#                                            CPU time per request, from /proc)
#
# Options: --duration SECONDS (10), --comments N (1000), --workers N (2), --port N (8765),
#          --reaction-rate N (20), --reaction-seconds SECONDS (30).
# Database: DATABASE_URL=postgres://…  → a scratch database tp_bench_load on that server;
#           otherwise a temporary SQLite file. Cache: a private redis-server on 127.0.0.1
#           (port 6391) when redis-server is installed, else CACHE_URL (default db 6 of
#           redis://127.0.0.1:6379). Everything it starts is stopped on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
GUNICORN=$ROOT/.venv/bin/gunicorn

DURATION=10 COMMENTS=1000 WORKERS=2 PORT=8765 REDIS_PORT=6391
POST=0 KILL_REDIS=0 DROP_DB=0 REACTIONS=0 LIVE=0 REACTION_RATE=20 REACTION_SECONDS=30
while [[ $# -gt 0 ]]; do
  case $1 in
    --post) POST=1 ;;
    --kill-redis) KILL_REDIS=1 ;;
    --drop-db-connections) DROP_DB=1 ;;
    --reactions) REACTIONS=1 ;;
    --live) LIVE=1 ;;
    --reaction-rate) REACTION_RATE=$2; shift ;;
    --reaction-seconds) REACTION_SECONDS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --comments) COMMENTS=$2; shift ;;
    --workers) WORKERS=$2; shift ;;
    --port) PORT=$2; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done
(( DURATION <= 120 )) || { echo "--duration is capped at 120 s" >&2; exit 2; }
(( REACTION_SECONDS <= 120 )) || { echo "--reaction-seconds is capped at 120 s" >&2; exit 2; }

if ! command -v wrk >/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then apt-get install -y -qq wrk >/dev/null; else
    echo "wrk is not installed (sudo apt-get install wrk)" >&2; exit 1; fi
fi

TMP=$(mktemp -d -t tp_load.XXXXXX)
GUNICORN_PID="" REDIS_PID="" PG_DB=""
cleanup() {
  [[ -n $GUNICORN_PID ]] && kill "$GUNICORN_PID" 2>/dev/null && wait "$GUNICORN_PID" 2>/dev/null
  [[ -n $REDIS_PID ]] && kill "$REDIS_PID" 2>/dev/null
  if [[ -n $PG_DB ]]; then
    "$PY" - "$ADMIN_URL" "$PG_DB" <<'EOF' || true
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    conn.execute(f'DROP DATABASE IF EXISTS "{sys.argv[2]}" WITH (FORCE)')
EOF
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# --- the production configuration, on loopback -----------------------------------------
export DJANGO_DEBUG=0
DJANGO_SECRET_KEY=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(50))')
export DJANGO_SECRET_KEY
export DJANGO_ALLOWED_HOSTS=127.0.0.1 DJANGO_SECURE_SSL_REDIRECT=0
export DJANGO_SESSION_COOKIE_SECURE=0 DJANGO_CSRF_COOKIE_SECURE=0 DJANGO_SECURE_HSTS_SECONDS=0
export DJANGO_LOG_LEVEL=ERROR THREADPRESS_LOG_LEVEL=WARNING
# Posting under load: no flood limit, no first-comment hold, no minimum typing time.
export COMMENTS_FLOOD_SECONDS=0 COMMENTS_REQUIRE_PREVIOUSLY_APPROVED=0 COMMENTS_MIN_SUBMIT_SECONDS=0
export CACHE_KEY_PREFIX="tp_load_$$"
export GUNICORN_ACCESS_LOG=$TMP/access.log GUNICORN_ERROR_LOG=$TMP/error.log GUNICORN_LOG_LEVEL=warning

if [[ ${DATABASE_URL:-} == postgres* ]]; then
  PG_DB=tp_bench_load
  ADMIN_URL="${DATABASE_URL%/*}/postgres"
  "$PY" - "$ADMIN_URL" "$PG_DB" <<'EOF'
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    conn.execute(f'DROP DATABASE IF EXISTS "{sys.argv[2]}" WITH (FORCE)')
    conn.execute(f'CREATE DATABASE "{sys.argv[2]}"')
EOF
  export DATABASE_URL="${DATABASE_URL%/*}/$PG_DB"
else
  export DATABASE_URL="sqlite:///$TMP/load.sqlite3"
fi

if command -v redis-server >/dev/null; then
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --daemonize no >"$TMP/redis.log" 2>&1 &
  REDIS_PID=$!
  export CACHE_URL="redis://127.0.0.1:$REDIS_PORT/0"
else
  export CACHE_URL=${CACHE_URL:-redis://127.0.0.1:6379/6}
  (( KILL_REDIS == 0 )) || { echo "--kill-redis needs redis-server (a private one)" >&2; exit 1; }
fi

echo "database: ${DATABASE_URL%%:*} · cache: $CACHE_URL · gunicorn workers: $WORKERS · wrk -t2 -c16 -d${DURATION}s"
"$PY" manage.py collectstatic --no-input --verbosity 0
ARTICLE=$("$PY" -m benchmarks.loadtools seed --comments "$COMMENTS")
BASE=http://127.0.0.1:$PORT

# --live counts the workers' CPU time per request: no worker may be recycled meanwhile.
if (( LIVE )); then export GUNICORN_MAX_REQUESTS=0; fi
GUNICORN_WORKERS=$WORKERS GUNICORN_BIND=127.0.0.1:$PORT \
  "$GUNICORN" -c site_config/gunicorn.conf.py site_config.wsgi &
GUNICORN_PID=$!
for _ in $(seq 100); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fs "$BASE/healthz" >/dev/null || { echo "gunicorn did not start:"; cat "$TMP/error.log"; exit 1; }
curl -fs -o /dev/null "$BASE$ARTICLE"  # fill the thread cache

run_wrk() {  # url [seconds] → "requests_per_second non_2xx"
  local out
  out=$(wrk -t2 -c16 -d"${2:-$DURATION}s" --timeout 10s "$1")
  echo "$out" > "$TMP/wrk.$(date +%s%N)"
  local rps non2xx errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  errors=$(awk -F'[ ,]+' '/Socket errors/ {print $4+$6+$8+$10}' <<<"$out")
  echo "${rps:-0} $(( ${non2xx:-0} + ${errors:-0} ))"
}

read -r TRIVIAL_RPS TRIVIAL_BAD < <(run_wrk "$BASE/healthz")
read -r PAGE_RPS PAGE_BAD < <(run_wrk "$BASE$ARTICLE")
PAGE_KB=$(curl -fs "$BASE$ARTICLE" | wc -c | awk '{printf "%.0f", $1/1024}')
echo
echo "| URL | requests/s | non-2xx or socket errors |"
echo "|---|---|---|"
echo "| /healthz (trivial view) | $TRIVIAL_RPS | $TRIVIAL_BAD |"
echo "| article page, $COMMENTS comments (${PAGE_KB} KB) | $PAGE_RPS | $PAGE_BAD |"
"$PY" -c "import sys; r=float(sys.argv[1])/float(sys.argv[2]); print(f'ratio: {r:.0%} of the trivial view (target ≥ 25%)')" \
  "$PAGE_RPS" "$TRIVIAL_RPS"

if (( REACTIONS )); then
  echo
  ROUND=$(( REACTION_SECONDS / 6 > 0 ? REACTION_SECONDS / 6 : 1 ))
  echo "--reactions: $REACTION_RATE reactions/s from signed-in readers (toggling across the article's comments) for $((6 * ROUND)) s; meanwhile wrk reads /healthz and the anonymous article page in turns, 3 × ${ROUND} s each (the same load on both, whatever else the machine runs)"
  READY=$TMP/reactions.ready
  "$PY" -m benchmarks.loadtools react "$BASE$ARTICLE" --rate "$REACTION_RATE" \
    --duration "$((6 * ROUND + 2))" --ready-file "$READY" >"$TMP/reactions.out" 2>&1 &
  REACTOR=$!
  for _ in $(seq 300); do [[ -e $READY ]] && break; sleep 0.1; done
  [[ -e $READY ]] || { echo "the reactions client did not start:"; cat "$TMP/reactions.out"; exit 1; }
  sleep 1
  TRIVIALS=() PAGES=() REACT_BAD=0
  for _ in 1 2 3; do
    read -r RPS BAD < <(run_wrk "$BASE/healthz" "$ROUND")
    TRIVIALS+=("$RPS"); REACT_BAD=$((REACT_BAD + BAD))
    read -r RPS BAD < <(run_wrk "$BASE$ARTICLE" "$ROUND")
    PAGES+=("$RPS"); REACT_BAD=$((REACT_BAD + BAD))
  done
  REACTED=0
  wait "$REACTOR" || REACTED=$?
  head -n -1 "$TMP/reactions.out"
  STALE=$(tail -n 1 "$TMP/reactions.out")
  echo "| /healthz, $REACTION_RATE reactions/s arriving (3 runs) | ${TRIVIALS[*]} | |"
  echo "| article page, $REACTION_RATE reactions/s arriving (3 runs) | ${PAGES[*]} | $REACT_BAD |"
  "$PY" -c "
import statistics, sys
trivial = statistics.median(map(float, sys.argv[2].split()))
page = statistics.median(map(float, sys.argv[3].split()))
print(f'reactions: article page at {page / trivial:.0%} of the trivial view under {sys.argv[1]} reactions/s (target ≥ 50%; medians {page:.0f} / {trivial:.0f} requests/s)')
" "$REACTION_RATE" "${TRIVIALS[*]}" "${PAGES[*]}"
  echo "reactions: counts at most ${STALE} s stale on the anonymous page (target ≤ 10 s)"
  (( REACTED == 0 )) || { echo "some reactions failed (see above)" >&2; exit "$REACTED"; }
fi

if (( LIVE )); then
  echo
  LIVE_PATH=$(curl -fs "$BASE$ARTICLE" | grep -o 'data-version-url="[^"]*"' | head -n 1 | cut -d'"' -f2)
  [[ -n $LIVE_PATH ]] || { echo "--live: the article page names no version endpoint" >&2; exit 1; }
  curl -fsi "$BASE$LIVE_PATH" | tr -d '\r' | grep -iE '^(cache-control|etag|vary|set-cookie):' || true
  ROUND=$(( DURATION / 2 > 0 ? DURATION / 2 : 1 ))
  echo "--live: wrk reads /healthz and $LIVE_PATH in turns, 3 × ${ROUND} s each (full 200 answers: wrk sends no If-None-Match)"
  worker_ticks() {  # "pid:ticks …": user + system CPU ticks of each gunicorn worker so far
    local pid
    for pid in $(pgrep -P "$GUNICORN_PID"); do
      awk -v pid="$pid" '{printf "%s:%d ", pid, $14 + $15}' "/proc/$pid/stat" 2>/dev/null || true
    done
  }
  tick_delta() {  # before after → ticks spent by the workers alive at both times
    "$PY" -c "
import sys
before = dict(p.split(':') for p in sys.argv[1].split())
after = dict(p.split(':') for p in sys.argv[2].split())
print(sum(int(after[pid]) - int(before[pid]) for pid in after if pid in before))
" "$1" "$2"
  }
  TRIVIALS=() LIVES=() LIVE_BAD=0 LIVE_TICKS=0 LIVE_REQUESTS=0 TRIVIAL_TICKS=0 TRIVIAL_REQUESTS=0
  for _ in 1 2 3; do
    BEFORE=$(worker_ticks)
    read -r RPS BAD < <(run_wrk "$BASE/healthz" "$ROUND")
    AFTER=$(worker_ticks)
    TRIVIALS+=("$RPS"); LIVE_BAD=$((LIVE_BAD + BAD))
    TRIVIAL_TICKS=$(( TRIVIAL_TICKS + $(tick_delta "$BEFORE" "$AFTER") ))
    TRIVIAL_REQUESTS=$("$PY" -c "import sys; print(int(float(sys.argv[1]) + float(sys.argv[2]) * float(sys.argv[3])))" "$TRIVIAL_REQUESTS" "$RPS" "$ROUND")
    BEFORE=$(worker_ticks)
    read -r RPS BAD < <(run_wrk "$BASE$LIVE_PATH" "$ROUND")
    AFTER=$(worker_ticks)
    LIVES+=("$RPS"); LIVE_BAD=$((LIVE_BAD + BAD))
    LIVE_TICKS=$(( LIVE_TICKS + $(tick_delta "$BEFORE" "$AFTER") ))
    LIVE_REQUESTS=$("$PY" -c "import sys; print(int(float(sys.argv[1]) + float(sys.argv[2]) * float(sys.argv[3])))" "$LIVE_REQUESTS" "$RPS" "$ROUND")
  done
  echo "| /healthz (3 runs) | ${TRIVIALS[*]} | |"
  echo "| live version endpoint (3 runs) | ${LIVES[*]} | $LIVE_BAD |"
  "$PY" -c "
import os, statistics, sys
trivial = statistics.median(map(float, sys.argv[1].split()))
live = statistics.median(map(float, sys.argv[2].split()))
ticks, requests = int(sys.argv[3]), int(sys.argv[4])
per_request = ticks / os.sysconf('SC_CLK_TCK') / max(requests, 1)
trivial_cpu = int(sys.argv[5]) / os.sysconf('SC_CLK_TCK') / max(int(sys.argv[6]), 1)
polls = 2000 / 15
print(f'live: the trivial view takes {trivial_cpu * 1000:.2f} ms of worker CPU per request (the middleware stack every request pays)')
print(f'live: version endpoint at {live / trivial:.0%} of the trivial view (target ≥ 80%; medians {live:.0f} / {trivial:.0f} requests/s)')
print(f'live: {per_request * 1000:.2f} ms of worker CPU per poll ({ticks} ticks over {requests} requests); 2,000 readers polling every 15 s ({polls:.0f} polls/s) cost {polls * per_request:.1%} of one core (target < 5%; bound by the rate alone, all cores busy: {polls / live * os.cpu_count():.1%})')
print(f'live: behind an HTTP cache (Cache-Control: public, max-age=5) the app sees at most one poll per article and cache every 5 s: {0.2 * per_request:.3%} of one core')
" "${TRIVIALS[*]}" "${LIVES[*]}" "$LIVE_TICKS" "$LIVE_REQUESTS" "$TRIVIAL_TICKS" "$TRIVIAL_REQUESTS"
fi

if (( KILL_REDIS )); then
  echo
  echo "--kill-redis: Redis stops after $((DURATION / 3)) s and comes back after $((2 * DURATION / 3)) s"
  (
    sleep $((DURATION / 3)); kill "$REDIS_PID"
    sleep $((DURATION / 3))
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
      --daemonize yes --pidfile "$TMP/redis2.pid" >/dev/null
  ) &
  OUTAGE=$!
  read -r OUT_RPS OUT_BAD < <(run_wrk "$BASE$ARTICLE")
  wait "$OUTAGE"
  REDIS_PID=$(cat "$TMP/redis2.pid" 2>/dev/null || true)
  echo "| article page, Redis down for a third of the run | $OUT_RPS | $OUT_BAD |"
  curl -fs -o /dev/null "$BASE$ARTICLE"
  if redis-cli -p "$REDIS_PORT" --scan --pattern "*thread*" | grep -q .; then
    echo "Redis is back and the thread is cached again."
  fi
  "$PY" -m benchmarks.loadtools post "$BASE$ARTICLE" --workers 4 --posts 5 || true
fi

if (( DROP_DB )); then
  [[ -n $PG_DB ]] || { echo "--drop-db-connections needs DATABASE_URL=postgres://…" >&2; exit 1; }
  echo
  echo "--drop-db-connections: every connection to $PG_DB is terminated mid-run (as in a restart)"
  (
    sleep $((DURATION / 2))
    "$PY" - "$ADMIN_URL" "$PG_DB" <<'EOF'
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    n = conn.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
        [sys.argv[2]],
    ).fetchone()[0]
print(f"  terminated {n} connection(s)")
EOF
  ) &
  KILLER=$!
  read -r DB_RPS DB_BAD < <(run_wrk "$BASE/")
  wait "$KILLER"
  echo "| home page, connections killed mid-run | $DB_RPS | $DB_BAD |"
  curl -s -o /dev/null -w "  after: home page answers %{http_code} (same gunicorn, no restart)\n" "$BASE/"
fi

if (( POST )); then
  echo
  echo "--post: concurrent posts through the real form (GET page → CSRF + timestamp → POST)"
  POSTED=0
  "$PY" -m benchmarks.loadtools post "$BASE$ARTICLE" --workers 16 --posts 25 || POSTED=$?
  "$PY" manage.py comments_check
  exit "$POSTED"
fi
