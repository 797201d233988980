//! The roofline: an op is limited either by arithmetic or by memory traffic.

use super::Efficiency;

/// Seconds for an op of `flops` and `bytes` on a device with `peak_flops` (FLOP/s) and
/// `bandwidth` (bytes/s):
/// `max(flops / (peak × eff.compute), bytes / (bandwidth × eff.memory)) + eff.overhead_s`.
pub fn op_time(flops: f64, bytes: f64, peak_flops: f64, bandwidth: f64, eff: &Efficiency) -> f64 {
    let compute = if flops > 0.0 {
        flops / (peak_flops * eff.compute)
    } else {
        0.0
    };
    let memory = if bytes > 0.0 {
        bytes / (bandwidth * eff.memory)
    } else {
        0.0
    };
    compute.max(memory) + eff.overhead_s
}

/// FLOPs and bytes of `C[m×n] = A[m×k]·B[k×n]` with `e`-byte elements, each operand read
/// once and the result written once.
pub fn gemm(m: f64, n: f64, k: f64, e: f64) -> (f64, f64) {
    (2.0 * m * n * k, e * (m * k + k * n + m * n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compute_or_memory_bound() {
        let ideal = Efficiency::default();
        // 8192³ bf16 GEMM on 989 TFLOP/s, 3.35 TB/s: compute-bound, 1.11 ms.
        let (f, b) = gemm(8192.0, 8192.0, 8192.0, 2.0);
        let t = op_time(f, b, 989e12, 3.35e12, &ideal);
        assert!((t - f / 989e12).abs() < 1e-12 && (t * 1e3 - 1.1117).abs() < 1e-3);
        // m = 1: memory-bound, the weight read dominates.
        let (f, b) = gemm(1.0, 4096.0, 4096.0, 2.0);
        assert!((op_time(f, b, 989e12, 3.35e12, &ideal) - b / 3.35e12).abs() < 1e-15);
        let slow = Efficiency {
            compute: 0.5,
            memory: 0.5,
            overhead_s: 1e-6,
        };
        assert!((op_time(f, b, 989e12, 3.35e12, &slow) - (2.0 * b / 3.35e12 + 1e-6)).abs() < 1e-15);
    }
}
