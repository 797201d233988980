#!/usr/bin/env bash
# The simulator benchmarks of BENCHMARKS.md, each on one core (taskset -c 0) under
# /usr/bin/time: 1,000,000 chat requests (issue #3), 1,000,000 RAG requests with prefix
# caching and the 12k-request Mooncake replay (issue #4). Prints wall time, peak RSS and
# throughput of the simulator for each. Usage: scripts/bench.sh [scenario.toml ...]
# BENCH_CORES=all runs them unpinned (report tables are written on threads of their own, so
# a second core takes the CSV formatting off the simulation's path).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
  scenarios=(scenarios/bench_1m.toml scenarios/bench_1m_rag.toml scenarios/mooncake.toml)
fi
for scn in "${scenarios[@]}"; do
  out=$(mktemp -d)
  echo "== $scn"
  pin=(taskset -c 0)
  if [ "${BENCH_CORES:-one}" = all ]; then pin=(); fi
  /usr/bin/time -v "${pin[@]}" ./target/release/planner simulate "$scn" --quiet --out "$out" > "$out/stdout.txt" 2> "$out/time.txt"
  grep -E "requests_finished|iterations|request_throughput_rps|ttft_p90_ms|tpot_p90_ms|prefix_cache_hit_rate" "$out/stdout.txt" || true
  grep -E "Elapsed \(wall clock\)|Maximum resident set size" "$out/time.txt"
  grep "simulated" "$out/time.txt"
  ls -la "$out" | grep -E "csv|parquet"
  rm -rf "$out"
done
