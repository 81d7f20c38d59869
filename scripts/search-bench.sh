#!/usr/bin/env bash
# The directory at marketplace scale (#19): 10,000 experts on PostgreSQL, each with weekly hours, a
# booking policy and 300 confirmed appointments (3 million), then with wrk (1 and 8 connections):
#   search:    GET /api/v1/availability/search (who is free for 30 minutes at 10:00 tomorrow, or on
#              the first weekday after it)
#   directory: GET /api/v1/experts with a 7-day window, limit 50 (the first page of the directory
#              by next slot: every expert's next slot is computed to order them)
# and a check of a sample: 50 experts' answers in the search against their GET slots.
# Usage: DATABASE_URL=postgres://... scripts/search-bench.sh [experts] [seconds]
# DATABASE_URL must name an empty database you can write to (the server migrates it; the experts
# are copied from three made through the API with SQL, their appointments made with SQL). Run again
# on the same database, it measures again without seeding (seeding takes some ten minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
experts=${1:-10000}
seconds=${2:-15}
: "${DATABASE_URL:?set DATABASE_URL to an empty PostgreSQL database}"
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }
cargo build --release -q -p availability-server
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
export ADMIN_TOKEN=search-bench-admin-token-0123456789
export BIND=127.0.0.1:$port
RUST_LOG=warn ./target/release/availability-server >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
base="http://$BIND"
for _ in $(seq 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done

api() { curl -sf -X "$1" "$base$2" -H "Authorization: Bearer $3" -H 'content-type: application/json' ${4:+-d "$4"}; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
hours() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(json.dumps({'rules':[{'day_of_week':x,'start_time':sys.argv[2],'end_time':sys.argv[3]} for x in d]}))" "$@"; }

client=$(api POST /api/v1/clients "$ADMIN_TOKEN" "{\"name\":\"C\",\"email\":\"c-$RANDOM$RANDOM@example.com\"}" | field id)
token=$(api POST /api/v1/tokens "$ADMIN_TOKEN" "{\"role\":\"client\",\"subject_id\":\"$client\"}" | field token)
if [ "$(psql -tA "$DATABASE_URL" -c 'SELECT count(*) FROM expert_profiles')" -ge "$experts" ]; then
  echo "== $experts experts are there already: not seeded again"
else
# Three kinds of expert, made through the API: their hours, zones and policies are the templates.
templates=()
for spec in "Europe/Berlin|[1,2,3,4,5]|09:00|17:00|30" "America/New_York|[1,2,3,4]|08:00|12:00|60" "Asia/Tokyo|[2,3,4,5,6]|13:00|20:00|45"; do
  IFS='|' read -r zone days start end length <<<"$spec"
  id=$(api POST /api/v1/experts "$ADMIN_TOKEN" "{\"name\":\"Template $zone\",\"email\":\"t-$RANDOM@example.com\",\"timezone\":\"$zone\"}" | field id)
  api PUT "/api/v1/experts/$id/availability" "$ADMIN_TOKEN" "$(hours "$days" "$start" "$end")" >/dev/null
  api PUT "/api/v1/experts/$id/booking-policy" "$ADMIN_TOKEN" "{\"slot_duration_minutes\":$length,\"booking_horizon_days\":120}" >/dev/null
  templates+=("$id")
done

echo "== seeding $experts experts with 300 appointments each"
started=$(date +%s)
psql -q -1 -v ON_ERROR_STOP=1 "$DATABASE_URL" <<SQL
-- Copies of the templates (the trigger gives each its default schedule), then the template's hours.
INSERT INTO expert_profiles
SELECT (jsonb_populate_record(NULL::expert_profiles, to_jsonb(t) || jsonb_build_object(
  'id', gen_random_uuid()::text, 'name', 'Expert ' || lpad(n::text, 5, '0'), 'email', 'e' || n || '@example.com'))).*
FROM generate_series(1, $experts - 3) n
JOIN expert_profiles t ON t.id = (ARRAY['${templates[0]}', '${templates[1]}', '${templates[2]}'])[1 + n % 3];
UPDATE expert_schedules s SET rules = t.rules, timezone = t.timezone
FROM expert_profiles e, expert_schedules t
WHERE s.is_default AND e.id = s.expert_id AND t.id = (
  SELECT p.id FROM expert_profiles p WHERE p.id IN ('${templates[0]}', '${templates[1]}', '${templates[2]}')
    AND p.timezone = e.timezone AND p.slot_duration_minutes = e.slot_duration_minutes)
  AND s.expert_id NOT IN ('${templates[0]}', '${templates[1]}', '${templates[2]}');
-- The calendar-version trigger would bump a version 300 times per expert, in one transaction;
-- it is off while the appointments go in, and every version is bumped once after.
ALTER TABLE appointments DISABLE TRIGGER appointments_calendar_version;
-- 300 appointments each, 30 minutes, four a day from the day after tomorrow (75 days), at 09:00,
-- 10:30, 12:00 and 13:30 UTC: some inside each expert's hours, some not, none overlapping.
INSERT INTO appointments (id, expert_id, client_id, start_time, end_time, status, sync_status, created_at, updated_at, sequence)
SELECT gen_random_uuid()::text, e.id, '$client', d.s, d.s + 1800, 'confirmed', 'not_applicable', 0, 0, 0
FROM expert_profiles e CROSS JOIN (
  SELECT extract(epoch FROM date_trunc('day', now() AT TIME ZONE 'UTC'))::bigint
     + (2 + k / 4) * 86400 + 32400 + (k % 4) * 5400 AS s
  FROM generate_series(0, 299) k) d;
ALTER TABLE appointments ENABLE TRIGGER appointments_calendar_version;
UPDATE expert_calendar_versions SET version = version + 1;
SET client_min_messages = error; -- ANALYZE skips the system tables it may not touch, loudly
ANALYZE;
SQL
echo "seeded in $(( $(date +%s) - started )) s: $(psql -tA "$DATABASE_URL" -c 'SELECT count(*) FROM expert_profiles') experts, $(psql -tA "$DATABASE_URL" -c 'SELECT count(*) FROM appointments') appointments"
fi

# Tomorrow, or the first weekday after it: the templates work on weekdays only, and on a Sunday the
# search would find nobody free and measure an empty answer.
day=$(date -u -d tomorrow +%Y-%m-%d)
while [ "$(date -u -d "$day" +%u)" -gt 5 ]; do day=$(date -u -d "$day + 1 day" +%Y-%m-%d); done
start=$(date -u -d "$day 10:00" +%Y-%m-%dT%H:%M:%SZ)
end=$(date -u -d "$day 10:30" +%Y-%m-%dT%H:%M:%SZ)
from=$(date -u -d "$day 00:00" +%Y-%m-%dT%H:%M:%SZ)
to=$(date -u -d "$day 00:00 + 7 days" +%Y-%m-%dT%H:%M:%SZ)
search="$base/api/v1/availability/search?start=$start&end=$end"
directory="$base/api/v1/experts?available_from=$from&available_to=$to&limit=50"

echo "== first answers (every calendar read once)"
for url in "$search" "$directory"; do
  curl -sf -o "$work/answer.json" -w "%{time_total} s\n" -H "Authorization: Bearer $token" "$url"
done
echo "== the search against GET slots, for a sample of 50 experts"
curl -sf -H "Authorization: Bearer $token" "$search" >"$work/search.json"
psql -tA "$DATABASE_URL" -c "SELECT id FROM expert_profiles ORDER BY md5(id) LIMIT 50" >"$work/sample"
python3 - "$work/search.json" "$work/sample" "$base" "$token" "$start" "$end" <<'PY'
import json, sys, urllib.request
found = {e["id"] for e in json.load(open(sys.argv[1]))["experts"]}
base, token, start, end = sys.argv[3:7]
checked = free = 0
for id in open(sys.argv[2]).read().split():
    req = urllib.request.Request(f"{base}/api/v1/experts/{id}/slots?from={start}&to={end}&duration_minutes=30",
                                 headers={"Authorization": f"Bearer {token}"})
    slots = json.load(urllib.request.urlopen(req))["slots"]
    is_free = any(s["start"] == start and s["end"] == end for s in slots)
    assert is_free == (id in found), f"{id}: GET slots says {is_free}, the search {id in found}"
    checked += 1
    free += is_free
print(f"{checked} experts checked, {free} of them free: the search agrees with GET slots")
PY
echo "search finds $(python3 -c "import json; print(len(json.load(open('$work/search.json'))['experts']))") experts free"

echo "experts=$experts cores=$(nproc) threads=1-2 duration=${seconds}s"
for name in search directory; do
  url=$search; [ "$name" = directory ] && url=$directory
  for connections in 1 8; do
    echo "== $name, $connections connection(s)"
    wrk -t$(( connections < 2 ? 1 : 2 )) -c$connections -d"${seconds}s" --latency -H "Authorization: Bearer $token" "$url" \
      | grep -E "Requests/sec|50%|99%|Non-2xx|requests in"
  done
done
