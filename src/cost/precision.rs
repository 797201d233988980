//! Which tensor-core math each GEMM runs in ([`GemmMath`]), from the weights' format, the
//! activations' quantization, the GPU and the engine — and the refusals when a GPU cannot
//! run a format at all.
//!
//! | weights / activations | GPU has the unit | math | weights read |
//! |---|---|---|---|
//! | bf16 / fp16 | — | 16-bit | 2 bytes |
//! | FP8 W8A8 (`fp8`, `fbgemm_fp8`, compressed-tensors float 8) | FP8 (Ada, Hopper, Blackwell, MI300) | FP8 | 1 byte |
//! | FP8 W8A8 | no FP8 (Ampere) | 16-bit on dequantized weights (vLLM's FP8 Marlin, `fp8.py`: capability < 8.9) | 1 byte |
//! | INT8 W8A8 | INT8 tensor cores | INT8 | 1 byte |
//! | NVFP4 W4A4 | FP4 (Blackwell) | FP4 | 4.5 bits |
//! | NVFP4 W4A4 | no FP4, vLLM on Ampere or newer | 16-bit on dequantized weights (vLLM's `marlin_utils_fp4.py`) | 4.5 bits |
//! | weight-only int4/int8 (AWQ, GPTQ), NF4, MXFP4, GGUF | — | 16-bit on dequantized weights | their bits |
//!
//! Dequantization in a weight-only kernel (Marlin, llama.cpp's MMQ/dequant+GEMM) overlaps
//! the weight loads, so a decode step stays bound by the quantized bytes; its arithmetic is
//! counted as [`DEQUANT_OPS_PER_WEIGHT`] non-tensor operations per weight per
//! [`DEQUANT_ROWS`]-row slice of the batch, which only shows in large prefill batches.
//! Efficiencies per precision are assumed equal to the BF16 ones (no FP8/INT8/FP4 GEMM
//! profile is in the repository yet; `planner bench` has FP8 and INT8 cases to measure them).

use crate::hardware::{ComputeDtype, GpuSpec};
use crate::kv::{CacheDtype, EngineKind};
use crate::model::{ActQuant, Model, Precision, Role, WeightDtype};

/// Non-tensor operations to dequantize one weight (unpack, scale, convert): an assumption
/// (Marlin's bit tricks plus one fused multiply-add).
pub const DEQUANT_OPS_PER_WEIGHT: f64 = 2.0;
/// Batch rows one weight-only kernel slice serves before it dequantizes the weights again
/// (Marlin splits larger batches into 64-row problems).
pub const DEQUANT_ROWS: f64 = 64.0;

/// How one GEMM runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GemmMath {
    /// The tensor-core format of the multiply.
    pub dtype: ComputeDtype,
    /// Its dense peak, FLOP/s (INT8: op/s).
    pub peak: f64,
    /// Bytes per weight read from memory.
    pub weight_bytes: f64,
    /// Non-tensor FLOP/s for dequantization when the weights are dequantized in the kernel;
    /// `None` when the multiply reads them as stored.
    pub dequant_flops: Option<f64>,
}

impl GemmMath {
    /// Seconds of tensor and dequantization arithmetic for a `t`-row GEMM of `flops` over
    /// `weights` weights, at efficiency `compute`.
    pub fn compute_seconds(&self, flops: f64, weights: f64, t: f64, compute: f64) -> f64 {
        let tensor = flops / (self.peak * compute);
        let dequant = self.dequant_flops.map_or(0.0, |fp32| {
            DEQUANT_OPS_PER_WEIGHT * weights * (t / DEQUANT_ROWS).ceil() / (fp32 * compute)
        });
        tensor + dequant
    }
}

/// A format the GPU (or the engine on it) cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{format} weights cannot run on {gpu} under {engine}: {reason}")]
pub struct Unsupported {
    /// The weights' format.
    pub format: WeightDtype,
    /// The GPU's catalog name.
    pub gpu: String,
    /// The engine.
    pub engine: EngineKind,
    /// Why, and what to do instead.
    pub reason: String,
}

