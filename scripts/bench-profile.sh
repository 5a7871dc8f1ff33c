#!/usr/bin/env bash
# Optional, after scripts/bench.sh: where each scenario's server spends its CPU. For each
# scenario, records the whole machine with perf while accord-bench drives that scenario at peak
# (closed loop), then reports the server process's CPU by library and its hottest functions; the
# same for the sharing log's durable appends (accord-log-bench). Writes
# $out/profile-<scenario>.txt (docs/PERFORMANCE.md summarises them).
#
# Needs perf (Debian package linux-perf; not installed by install-deps.sh because nothing else
# needs it) and permission to record system-wide (root, or kernel.perf_event_paranoid <= 0).
# Knobs: ACCORD_BUILD_DIR, ACCORD_BENCH_OUT (as bench.sh), ACCORD_PROFILE_SCENARIOS (default
# "echo hub_health get_partner check_sharing query_events log_append"), ACCORD_PROFILE_LOG_EVENTS
# (events in the hub's log for query_events, default 300000).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${ACCORD_BUILD_DIR:-$here/build}"
out="${ACCORD_BENCH_OUT:-$build_dir/bench}"
scenarios="${ACCORD_PROFILE_SCENARIOS:-echo hub_health get_partner check_sharing query_events log_append}"
log_events="${ACCORD_PROFILE_LOG_EVENTS:-300000}"
bench_dir="$build_dir/tests/bench"

if ! command -v perf >/dev/null; then
  echo "bench-profile: perf is not installed (Debian: apt-get install linux-perf)" >&2
  exit 1
fi
mkdir -p "$out"

# report DATA pid|comm VALUE TITLE: one process's CPU by library, then its hottest functions, as
# shares of that process's samples.
report() {
  local data=$1 filter=$2 value=$3 title=$4
  local common=(-i "$data" "--$filter" "$value" --no-children --percentage relative --stdio -g none)
  tidy() { grep -v '^#' | grep -v '^$' | sed 's/  */ /g' | cut -c1-160 | head -"$1" || true; }
  echo "# $title"
  echo
  echo "## CPU by library (share of the process's samples)"
  perf report "${common[@]}" --sort dso,symbol 2>/dev/null | grep -v '^#' |
    awk '$1 ~ /%$/ { share[$2] += $1 } END { for (d in share) printf "%6.2f%% %s\n", share[d], d }' |
    sort -rn | head -15 || true
  echo
  echo "## Hottest functions"
  perf report "${common[@]}" --sort dso,symbol 2>/dev/null | tidy 40
}

for s in $scenarios; do
  data="$out/perf-$s.data"
  echo "bench-profile: $s" >&2
  if [ "$s" = log_append ]; then
    perf record -q -F 499 -g -o "$data" -- \
      "$bench_dir/accord-log-bench" --events 300000 --proofs 10 --queries 2 >/dev/null 2>&1
    report "$data" comm accord-log-benc "log_append: accord-log-bench filling 300000 events (32 threads x 64 per call)" \
      >"$out/profile-$s.txt"
    continue
  fi
  events=0
  [ "$s" = query_events ] && events=$log_events
  run_log="$out/profile-run-$s.log"
  perf record -q -F 499 -a -g -o "$data" -- \
    "$bench_dir/accord-bench" --out "$out/profile-run-$s" --scenarios "$s" --rates none \
    --log-events "$events" --duration 4 >/dev/null 2>"$run_log"
  if [ "$s" = echo ]; then
    pid=$(sed -n 's/.*echo server pid \([0-9]*\).*/\1/p' "$run_log")
  else
    pid=$(sed -n 's/.*accord-hub pid \([0-9]*\).*/\1/p' "$run_log")
  fi
  report "$data" pid "$pid" "$s: the server process (pid $pid) at peak; run log in $(basename "$run_log")" \
    >"$out/profile-$s.txt"
done
echo "bench-profile: wrote $out/profile-*.txt" >&2
