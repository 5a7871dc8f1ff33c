#!/usr/bin/env bash
# The benchmark in one command (DESIGN.md §6), meant to run after scripts/test.sh (which builds
# everything). In one run, on this machine:
#   1. accord-log-bench: the sharing log on its own (durable appends/s, proof time, one child's
#      query) at each size in ACCORD_BENCH_LOG_SIZES;
#   2. accord-bench: a real hub over mTLS on loopback beside a bare echo server (the ceiling),
#      its log filled with ACCORD_BENCH_HUB_EVENTS events; each scenario's peak throughput as a
#      ratio of echo's, latency at fixed offered rates, server CPU and RSS.
# Writes $out/results.md (the tables) and $out/results.json, and prints the tables.
#
# Knobs (environment): ACCORD_BUILD_DIR (default build/); ACCORD_BENCH_OUT (default
# <build>/bench); ACCORD_BENCH_LOG_SIZES (default "1000000" — filling 10 M events alone takes
# longer than the 10-minute budget on a 2-core machine, see docs/PERFORMANCE.md; add 10000000 to
# run it); ACCORD_BENCH_HUB_EVENTS (default 1000000); ACCORD_BENCH_DURATION (seconds per measured
# run, default 4); ACCORD_BENCH_SOAK (seconds; when set, a last step soaks RequestRecords at
# ACCORD_BENCH_SOAK_RATE calls/s, default 1500, reading the hub's RSS every minute — the "RSS flat
# over a soak" target takes 3600, so it is not in the default run; results in $out/soak/).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${ACCORD_BUILD_DIR:-$here/build}"
out="${ACCORD_BENCH_OUT:-$build_dir/bench}"
log_sizes="${ACCORD_BENCH_LOG_SIZES:-1000000}"
hub_events="${ACCORD_BENCH_HUB_EVENTS:-1000000}"
duration="${ACCORD_BENCH_DURATION:-4}"
bench_dir="$build_dir/tests/bench"

"$here/scripts/install-deps.sh"
echo "bench: building (a no-op after scripts/test.sh)"
"$here/scripts/build.sh" >/dev/null

mkdir -p "$out"
rm -f "$out"/log-*.json "$out"/results.md "$out"/results.json
start=$(date +%s)
stamp() { local s=$(( $(date +%s) - start )); printf '[bench %02d:%02d] %s\n' $((s / 60)) $((s % 60)) "$*" >&2; }

soak="${ACCORD_BENCH_SOAK:-}"
soak_rate="${ACCORD_BENCH_SOAK_RATE:-1500}"
log_args=()
n=0
total=$(( $(wc -w <<<"$log_sizes") + 1 ))
[ -n "$soak" ] && total=$((total + 1))
for size in $log_sizes; do
  n=$((n + 1))
  stamp "step $n/$total: accord-log-bench with $size events (durable appends, proofs, per-child queries)"
  "$bench_dir/accord-log-bench" --events "$size" --json "$out/log-$size.json" | sed 's/^/    /'
  log_args+=(--log-results "$out/log-$size.json")
done

stamp "step $total/$total: accord-bench — the hub ($hub_events logged events) against the echo ceiling"
"$bench_dir/accord-bench" --out "$out" --log-events "$hub_events" --duration "$duration" "${log_args[@]}" >/dev/null

cat "$out/results.md"
if [ -n "$soak" ]; then
  stamp "step $total/$total: soak — RequestRecords at $soak_rate calls/s for $soak s, the hub's RSS every minute"
  "$bench_dir/accord-bench" --out "$out/soak" --scenarios request_records --log-events 0 --rates none \
    --soak "$soak" --soak-rate "$soak_rate" --soak-interval 60 >/dev/null
  sed -n '/^## Soak/,$p' "$out/soak/results.md"
fi
stamp "done: $out/results.md and $out/results.json"
