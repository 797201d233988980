//! Attention's device-memory traffic: standard (unfused) vs tiled (FlashAttention).
//!
//! Standard attention writes the N×N score matrix S and probabilities P to HBM:
//! Θ(N·d + N²) bytes, O(N²) extra memory. FlashAttention (Dao et al., 2022, Algorithm 1 and
//! Theorem 2) tiles Q into blocks of `Br` rows and K, V into blocks of `Bc` rows sized to the
//! on-chip SRAM of `M` elements, `Bc = ⌈M / 4d⌉`, `Br = min(Bc, d)`, and streams K and V once
//! per query block: Θ(N²·d²/M) bytes, O(N) extra memory.

/// Prefill attention kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttentionKernel {
    /// Tiled, fused (FlashAttention IO model).
    Flash,
    /// Unfused: N×N scores through HBM.
    Standard,
}

/// FlashAttention's tile sizes `(Br, Bc)` for head dim `d` and `sram_bytes` of on-chip
/// memory holding `elem_bytes`-byte elements.
pub fn flash_tiles(sram_bytes: f64, d: f64, elem_bytes: f64) -> (f64, f64) {
    let m = sram_bytes / elem_bytes;
    let bc = (m / (4.0 * d)).ceil();
    (bc.min(d), bc)
}

/// HBM bytes of tiled attention for one head: Q read and O written once, K and V read once
/// per block of `br` query rows: `2·N·d·e + 2·N·d·e·⌈N/Br⌉`.
pub fn flash_bytes(n: f64, d: f64, e: f64, br: f64) -> f64 {
    2.0 * n * d * e + 2.0 * n * d * e * (n / br).ceil()
}

/// HBM bytes of standard attention for one head, Q/K/V/O of `e` bytes and S/P of `s` bytes:
/// Q, K, V read and O written (`4·N·d·e`); S written, read twice by a two-pass softmax, P
/// written, then read by P·V (`5·N²·s`).
pub fn standard_bytes(n: f64, d: f64, e: f64, s: f64) -> f64 {
    4.0 * n * d * e + 5.0 * n * n * s
}

/// FLOPs of attention for one head over N queries and N keys: QKᵀ and P·V, `4·N²·d`.
pub fn flops(n: f64, d: f64) -> f64 {
    4.0 * n * n * d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_from_sram() {
        // H100: 228 KiB of shared memory per SM, f16 elements, d = 128:
        // M = 116,736 elements, Bc = ⌈M / 512⌉ = 228, Br = min(228, 128) = 128.
        assert_eq!(flash_tiles(228.0 * 1024.0, 128.0, 2.0), (128.0, 228.0));
        // A small SRAM: Br is limited by Bc, not d.
        assert_eq!(flash_tiles(16.0 * 1024.0, 128.0, 4.0), (8.0, 8.0));
    }

    #[test]
    fn tiled_beats_standard_and_scales_as_the_paper_says() {
        let (n, d) = (16384.0, 128.0);
        let tiled = flash_bytes(n, d, 2.0, 128.0);
        let std = standard_bytes(n, d, 2.0, 4.0);
        assert!(tiled * 4.0 < std, "{tiled} vs {std}");
        // Doubling SRAM (doubling Br) roughly halves the K/V re-reads: Θ(N²d²/M).
        let half = flash_bytes(n, d, 2.0, 256.0);
        assert!((tiled / half - 2.0).abs() < 0.02, "{}", tiled / half);
    }
}
