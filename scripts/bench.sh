#!/usr/bin/env bash
# The simulator benchmark of BENCHMARKS.md: 1,000,000 chat requests on one core.
# Prints wall time, peak RSS and throughput of the simulator. Usage: scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
out=$(mktemp -d)
/usr/bin/time -v taskset -c 0 ./target/release/planner simulate scenarios/bench_1m.toml --quiet --out "$out" > "$out/stdout.txt" 2> "$out/time.txt"
grep -E "requests_finished|iterations|request_throughput_rps|ttft_p90_ms|tpot_p90_ms" "$out/stdout.txt"
grep -E "Elapsed \(wall clock\)|Maximum resident set size" "$out/time.txt"
grep "simulated" "$out/time.txt"
ls -la "$out"
rm -rf "$out"