/// How `role`'s GEMMs run for `model` under `p` on `gpu` with `engine`.
pub fn gemm_math(
    model: &Model,
    gpu: &GpuSpec,
    engine: EngineKind,
    p: &Precision,
    role: Role,
) -> Result<GemmMath, Unsupported> {
    let format = p.format_of(role);
    let weight_bytes = p.bytes_per_param(model, role);
    let sixteen = GemmMath {
        dtype: if format == WeightDtype::Fp16 {
            ComputeDtype::Fp16
        } else {
            ComputeDtype::Bf16
        },
        peak: gpu.peak.bf16,
        weight_bytes,
        dequant_flops: None,
    };
    if format.is_16_bit() {
        return Ok(sixteen);
    }
    let refuse = |reason: String| Unsupported {
        format,
        gpu: gpu.name.clone(),
        engine,
        reason,
    };
    if engine == EngineKind::LlamaCpp && !matches!(format, WeightDtype::Gguf(_)) {
        return Err(refuse(
            "llama.cpp runs GGUF files; give a GGUF type (q4_k_m, q8_0, …) or 16-bit weights"
                .into(),
        ));
    }
    let weight_only = GemmMath {
        dequant_flops: Some(gpu.peak.fp32),
        ..sixteen
    };
    let act = if format == p.format {
        p.activations
    } else {
        ActQuant::None
    };
    let native = |dtype: ComputeDtype, peak: f64| GemmMath {
        dtype,
        peak,
        weight_bytes,
        dequant_flops: None,
    };
    match act {
        ActQuant::None => Ok(weight_only),
        ActQuant::Fp8 => match gpu.peak.fp8 {
            Some(peak) => Ok(native(ComputeDtype::Fp8, peak)),
            None if gpu.peak.has_bf16 && engine != EngineKind::Trtllm => Ok(weight_only),
            None => Err(refuse(format!(
                "no FP8 tensor cores and no weight-only FP8 kernel here ({} needs Ada, Hopper or newer{})",
                engine,
                if engine == EngineKind::Trtllm { "" } else { "; vLLM and SGLang fall back to FP8 Marlin on Ampere" }
            ))),
        },
        ActQuant::Int8 => match gpu.peak.int8 {
            Some(peak) => Ok(native(ComputeDtype::Int8, peak)),
            None => Err(refuse(
                "no INT8 tensor cores (W8A8 INT8 needs Turing or newer); use a 16-bit or weight-only checkpoint"
                    .into(),
            )),
        },
        ActQuant::Fp4 => match gpu.peak.fp4 {
            Some(peak) => Ok(native(ComputeDtype::Fp4, peak)),
            None if engine.is_vllm() && gpu.peak.has_bf16 => Ok(weight_only),
            None => Err(refuse(format!(
                "NVFP4 (W4A4) needs FP4 tensor cores (Blackwell: B200, RTX 5090, RTX PRO 6000); {} has none{}",
                gpu.name,
                if gpu.peak.has_bf16 {
                    ". vLLM would run it weight-only through its FP4 Marlin kernel: use --engine vllm, or an FP8/INT4 checkpoint"
                } else {
                    ""
                }
            ))),
        },
    }
}

