#!/usr/bin/env bash
# Where the tiled kernel's loads go: global-load sectors requested by the SMs (L1TEX side)
# against the sectors arriving at L2 from the SMs and from the other L2 partition.
# Usage: scripts/gpu_attention_l2.sh PLANNER_BINARY OUT_DIR
set -euo pipefail
bin=$1; out=$2
source "$(dirname "$0")/cuda_env.sh"
m=l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum,l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum,lts__t_sectors_srcunit_tex_op_read.sum,lts__t_sectors_srcunit_ltcfabric_op_read.sum,lts__t_sectors_op_read.sum,dram__bytes_read.sum
for shape in "N=4096 d=128" "N=16384 d=128" "N=4096 d=64"; do
  echo "== ncu tiled $shape" | tee -a "$out/ncu_l2.txt"
  ncu --kernel-name regex:attn_flash --launch-count 1 --metrics $m \
    "$bin" bench --backend cuda --only attention --filter "$shape" --out /tmp/ncu_scratch 2>&1 \
    | grep -E "attn_|l1tex__|lts__|dram__" | tee -a "$out/ncu_l2.txt" || true
done
echo "== ncu standard scores N=4096 d=128" | tee -a "$out/ncu_l2.txt"
ncu --kernel-name regex:attn_std_scores --launch-count 1 --metrics $m \
  "$bin" bench --backend cuda --only attention --filter "N=4096 d=128" --out /tmp/ncu_scratch 2>&1 \
  | grep -E "attn_|l1tex__|lts__|dram__" | tee -a "$out/ncu_l2.txt" || true
