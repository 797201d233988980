#!/usr/bin/env bash
# Run `planner bench --backend cuda` on a GPU machine and profile the attention kernels'
# device-memory traffic with Nsight Compute. Usage: scripts/gpu_bench.sh PLANNER_BINARY OUT_DIR
set -euo pipefail
bin=$1; out=$2
source "$(dirname "$0")/cuda_env.sh"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/nvidia-smi.txt"
"$bin" bench --backend cuda --out "$out" 2>&1 | tee "$out/bench.log"
# Measured HBM (DRAM) and L1->L2 traffic of one launch of each attention kernel.
if command -v ncu >/dev/null; then
  for shape in "N=4096 d=128" "N=16384 d=128"; do
    for kind in standard tiled; do
      if [ $kind = standard ]; then k='regex:attn_std_'; n=3; else k='regex:attn_flash'; n=1; fi
      echo "== ncu $kind $shape" | tee -a "$out/ncu.txt"
      ncu --kernel-name "$k" --launch-count $n \
        --metrics dram__bytes_read.sum,dram__bytes_write.sum,lts__t_sectors_srcunit_tex_op_read.sum,lts__t_sectors_srcunit_tex_op_write.sum,gpu__time_duration.sum \
        "$bin" bench --backend cuda --only attention --filter "$shape" --out /tmp/ncu_scratch 2>&1 \
        | grep -E "attn_|dram__|lts__|gpu__time" | tee -a "$out/ncu.txt" || true
    done
  done
fi
