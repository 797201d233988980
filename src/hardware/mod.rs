//! GPU specs: what `hardware/<name>.toml` says, validated, in SI units.
//!
//! ```text
//! hardware/<name>.toml ──► RawGpu (serde mirror in file units: GB, GiB, MiB, TFLOP/s; raw.rs)
//!     ──► GpuSpec::from_raw (checks, lower.rs) ──► GpuSpec (bytes, bytes/s, FLOP/s, Hz)
//! ```
//!
//! [`crate::catalog::Catalog::gpu`] is the entry point: a catalog name (`h100-sxm`) or a path
//! to a `.toml`; [`load_gpu_file`] reads a path. Every quantity is an `f64` in base SI units with the unit in the field name
//! (`memory_bytes`, `hbm_bytes_per_s`): 1 GB = 1e9 bytes, 1 GiB = 2^30 bytes, and the
//! conversion happens once, in [`GpuSpec::from_raw`].
//!
//! Two kinds of ceiling live here. Datasheet peaks ([`GpuSpec::hbm_bytes_per_s`],
//! [`GpuSpec::peak_flops`]) are upper bounds no kernel reaches; the optional `[measured]`
//! table records what a kernel did reach on a real device. Cost models should use
//! [`GpuSpec::effective_hbm_bytes_per_s`] and [`GpuSpec::effective_bf16_flops`], which take
//! the measured figure when there is one.

pub mod error;
mod lower;
pub mod raw;

pub use error::HardwareError;
pub use raw::RawGpu;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// Read and validate the GPU file at `path` (any name; no catalog rules).
pub fn load_gpu_file(path: &Path) -> Result<GpuSpec, HardwareError> {
    GpuSpec::from_raw(&RawGpu::read(path)?, path)
}

/// Who makes the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    /// NVIDIA (CUDA).
    Nvidia,
    /// AMD (ROCm/HIP).
    Amd,
}

/// The GPU-to-GPU link used for tensor parallelism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// NVIDIA NVLink (through NVSwitch on HGX/DGX boards).
    Nvlink,
    /// AMD Infinity Fabric (xGMI).
    Xgmi,
    /// No GPU-to-GPU fabric: peers talk over PCIe.
    Pcie,
}

/// The number format a matrix multiply runs in, for choosing a peak rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ComputeDtype {
    /// FP32 on the ordinary (non-tensor) units.
    Fp32,
    /// TF32 on tensor units.
    Tf32,
    /// BF16 on tensor units, FP32 accumulate.
    Bf16,
    /// FP16 on tensor units, FP32 accumulate.
    Fp16,
    /// FP8 (E4M3/E5M2) on tensor units; not every GPU has it.
    Fp8,
    /// INT8 on tensor units (integer op/s rather than FLOP/s); not every GPU has it.
    Int8,
    /// FP4 (NVFP4/MXFP4 E2M1) on tensor units; Blackwell and later.
    Fp4,
}

impl ComputeDtype {
    /// Every dtype, in declaration order.
    pub const ALL: [ComputeDtype; 7] = [
        ComputeDtype::Fp32,
        ComputeDtype::Tf32,
        ComputeDtype::Bf16,
        ComputeDtype::Fp16,
        ComputeDtype::Fp8,
        ComputeDtype::Int8,
        ComputeDtype::Fp4,
    ];

    /// The lowercase name used in TOML files and reports, e.g. `bf16`.
    pub fn as_str(self) -> &'static str {
        match self {
            ComputeDtype::Fp32 => "fp32",
            ComputeDtype::Tf32 => "tf32",
            ComputeDtype::Bf16 => "bf16",
            ComputeDtype::Fp16 => "fp16",
            ComputeDtype::Fp8 => "fp8",
            ComputeDtype::Int8 => "int8",
            ComputeDtype::Fp4 => "fp4",
        }
    }
}

impl fmt::Display for ComputeDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Dense datasheet peaks, in FLOP/s (INT8: op/s). Sparse ("with sparsity", 2:4) figures
/// are twice these and never apply to LLM inference as served today.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeakFlops {
    /// Non-tensor FP32.
    pub fp32: f64,
    /// TF32 tensor.
    pub tf32: f64,
    /// BF16 tensor; on a GPU without BF16 (`has_bf16` false) the FP16 figure, since 16-bit
    /// models run there in FP16 (vLLM casts bf16 checkpoints to fp16 on Volta).
    pub bf16: f64,
    /// Whether the GPU has BF16 tensor math.
    pub has_bf16: bool,
    /// FP16 tensor.
    pub fp16: f64,
    /// FP8 tensor; `None` on GPUs without FP8 (A100, RTX 3090, A10G).
    pub fp8: Option<f64>,
    /// INT8 tensor, op/s; `None` on GPUs without INT8 tensor cores (V100).
    pub int8: Option<f64>,
    /// FP4 tensor (NVFP4/MXFP4); `None` before Blackwell.
    pub fp4: Option<f64>,
}

/// Ceilings measured on a real device, in SI units. Each is what a simple, well-tuned kernel
/// reached, so it sits below the datasheet peak; `None` = not measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Measured {
    /// Device-to-device copy, bytes/s, counting bytes read + bytes written.
    pub copy_bytes_per_s: Option<f64>,
    /// Read-only stream, bytes/s.
    pub read_bytes_per_s: Option<f64>,
    /// Dense BF16 GEMM, FLOP/s.
    pub bf16_flops: Option<f64>,
    /// Dense FP8 GEMM, FLOP/s.
    pub fp8_flops: Option<f64>,
    /// Where the figures come from (tool, date, shapes), as written in the file.
    pub source: Option<String>,
}

