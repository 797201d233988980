#!/usr/bin/env bash
# One-shot device check of the GEMM cases of `planner bench --backend cuda`: bf16 (cuBLAS
# cublasGemmEx), fp8 E4M3 and int8 (cuBLASLt), each at the suite's 33 shapes (8192³ and the
# Llama-3.1-8B linears at m = 1 … 4096). Meant for an H100/H200; on a GPU below compute
# capability 8.9 the fp8 rows are recorded as errors naming the GPU, and the rest still run.
#
# Usage: OUT=DIR scripts/bench_fp8_device.sh [PLANNER_BINARY]    (binary defaults to ./planner)
# Writes under $OUT: gemm.toml and gemm.csv (the bench's files; the TOML ends with the
# [measured] ceilings as comments), bench.log, summary.txt, nvidia-smi.txt, env.txt.
# Exit status: the bench's (0 = every case passed its check; 1 = some case failed).
set -uo pipefail
bin=${1:-./planner}
out=${OUT:?set OUT to the folder for the results}
here=$(dirname "$0")
mkdir -p "$out"
if [ ! -x "$bin" ]; then
  echo "no executable planner binary at $bin (build with cargo build --release, or pass its path)" >&2
  exit 2
fi
source "$here/cuda_env.sh"
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,clocks.max.sm --format=csv \
  >"$out/nvidia-smi.txt" 2>&1 || true
{
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  "$bin" --version 2>&1 || true
} >"$out/env.txt"

timeout 540 "$bin" bench --backend cuda --only gemm --out "$out" --name gemm 2>&1 | tee "$out/bench.log"
rc=${PIPESTATUS[0]}

csv="$out/gemm.csv"
if [ -f "$csv" ]; then
  {
    # CSV columns: 1 primitive, 2 variant, 3 shape (no commas), ..., 15 tflop_per_s,
    # 16 check_error, 17 status ("ok" or an error that may contain commas).
    for v in bf16 fp8 int8; do
      total=$(grep -c "^gemm,$v," "$csv")
      ok=$(grep -c "^gemm,$v,.*,\"ok\"$" "$csv")
      best=$(awk -F, -v v="$v" '$1 == "gemm" && $2 == v && /"ok"$/ && $15 + 0 > b { b = $15 + 0; s = $3 }
        END { if (b > 0) printf "%.1f T(FL)OP/s at %s", b, s; else print "-" }' "$csv")
      echo "$v: $ok/$total ok; fastest: $best"
    done
    echo "failed cases:"
    grep -v '"ok"$' "$csv" | tail -n +2 | cut -c1-300 || true
  } | tee "$out/summary.txt"
fi
exit "$rc"
