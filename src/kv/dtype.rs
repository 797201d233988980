//! KV-cache element types, as llama.cpp's `--cache-type-k/-v` and vLLM's `kv_cache_dtype`
//! name them, with their exact storage sizes.
//!
//! GGML block formats store 32 values with their scales (ggml-common.h):
//!
//! | type | block bytes | layout |
//! |---|---|---|
//! | q8_0 | 34 | f16 d + 32 × i8 |
//! | q5_1 | 24 | f16 d + f16 m + 32 high bits (u32) + 16 bytes of nibbles |
//! | q5_0 | 22 | f16 d + 32 high bits (u32) + 16 bytes of nibbles |
//! | q4_1 | 20 | f16 d + f16 m + 16 bytes of nibbles |
//! | q4_0 | 18 | f16 d + 16 bytes of nibbles |
//!
//! fp8 (vLLM's `fp8`, `fp8_e4m3`, `fp8_e5m2`) is one byte per value; its per-tensor scale is
//! a few bytes per layer and is not counted.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One KV-cache element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CacheDtype {
    /// 32-bit float.
    F32,
    /// IEEE half (llama.cpp's default, vLLM `auto` for fp16 models).
    F16,
    /// bfloat16 (vLLM `auto` for bf16 models).
    Bf16,
    /// 8-bit float, e4m3.
    Fp8E4m3,
    /// 8-bit float, e5m2.
    Fp8E5m2,
    /// GGML q8_0.
    Q8_0,
    /// GGML q5_1.
    Q5_1,
    /// GGML q5_0.
    Q5_0,
    /// GGML q4_1.
    Q4_1,
    /// GGML q4_0.
    Q4_0,
}

/// Every cache type, in the order tables list them.
pub const ALL: [CacheDtype; 10] = [
    CacheDtype::F32,
    CacheDtype::F16,
    CacheDtype::Bf16,
    CacheDtype::Fp8E4m3,
    CacheDtype::Fp8E5m2,
    CacheDtype::Q8_0,
    CacheDtype::Q5_1,
    CacheDtype::Q5_0,
    CacheDtype::Q4_1,
    CacheDtype::Q4_0,
];

impl CacheDtype {
    /// Whether llama.cpp's `--cache-type-k/-v` takes it (common/arg.cpp `kv_cache_types`:
    /// f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1; no fp8).
    pub const fn in_llama_cpp(self) -> bool {
        !matches!(self, CacheDtype::Fp8E4m3 | CacheDtype::Fp8E5m2)
    }

    /// (bytes, values) of one storage block: 32 values for GGML types, 1 otherwise.
    pub const fn block(self) -> (u64, u64) {
        match self {
            CacheDtype::F32 => (4, 1),
            CacheDtype::F16 | CacheDtype::Bf16 => (2, 1),
            CacheDtype::Fp8E4m3 | CacheDtype::Fp8E5m2 => (1, 1),
            CacheDtype::Q8_0 => (34, 32),
            CacheDtype::Q5_1 => (24, 32),
            CacheDtype::Q5_0 => (22, 32),
            CacheDtype::Q4_1 => (20, 32),
            CacheDtype::Q4_0 => (18, 32),
        }
    }

    /// Average bytes per value (e.g. 1.0625 for q8_0).
    pub fn bytes_per_value(self) -> f64 {
        let (b, v) = self.block();
        b as f64 / v as f64
    }

    /// Exact bytes of a row of `n` values (ggml_row_size), or an error when `n` is not a
    /// whole number of blocks (llama.cpp refuses such a cache type for that model).
    pub fn row_bytes(self, n: u64) -> Result<u64, String> {
        let (b, v) = self.block();
        if !n.is_multiple_of(v) {
            return Err(format!(
                "{self} stores values in blocks of {v}, but a row here has {n} values (not a multiple of {v}); use f16, bf16 or fp8"
            ));
        }
        Ok(n / v * b)
    }

    /// Name as llama.cpp / vLLM write it.
    pub const fn name(self) -> &'static str {
        match self {
            CacheDtype::F32 => "f32",
            CacheDtype::F16 => "f16",
            CacheDtype::Bf16 => "bf16",
            CacheDtype::Fp8E4m3 => "fp8",
            CacheDtype::Fp8E5m2 => "fp8_e5m2",
            CacheDtype::Q8_0 => "q8_0",
            CacheDtype::Q5_1 => "q5_1",
            CacheDtype::Q5_0 => "q5_0",
            CacheDtype::Q4_1 => "q4_1",
            CacheDtype::Q4_0 => "q4_0",
        }
    }
}

impl fmt::Display for CacheDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CacheDtype {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "f32" | "fp32" | "float32" => CacheDtype::F32,
            "f16" | "fp16" | "float16" | "half" => CacheDtype::F16,
            "bf16" | "bfloat16" => CacheDtype::Bf16,
            "fp8" | "fp8_e4m3" | "e4m3" => CacheDtype::Fp8E4m3,
            "fp8_e5m2" | "e5m2" => CacheDtype::Fp8E5m2,
            "q8_0" => CacheDtype::Q8_0,
            "q5_1" => CacheDtype::Q5_1,
            "q5_0" => CacheDtype::Q5_0,
            "q4_1" => CacheDtype::Q4_1,
            "q4_0" => CacheDtype::Q4_0,
            other => {
                return Err(format!(
                    "unknown KV cache type `{other}` (known: f32, f16, bf16, fp8, fp8_e4m3, fp8_e5m2, q8_0, q5_1, q5_0, q4_1, q4_0)"
                ));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ggml_block_sizes() {
        // ggml-common.h: sizeof(block_q8_0) = 34, q5_1 = 24, q5_0 = 22, q4_1 = 20, q4_0 = 18.
        assert_eq!(CacheDtype::Q8_0.row_bytes(1024), Ok(1088));
        assert_eq!(CacheDtype::Q5_1.row_bytes(32), Ok(24));
        assert_eq!(CacheDtype::Q5_0.row_bytes(32), Ok(22));
        assert_eq!(CacheDtype::Q4_1.row_bytes(32), Ok(20));
        assert_eq!(CacheDtype::Q4_0.row_bytes(64), Ok(36));
        assert_eq!(CacheDtype::Fp8E5m2.row_bytes(100), Ok(100));
        assert!(CacheDtype::Q4_0.row_bytes(48).is_err());
    }

    #[test]
    fn names_round_trip() {
        for d in ALL {
            assert_eq!(d.name().parse::<CacheDtype>(), Ok(d));
        }
        assert!("q3_k".parse::<CacheDtype>().unwrap_err().contains("known"));
    }
}