/// The math attention's matmuls run in: FP8 when both caches are FP8, the GPU has FP8 and
/// the engine runs FP8 attention on an FP8 cache (vLLM's FlashAttention-3 backend quantizes
/// the query to FP8 when `kv_cache_dtype=fp8`, `v1/attention/backends/flash_attn.py`;
/// TensorRT-LLM's FP8 context FMHA), else 16-bit.
pub fn attention_peak(gpu: &GpuSpec, engine: EngineKind, k: CacheDtype, v: CacheDtype) -> f64 {
    let fp8 = |d: CacheDtype| matches!(d, CacheDtype::Fp8E4m3 | CacheDtype::Fp8E5m2);
    let runs_fp8 = matches!(engine, EngineKind::Vllm | EngineKind::Trtllm);
    match gpu.peak.fp8 {
        Some(peak) if runs_fp8 && fp8(k) && fp8(v) => peak,
        _ => gpu.peak.bf16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::catalog::tests::builtin_model;

    fn math(gpu: &str, engine: EngineKind, dtype: &str) -> Result<GemmMath, Unsupported> {
        let m = builtin_model("llama-3.1-8b");
        let g = Catalog::builtin().gpu(gpu).unwrap();
        let p = Precision::uniform(dtype.parse().unwrap());
        gemm_math(&m, &g, engine, &p, Role::DenseMlp)
    }

    #[test]
    fn each_format_runs_at_its_own_peak() {
        let v = EngineKind::Vllm;
        let fp8 = math("h100-sxm", v, "fp8").unwrap();
        assert_eq!((fp8.dtype, fp8.peak), (ComputeDtype::Fp8, 1978.9e12));
        assert_eq!(fp8.weight_bytes, 1.0);
        let int8 = math("h100-sxm", v, "int8").unwrap();
        assert_eq!(int8.dtype, ComputeDtype::Int8);
        // Weight-only int4: 16-bit math, 4-bit bytes, dequantized in the kernel.
        let awq = math("h100-sxm", v, "int4").unwrap();
        assert_eq!((awq.dtype, awq.peak), (ComputeDtype::Bf16, 989.4e12));
        assert!(awq.dequant_flops.is_some() && awq.weight_bytes < 0.6);
        // FP8 on an A100 (no FP8 units): vLLM's weight-only Marlin path.
        let a100 = math("a100-80gb", v, "fp8").unwrap();
        assert_eq!(a100.dtype, ComputeDtype::Bf16);
        assert!(a100.dequant_flops.is_some());
        // NVFP4 at the FP4 peak on a B200.
        let b200 = math("b200", v, "nvfp4").unwrap();
        assert_eq!((b200.dtype, b200.peak), (ComputeDtype::Fp4, 9000e12));
    }

    #[test]
    fn formats_a_gpu_cannot_run_are_refused_with_the_reason() {
        let e = math("h100-sxm", EngineKind::Trtllm, "nvfp4").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("FP4 tensor cores") && text.contains("h100-sxm"),
            "{text}"
        );
        // vLLM runs it weight-only instead.
        let vllm = math("h100-sxm", EngineKind::Vllm, "nvfp4").unwrap();
        assert_eq!(vllm.dtype, ComputeDtype::Bf16);
        let gguf = math("h100-sxm", EngineKind::LlamaCpp, "fp8").unwrap_err();
        assert!(gguf.reason.contains("GGUF"), "{gguf}");
        assert!(math("h100-sxm", EngineKind::LlamaCpp, "q4_k_m").is_ok());
    }

    #[test]
    fn dequantization_shows_only_in_large_batches() {
        let awq = math("h100-sxm", EngineKind::Vllm, "int4").unwrap();
        let (n, k) = (14336.0, 4096.0);
        let one = awq.compute_seconds(2.0 * n * k, n * k, 1.0, 1.0);
        let bf16_one = 2.0 * n * k / 989.4e12;
        // One row: dequantization (a slice's worth) dominates the arithmetic, but stays far
        // below the 4-bit weight read (~3.3e-5 s at 3.35 TB/s): the step is memory-bound.
        assert!(one > bf16_one && one < 1e-5, "{one}");
        let big = awq.compute_seconds(2.0 * 8192.0 * n * k, n * k, 8192.0, 1.0);
        let bf16_big = 2.0 * 8192.0 * n * k / 989.4e12;
        assert!(
            big / bf16_big > 1.05 && big / bf16_big < 1.5,
            "{}",
            big / bf16_big
        );
    }
}