/// A validated GPU, in SI units: bytes, bytes/s, FLOP/s, Hz, USD/hour. Build one with
/// [`crate::catalog::Catalog::gpu`], [`load_gpu_file`] or [`GpuSpec::from_raw`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuSpec {
    /// Catalog name (file stem), e.g. `h100-sxm`.
    pub name: String,
    /// Human-readable name for reports.
    pub display_name: String,
    /// Who makes it.
    pub vendor: Vendor,
    /// e.g. `hopper`, `cdna3`.
    pub architecture: String,
    /// The file it was read from (for error messages and reports).
    pub source: PathBuf,
    /// Usable device memory, bytes: `capacity_gib × 2^30`. This is what vLLM logs as
    /// `total_gpu_memory` and what `gpu_memory_utilization` is a fraction of.
    pub memory_bytes: f64,
    /// Marketed memory size in GB (1e9 bytes), for display only; never size anything with it.
    pub nominal_gb: f64,
    /// Datasheet peak memory bandwidth, bytes/s (`bandwidth_gb_s × 1e9`): an upper bound.
    pub hbm_bytes_per_s: f64,
    /// L2 cache, bytes.
    pub l2_bytes: f64,
    /// Streaming multiprocessors (AMD: compute units).
    pub sm_count: u32,
    /// Shared memory (AMD: LDS) per SM, bytes.
    pub smem_per_sm_bytes: f64,
    /// Largest shared-memory allocation one thread block can opt into, bytes.
    pub max_smem_per_block_bytes: f64,
    /// Maximum SM clock, Hz.
    pub boost_clock_hz: f64,
    /// Dense datasheet peaks; read them through [`GpuSpec::peak_flops`].
    pub peak: PeakFlops,
    /// GPU-to-GPU link kind used for tensor parallelism.
    pub link_kind: LinkKind,
    /// Link generation as written, e.g. `NVLink 4`.
    pub link_generation: String,
    /// GPU-to-GPU bandwidth per direction, bytes/s (datasheet "bidirectional" figures halved).
    pub link_bytes_per_s: f64,
    /// Host PCIe generation.
    pub pcie_generation: u32,
    /// Host PCIe bandwidth per direction, bytes/s.
    pub pcie_bytes_per_s: f64,
    /// On-demand price per GPU-hour, USD (an assumption the user can edit).
    pub usd_per_hour: f64,
    /// Where `usd_per_hour` comes from: the GPU file, `hardware.usd_per_hour` in a scenario,
    /// or `plan --price` / `--prices` (reports name it).
    pub price_from: String,
    /// Ceilings measured on a real device, if the file has a `[measured]` table.
    pub measured: Option<Measured>,
}

impl GpuSpec {
    /// Dense datasheet peak for `dtype`, FLOP/s (INT8: op/s); `None` when the GPU has no
    /// such unit (FP8 before Hopper/Ada). An upper bound: see [`GpuSpec::effective_flops`].
    pub fn peak_flops(&self, dtype: ComputeDtype) -> Option<f64> {
        match dtype {
            ComputeDtype::Fp32 => Some(self.peak.fp32),
            ComputeDtype::Tf32 => Some(self.peak.tf32),
            ComputeDtype::Bf16 => self.peak.has_bf16.then_some(self.peak.bf16),
            ComputeDtype::Fp16 => Some(self.peak.fp16),
            ComputeDtype::Fp8 => self.peak.fp8,
            ComputeDtype::Int8 => self.peak.int8,
            ComputeDtype::Fp4 => self.peak.fp4,
        }
    }

    /// Memory bandwidth a kernel can actually sustain, bytes/s: the measured copy rate
    /// (bytes read + written) when the file has `measured.copy_gb_s`, else the datasheet
    /// peak [`GpuSpec::hbm_bytes_per_s`]. The datasheet figure is an upper bound no kernel
    /// reaches (H100 SXM: 3.35 TB/s on paper, about 3.0 TB/s measured copy).
    pub fn effective_hbm_bytes_per_s(&self) -> f64 {
        self.measured
            .as_ref()
            .and_then(|m| m.copy_bytes_per_s)
            .unwrap_or(self.hbm_bytes_per_s)
    }

    /// Dense BF16 throughput a GEMM can actually reach, FLOP/s: `measured.bf16_tflops` when
    /// present, else the datasheet peak, an upper bound (H100 SXM: 989 TFLOP/s on paper,
    /// about 800 measured on an 8192³ GEMM).
    pub fn effective_bf16_flops(&self) -> f64 {
        self.measured
            .as_ref()
            .and_then(|m| m.bf16_flops)
            .unwrap_or(self.peak.bf16)
    }

    /// [`GpuSpec::peak_flops`] with the measured ceiling substituted where one exists (BF16,
    /// FP8); other dtypes return the datasheet peak. `None` when the GPU lacks the unit.
    pub fn effective_flops(&self, dtype: ComputeDtype) -> Option<f64> {
        let measured = self.measured.as_ref().and_then(|m| match dtype {
            ComputeDtype::Bf16 => m.bf16_flops,
            ComputeDtype::Fp8 => m.fp8_flops,
            _ => None,
        });
        self.peak_flops(dtype).map(|peak| measured.unwrap_or(peak))
    }
}
