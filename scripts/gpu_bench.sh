#!/usr/bin/env bash
# The whole GPU measurement of BENCHMARKS.md: `planner bench --backend cuda`, then (where
# Nsight Compute is installed) the attention kernels' memory traffic.
# Usage: scripts/gpu_bench.sh PLANNER_BINARY OUT_DIR
set -euo pipefail
bin=$1; out=$2
here=$(dirname "$0")
source "$here/cuda_env.sh"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/nvidia-smi.txt"
"$bin" bench --backend cuda --out "$out" 2>&1 | tee "$out/bench.log"
if command -v ncu >/dev/null; then
  bash "$here/gpu_attention_io.sh" "$bin" "$out"   # DRAM and L2 traffic per kernel → ncu.txt
  bash "$here/gpu_attention_l2.sh" "$bin" "$out"   # global-load sectors vs the IO model → ncu_l2.txt
fi
