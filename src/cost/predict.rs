//! The cost model's view of `planner bench` primitives: for each measured case, the ideal
//! compute and memory times on a catalog GPU's datasheet peaks, so calibration and
//! validation can compare them with the measurement.

use super::Sample;
use crate::hardware::GpuSpec;

/// The cost-model class a bench measurement belongs to (efficiencies are fitted per class),
/// and its ideal times. `None` for a failed measurement (`ok` false) or an unknown primitive.
///
/// Peaks: GEMM runs on bf16 tensor cores; the bench's attention kernels run on CUDA cores
/// (FFMA), so they use the FP32 peak; stream, paged decode and quantize are priced by bytes.
pub fn bench_sample(
    primitive: &str,
    variant: &str,
    flops: f64,
    bytes: f64,
    time_us: f64,
    ok: bool,
    gpu: &GpuSpec,
) -> Option<(String, Sample)> {
    if !ok || time_us.is_nan() || time_us <= 0.0 {
        return None;
    }
    let bw = gpu.hbm_bytes_per_s;
    let (class, peak) = match primitive {
        "stream" => ("stream".to_string(), 0.0),
        // Each GEMM class against its own format's peak (FP8 and INT8 where the GPU has
        // them; a measurement of a format the GPU lacks cannot exist).
        "gemm" => {
            let peak = match variant {
                "fp8" => gpu.peak.fp8.unwrap_or(gpu.peak.bf16),
                "int8" => gpu.peak.int8.unwrap_or(gpu.peak.bf16),
                _ => gpu.peak.bf16,
            };
            (format!("gemm/{variant}"), peak)
        }
        "attention" => (format!("attention/{variant}"), gpu.peak.fp32),
        "paged_decode" => (format!("paged_decode/{variant}"), gpu.peak.fp32),
        "kv_quantize" => (format!("kv_quantize/{variant}"), 0.0),
        _ => return None,
    };
    let compute_s = if peak > 0.0 { flops / peak } else { 0.0 };
    Some((
        class,
        Sample {
            compute_s,
            memory_s: bytes / bw,
            measured_s: time_us * 1e-6,
        },
    ))
}
