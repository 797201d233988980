#!/usr/bin/env bash
# The memory benchmark of an overloaded trace replay (issue #13): the Mooncake trace repeated
# to 1,000,000 requests (each copy shifted in time, its prefixes distinct), replayed 10× faster
# on one H100, so nearly the whole trace waits in the queue at once. Prints wall time and peak
# RSS. Usage: scripts/overloaded_trace.sh [planner binary] (default: target/release/planner).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/planner}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work/big.jsonl" <<'PY'
import json, sys
lines = open("data/traces/mooncake_conversation_trace.jsonl").read().splitlines()
last = json.loads(lines[-1])["timestamp"]
with open(sys.argv[1], "w") as out:
    n = k = 0
    while n < 1_000_000:
        for l in lines:
            r = json.loads(l)
            r["timestamp"] += k * (last + 1)
            r["hash_ids"] = [h + k * 10_000_000 for h in r["hash_ids"]]
            out.write(json.dumps(r) + "\n")
            n += 1
            if n >= 1_000_000:
                break
        k += 1
PY
cat > "$work/big.toml" <<'TOML'
name = "bigtrace"
[model]
name = "llama-3.1-8b"
[hardware]
gpu = "h100-sxm"
[engine]
kv_cache_dtype = "fp8"
[workload]
arrival = "trace"
trace = "big.jsonl"
time_scale = 10.0
max_prompt_tokens = 128000
TOML
/usr/bin/time -v "$bin" simulate "$work/big.toml" -q --out "$work/report" > "$work/out.txt" 2> "$work/time.txt"
grep -E "requests_finished|ttft_p90_ms" "$work/out.txt"
grep -E "Elapsed \(wall clock\)|Maximum resident set size" "$work/time.txt"
