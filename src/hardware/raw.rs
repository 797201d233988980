//! [`RawGpu`], a 1:1 serde mirror of a `hardware/*.toml` file, in the file's own units
//! (GB, GiB, MiB, KiB, MHz, TFLOP/s). [`GpuSpec::from_raw`](super::GpuSpec::from_raw) turns
//! it into SI units and checks it.
//!
//! Every table denies unknown keys, so a typo in a hand-written GPU file (`bandwdith_gb_s`)
//! is an error naming the key, never a silently missing value. Numbers are read as `f64`
//! whether written `80` or `80.0`; counts (`sm_count`, `pcie_generation`) are checked to be
//! whole during validation.

use super::{HardwareError, LinkKind, Vendor};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A GPU file as written. Top-level keys plus the `[memory]`, `[compute]`,
/// `[interconnect]`, `[cost]` and optional `[measured]` tables.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawGpu {
    /// Catalog name; must equal the file stem for catalog files, e.g. `h100-sxm`.
    pub name: String,
    /// Human-readable name for reports, e.g. `NVIDIA H100 SXM5 80GB HBM3`.
    pub display_name: String,
    /// `nvidia` or `amd`.
    pub vendor: Vendor,
    /// e.g. `hopper`, `cdna3`.
    pub architecture: String,
    /// `[memory]`.
    pub memory: RawMemory,
    /// `[compute]`.
    pub compute: RawCompute,
    /// `[interconnect]`.
    pub interconnect: RawInterconnect,
    /// `[cost]`.
    pub cost: RawCost,
    /// `[measured]`: ceilings measured on a real device; absent = datasheet only.
    #[serde(default)]
    pub measured: Option<RawMeasured>,
}

/// `[memory]`: device memory (HBM or GDDR) and L2.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawMemory {
    /// Marketed size in GB (1e9 bytes), e.g. 80.
    pub capacity_gb: f64,
    /// Usable total in GiB (2^30 bytes) as PyTorch / vLLM report it, e.g. 79.11.
    pub capacity_gib: f64,
    /// Datasheet peak bandwidth in GB/s (1e9 bytes/s).
    pub bandwidth_gb_s: f64,
    /// L2 cache in MiB (2^20 bytes).
    pub l2_cache_mib: f64,
}

/// `[compute]`: SMs, shared memory, clock and dense datasheet peaks.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawCompute {
    /// Streaming multiprocessors (NVIDIA) or compute units (AMD).
    pub sm_count: f64,
    /// Shared memory (AMD: LDS) per SM, KiB.
    pub smem_per_sm_kib: f64,
    /// Largest shared-memory allocation one thread block may opt into, KiB.
    pub max_smem_per_block_kib: f64,
    /// Maximum SM clock, MHz.
    pub boost_clock_mhz: f64,
    /// Non-tensor FP32, TFLOP/s.
    pub fp32_tflops: f64,
    /// Dense TF32 tensor, TFLOP/s.
    pub tf32_tflops: f64,
    /// Dense BF16 tensor (FP32 accumulate), TFLOP/s; absent on GPUs without BF16 (Volta),
    /// where 16-bit models run in FP16 at `fp16_tflops`.
    #[serde(default)]
    pub bf16_tflops: Option<f64>,
    /// Dense FP16 tensor (FP32 accumulate), TFLOP/s.
    pub fp16_tflops: f64,
    /// Dense FP8 tensor, TFLOP/s; absent on GPUs without FP8 (Ampere).
    #[serde(default)]
    pub fp8_tflops: Option<f64>,
    /// Dense INT8 tensor, TOP/s; absent on GPUs without INT8 tensor cores (Volta).
    #[serde(default)]
    pub int8_tops: Option<f64>,
    /// Dense FP4 tensor (NVFP4/MXFP4), TFLOP/s; absent on GPUs without FP4 (before Blackwell).
    #[serde(default)]
    pub fp4_tflops: Option<f64>,
}

/// `[interconnect]`: the GPU-to-GPU link used for tensor parallelism, and the host link.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawInterconnect {
    /// `nvlink`, `xgmi` or `pcie`.
    pub kind: LinkKind,
    /// Free text, e.g. `NVLink 4`.
    pub generation: String,
    /// GPU-to-GPU bandwidth per direction, GB/s.
    pub bandwidth_gb_s: f64,
    /// Host PCIe generation, e.g. 5.
    pub pcie_generation: f64,
    /// Host PCIe bandwidth per direction, GB/s.
    pub pcie_gb_s: f64,
}

/// `[cost]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawCost {
    /// On-demand price per GPU-hour, USD.
    pub usd_per_gpu_hour: f64,
}

/// `[measured]`: what kernels reached on a real device. Every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawMeasured {
    /// Device-to-device copy, GB/s counting bytes read + bytes written.
    #[serde(default)]
    pub copy_gb_s: Option<f64>,
    /// Read-only stream, GB/s.
    #[serde(default)]
    pub read_gb_s: Option<f64>,
    /// Dense BF16 GEMM, TFLOP/s.
    #[serde(default)]
    pub bf16_tflops: Option<f64>,
    /// Dense FP8 GEMM, TFLOP/s.
    #[serde(default)]
    pub fp8_tflops: Option<f64>,
    /// Where the figures come from (tool, date, shapes).
    #[serde(default)]
    pub source: Option<String>,
}

impl RawGpu {
    /// Parse TOML `text`; `path` is only used to name the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, HardwareError> {
        toml::from_str(text).map_err(|error| HardwareError::Toml {
            path: path.to_path_buf(),
            error,
        })
    }

    /// Read and parse the file at `path`.
    pub fn read(path: &Path) -> Result<Self, HardwareError> {
        let text = std::fs::read_to_string(path).map_err(|error| HardwareError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Self::parse(&text, path)
    }
}
