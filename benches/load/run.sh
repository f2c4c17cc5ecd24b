#!/usr/bin/env bash
# Load benchmark of docsnap-server over loopback: start-up time, idle RSS,
# polling and /check_status throughput (wrk), and sealed submissions to a
# stub-pipeline server (docsnap-load). Every step is bounded by `timeout`.
#
# Usage: benches/load/run.sh [OUT_FILE]
# Environment: DURATION (wrk seconds per run, default 15), SUBMITS (default 1000),
# PORT (server port; the stub server uses PORT+1; default 18400), SKIP_BUILD=1 to
# reuse binaries, BIN_DIR to take them from elsewhere than $CARGO_TARGET_DIR/release.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
bin="${BIN_DIR:-$CARGO_TARGET_DIR/release}"
duration="${DURATION:-15}"
submits="${SUBMITS:-1000}"
port="${PORT:-18400}"
out="${1:-/dev/stdout}"
work="$(mktemp -d)"
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

log() { printf '%s\n' "$*" | tee -a "$out" >&2; }
load_avg() { cut -d' ' -f1-3 /proc/loadavg; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
now_ms() { date +%s%3N; }

# Waits up to 60 s for URL to return 200.
wait_200() {
  local url="$1" tries=0
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$url")" = 200 ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 6000 ]; then echo "no 200 from $url after 60 s" >&2; return 1; fi
    sleep 0.01
  done
}

# Stops the server PID with SIGINT (graceful) and removes it from the cleanup list.
stop() {
  kill -INT "$1"
  timeout 30 tail --pid="$1" -f /dev/null || kill -KILL "$1"
  local kept=()
  for pid in "${pids[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
  pids=("${kept[@]}")
}

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  (cd "$repo" && timeout 3600 cargo build --release -p docsnap-http --bin docsnap-server \
    && timeout 3600 cargo build --release -p benches --bin stub-server --bin docsnap-load)
fi
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

log "# docsnap load benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores; wrk ${duration}s per run"

# --- Start-up time: process start to /readyz 200, with an existing key pair and database.
data="$work/server-data"
addr="127.0.0.1:$port"
"$bin/docsnap-server" serve --listen "$addr" --data-dir "$data" >/dev/null 2>"$work/first.log" &
pids+=($!)
wait_200 "http://$addr/readyz"
stop "${pids[-1]}"
for run in 1 2 3 4 5; do
  start=$(now_ms)
  "$bin/docsnap-server" serve --listen "$addr" --data-dir "$data" >/dev/null 2>>"$work/server.log" &
  pids+=($!)
  wait_200 "http://$addr/readyz"
  log "startup run=$run ms=$(( $(now_ms) - start )) load=\"$(load_avg)\""
  [ "$run" = 5 ] || stop "${pids[-1]}"
done
server=${pids[-1]}
sleep 2
log "rss server=docsnap-server phase=idle_after_start kib=$(rss_kib "$server")"

# --- One completed task to poll: a real OCR + rule-extractor run on a small letter.
"$bin/docsnap-load" image --out "$work/page.jpg" --kib 200 >&2
"$bin/docsnap-load" seal --addr "$addr" --image "$repo/docsnap-core/tests/fixtures/ocr/letter.png" --out "$work/task" >&2
curl -sf -o /dev/null -H 'Content-Type: application/json' --data-binary "@$work/task/submit.json" "http://$addr/process"
for _ in $(seq 600); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "@$work/task/poll.json" "http://$addr/process")
  [ "$code" = 202 ] || break
  sleep 0.2
done
[ "$code" = 200 ] || { echo "the poll task ended with HTTP $code, not 200 completed" >&2; exit 1; }

# --- Polls and status checks at 1 and 16 connections.
run_wrk() {
  local name="$1" threads="$2" conns="$3"; shift 3
  local before; before="$(load_avg)"
  local result
  result=$(timeout $((duration + 30)) wrk -t"$threads" -c"$conns" -d"${duration}s" --latency "$@")
  printf '%s\n' "$result" >>"$work/wrk.txt"
  local rps p50 p99 errors
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$result")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$result")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$result")
  errors=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' <<<"$result")
  log "wrk test=$name connections=$conns rps=$rps p50=$p50 p99=$p99 load_before=\"$before\" load_after=\"$(load_avg)\" errors=\"${errors:-none}\""
}
export POLL_BODY="$work/task/poll.json"
for conns in 1 16; do
  threads=$([ "$conns" = 1 ] && echo 1 || echo 2)
  run_wrk poll "$threads" "$conns" -s "$here/poll.lua" "http://$addr/process"
  run_wrk check_status "$threads" "$conns" "http://$addr/check_status"
done
log "rss server=docsnap-server phase=after_load kib=$(rss_kib "$server")"
stop "$server"

# --- Submissions of distinct sealed ~200 KB pages to the stub-pipeline server.
stub_addr="127.0.0.1:$((port + 1))"
"$bin/stub-server" --listen "$stub_addr" --data-dir "$work/stub-data" >/dev/null 2>"$work/stub.log" &
pids+=($!)
stub=$!
wait_200 "http://$stub_addr/check_status"
sleep 2
log "rss server=stub-server phase=idle_after_start kib=$(rss_kib "$stub")"
before="$(load_avg)"
result=$(timeout 600 "$bin/docsnap-load" submit --addr "$stub_addr" --image "$work/page.jpg" \
  --count "$submits" --connections 8 --max-seconds 60)
log "submit connections=8 $result load_before=\"$before\" load_after=\"$(load_avg)\""
log "rss server=stub-server phase=after_load kib=$(rss_kib "$stub")"
log "tasks_done=$(curl -s "http://$stub_addr/metrics" | awk '/^docsnap_tasks/ {printf "%s ", $0}')"
stop "$stub"
log "# done $(date -u +%Y-%m-%dT%H:%M:%SZ)"
