# Sourced by the GPU scripts: put CUDA 13's NVRTC and cuBLAS on LD_LIBRARY_PATH, from the
# toolkit or from pip packages, wherever the machine has them (cudarc loads them by name).
libs=$(for l in libnvrtc.so.13 libcublas.so.13 libcublasLt.so.13; do find / -xdev -name "$l" 2>/dev/null | head -2; done)
export LD_LIBRARY_PATH=$(echo "$libs" | xargs -n1 dirname | sort -u | tr '\n' ':')${LD_LIBRARY_PATH:-}
