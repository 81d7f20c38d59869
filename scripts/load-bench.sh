#!/usr/bin/env bash
# Load benchmark of the release server with wrk (Debian package `wrk`): GET /healthz (the ceiling),
# GET slots for a 7-day window of a manual expert, and POST appointments on distinct slots, each
# with 64 connections. Usage: scripts/load-bench.sh [sqlite|postgres] [seconds]
# For postgres, DATABASE_URL must name an empty database or schema you can write to; the run then
# also measures the same database with pgbench (read-only `-S` and simple-update `-N`, 16 clients,
# scale 10, its tables made with `pgbench -i` beside ours) and prints our figures as ratios of
# pgbench's (#19's yardsticks: slots >= 60% of -S, bookings >= 40% of -N).
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
seconds=${2:-15}
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }
cargo build --release -q -p availability-server
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
export ADMIN_TOKEN=load-bench-admin-token-0123456789
export BIND=127.0.0.1:$port
if [ "$backend" = sqlite ]; then export DATABASE_URL="sqlite://$work/bench.db"; fi
RUST_LOG=warn ./target/release/availability-server >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
base="http://$BIND"
for _ in $(seq 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done

api() { curl -sf -X "$1" "$base$2" -H "Authorization: Bearer $3" -H 'content-type: application/json' ${4:+-d "$4"}; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

# A weekday expert (Mon-Fri 09:00-17:00 Berlin, lunch break) for slot queries.
expert=$(api POST /api/v1/experts "$ADMIN_TOKEN" '{"name":"Load","email":"l@example.com","timezone":"Europe/Berlin"}' | field id)
rules=$(python3 -c 'import json; print(json.dumps({"rules":[r for d in range(1,6) for r in ({"day_of_week":d,"start_time":"09:00","end_time":"17:00"},{"day_of_week":d,"start_time":"12:00","end_time":"13:00","is_available":False})]}))')
api PUT "/api/v1/experts/$expert/availability" "$ADMIN_TOKEN" "$rules" >/dev/null
# A round-the-clock expert with 5-minute slots two years ahead, so every POST gets its own slot.
busy=$(api POST /api/v1/experts "$ADMIN_TOKEN" '{"name":"Busy","email":"b@example.com","timezone":"UTC"}' | field id)
rules=$(python3 -c 'import json; print(json.dumps({"rules":[{"day_of_week":d,"start_time":"00:00","end_time":"24:00"} for d in range(7)]}))')
api PUT "/api/v1/experts/$busy/availability" "$ADMIN_TOKEN" "$rules" >/dev/null
api PUT "/api/v1/experts/$busy/booking-policy" "$ADMIN_TOKEN" '{"slot_duration_minutes":5,"booking_horizon_days":730}' >/dev/null
client=$(api POST /api/v1/clients "$ADMIN_TOKEN" '{"name":"C","email":"c@example.com"}' | field id)
token=$(api POST /api/v1/tokens "$ADMIN_TOKEN" "{\"role\":\"client\",\"subject_id\":\"$client\"}" | field token)

if [ "$backend" = postgres ]; then
  # A year of history for the round-the-clock expert (an appointment every two hours, all past),
  # and the statistics autovacuum keeps in a running system (pgbench -i analyzes its tables too):
  # without them the planner guesses on a table it believes empty.
  psql -q "${DATABASE_URL%%\?*}" <<SQL
INSERT INTO appointments (id, expert_id, client_id, start_time, end_time, status, sync_status, created_at, updated_at, sequence)
SELECT gen_random_uuid()::text, '$busy', '$client', s, s + 300, 'confirmed', 'not_applicable', s, s, 0
FROM (SELECT extract(epoch FROM now())::bigint / 300 * 300 - k * 7200 AS s FROM generate_series(1, 4380) k) past;
SET client_min_messages = error; -- ANALYZE skips the system tables it may not touch, loudly
ANALYZE;
SQL
fi

from=$(date -u -d 'next monday' +%Y-%m-%dT00:00:00Z)
to=$(date -u -d 'next monday + 7 days' +%Y-%m-%dT00:00:00Z)
first=$(date -u -d 'tomorrow 00:00' +%s)

cat >"$work/book.lua" <<LUA
local counter = 0
local threads = {}
function setup(thread) thread:set("id", #threads); table.insert(threads, thread) end
function init(args) counter = 0 end
request = function()
  counter = counter + 1
  -- Each thread walks its own stretch of 5-minute slots: every request books a distinct slot.
  local t = $first + (id * 100000 + counter) * 300
  local s = os.date("!%Y-%m-%dT%H:%M:%SZ", t)
  local e = os.date("!%Y-%m-%dT%H:%M:%SZ", t + 300)
  local body = '{"expert_id":"$busy","client_id":"$client","start_time":"' .. s .. '","end_time":"' .. e .. '"}'
  return wrk.format("POST", "/api/v1/appointments", {["Content-Type"]="application/json", ["Authorization"]="Bearer $token"}, body)
end
local statuses = {}
response = function(status) statuses[status] = (statuses[status] or 0) + 1 end
done = function(summary, latency, requests) end
LUA

echo "backend=$backend cores=$(nproc) connections=64 threads=2 duration=${seconds}s"
# Runs wrk, shows its figures and keeps its requests/s in the named variable.
measure() {
  local into=$1
  shift
  wrk -t2 -c64 -d"${seconds}s" --latency "$@" >"$work/wrk.out"
  grep -E "Requests/sec|99%|Non-2xx|requests in" "$work/wrk.out"
  printf -v "$into" '%s' "$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")"
}
echo "== GET /healthz"
measure healthz "$base/healthz"
echo "== GET slots (7 days, manual expert)"
measure slots -H "Authorization: Bearer $token" "$base/api/v1/experts/$expert/slots?from=$from&to=$to"
echo "== POST appointments (distinct slots)"
measure bookings -s "$work/book.lua" "$base/api/v1/appointments"
booked=$(api GET "/api/v1/clients/$client/appointments?from=$(date -u +%Y-%m-%dT%H:%M:%SZ)&to=$(date -u -d '+700 days' +%Y-%m-%dT%H:%M:%SZ)" "$ADMIN_TOKEN" | python3 -c "import json,sys; print(len(json.load(sys.stdin)['appointments']))")
echo "appointments stored: $booked"

if [ "$backend" = postgres ] && command -v pgbench >/dev/null; then
  # pgbench takes a libpq URL; ours may carry parameters libpq does not know.
  pg_url=${DATABASE_URL%%\?*}
  pgbench -i -q -s 10 "$pg_url" >/dev/null 2>&1
  tps() { pgbench "$@" -c 16 -j 2 -T "$seconds" "$pg_url" 2>/dev/null | awk '/^tps/ {print $3; exit}'; }
  read_only=$(tps -S)
  writes=$(tps -N)
  pgbench -i -I d "$pg_url" >/dev/null 2>&1 || true
  echo "== pgbench on the same database (16 clients, scale 10)"
  echo "pgbench -S (read-only): $read_only tps; pgbench -N (simple update): $writes tps"
  python3 - "$slots" "$read_only" "$bookings" "$writes" <<'PY'
import sys
slots, read_only, bookings, writes = map(float, sys.argv[1:])
print(f"GET slots / pgbench -S: {slots / read_only:.0%} (#19 asks >= 60%)")
print(f"POST appointments / pgbench -N: {bookings / writes:.0%} (#19 asks >= 40%)")
PY
fi
