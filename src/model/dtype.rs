//! [`WeightDtype`]: how the weights are stored, and what that costs per parameter.

use super::ModelError;
use super::gguf::GgufFtype;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Default group size of `int4` (GPTQ and AWQ checkpoints mostly use 128).
const DEFAULT_INT4_GROUP: u32 = 128;

/// Bytes of one f16 quantization scale.
const SCALE_BYTES: f64 = 2.0;

/// Storage format of the weights. Parses from (and prints as) `bf16`, `fp16`, `fp8`, `int8`,
/// `int4` (group 128), `int4-g<group>` such as `int4-g64`, `nvfp4`, `mxfp4`, `nf4`, and
/// llama.cpp's file types (`q4_k_m`, `q8_0`, `iq4_xs`, …); also accepts `bfloat16` and
/// `float16`, as config.json writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum WeightDtype {
    /// bfloat16: 2 bytes.
    Bf16,
    /// IEEE half: 2 bytes.
    Fp16,
    /// 8-bit float (e4m3): 1 byte; per-tensor or per-block scales are ignored.
    Fp8,
    /// 8-bit integer: 1 byte; per-channel scales are ignored.
    Int8,
    /// 4-bit integer with one f16 scale per `group` weights (GPTQ/AWQ style).
    Int4 {
        /// Weights sharing one scale.
        group: u32,
    },
    /// NVIDIA's FP4 (E2M1) with an FP8 scale per 16 values: 4.5 bits (ModelOpt NVFP4).
    Nvfp4,
    /// OCP microscaling FP4 with an E8M0 scale per 32 values: 4.25 bits (gpt-oss).
    Mxfp4,
    /// bitsandbytes 4-bit NormalFloat, double-quantized: a byte scale per 64 values and an fp32
    /// per 256 of those: 4.127 bits.
    Nf4,
    /// A llama.cpp (GGUF) file type, mixed per tensor ([`GgufFtype::tensor_type`]).
    Gguf(GgufFtype),
}

impl WeightDtype {
    /// Bytes per parameter: 2 for bf16/fp16, 1 for fp8/int8, and for int4 with group `g`
    /// `0.5 + 2 / g` (half a byte plus an f16 scale per group; zero points not counted).
    /// The other formats carry their scales (see each variant); a GGUF mix gives its base
    /// type's (the mix is applied per tensor by [`super::Precision`]).
    pub fn bytes_per_param(self) -> f64 {
        match self {
            WeightDtype::Bf16 | WeightDtype::Fp16 => 2.0,
            WeightDtype::Fp8 | WeightDtype::Int8 => 1.0,
            WeightDtype::Int4 { group } => 0.5 + SCALE_BYTES / f64::from(group),
            WeightDtype::Nvfp4 => 4.5 / 8.0,
            WeightDtype::Mxfp4 => 4.25 / 8.0,
            WeightDtype::Nf4 => (4.0 + 8.0 / 64.0 + 32.0 / (64.0 * 256.0)) / 8.0,
            WeightDtype::Gguf(f) => {
                f.tensor_type(super::gguf::Tensor::AttnQ, 1, 2, 0)
                    .bits_per_weight()
                    / 8.0
            }
        }
    }

    /// Whether the format is 16-bit (unquantized).
    pub fn is_16_bit(self) -> bool {
        matches!(self, WeightDtype::Bf16 | WeightDtype::Fp16)
    }
}

impl FromStr for WeightDtype {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let unknown = || ModelError::UnknownDtype {
            given: s.to_string(),
        };
        match lower.as_str() {
            "bf16" | "bfloat16" => Ok(WeightDtype::Bf16),
            "fp16" | "f16" | "float16" => Ok(WeightDtype::Fp16),
            "fp8" => Ok(WeightDtype::Fp8),
            "int8" => Ok(WeightDtype::Int8),
            "nvfp4" => Ok(WeightDtype::Nvfp4),
            "mxfp4" => Ok(WeightDtype::Mxfp4),
            "nf4" => Ok(WeightDtype::Nf4),
            "int4" => Ok(WeightDtype::Int4 {
                group: DEFAULT_INT4_GROUP,
            }),
            _ if lower.parse::<GgufFtype>().is_ok() => {
                Ok(WeightDtype::Gguf(lower.parse().map_err(|_| unknown())?))
            }
            _ => {
                let group = lower.strip_prefix("int4-g").ok_or_else(unknown)?;
                match group.parse::<u32>() {
                    Ok(group) if group > 0 => Ok(WeightDtype::Int4 { group }),
                    _ => Err(unknown()),
                }
            }
        }
    }
}

impl fmt::Display for WeightDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightDtype::Bf16 => f.write_str("bf16"),
            WeightDtype::Fp16 => f.write_str("fp16"),
            WeightDtype::Fp8 => f.write_str("fp8"),
            WeightDtype::Int8 => f.write_str("int8"),
            WeightDtype::Int4 {
                group: DEFAULT_INT4_GROUP,
            } => f.write_str("int4"),
            WeightDtype::Int4 { group } => write!(f, "int4-g{group}"),
            WeightDtype::Nvfp4 => f.write_str("nvfp4"),
            WeightDtype::Mxfp4 => f.write_str("mxfp4"),
            WeightDtype::Nf4 => f.write_str("nf4"),
            WeightDtype::Gguf(g) => write!(f, "{}", g.to_string().to_ascii_lowercase()),
        }
    }
}

impl TryFrom<String> for WeightDtype {
    type Error = ModelError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<WeightDtype> for String {
    fn from(dtype: WeightDtype) -> String {
        dtype.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_groups() {
        assert_eq!("bf16".parse::<WeightDtype>().unwrap(), WeightDtype::Bf16);
        assert_eq!(
            "BFloat16".parse::<WeightDtype>().unwrap(),
            WeightDtype::Bf16
        );
        assert_eq!("fp16".parse::<WeightDtype>().unwrap(), WeightDtype::Fp16);
        assert_eq!("fp8".parse::<WeightDtype>().unwrap(), WeightDtype::Fp8);
        assert_eq!("int8".parse::<WeightDtype>().unwrap(), WeightDtype::Int8);
        assert_eq!(
            "int4".parse::<WeightDtype>().unwrap(),
            WeightDtype::Int4 { group: 128 }
        );
        assert_eq!(
            "int4-g64".parse::<WeightDtype>().unwrap(),
            WeightDtype::Int4 { group: 64 }
        );
        for bad in ["int4-g0", "int4-g", "int3", "fp4", "q4_k_x", ""] {
            let err = bad.parse::<WeightDtype>().unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("unknown weight dtype `{bad}`")),
                "{err}"
            );
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "bf16", "fp16", "fp8", "int8", "int4", "int4-g32", "nvfp4", "mxfp4", "nf4", "q4_k_m",
            "q8_0", "iq4_xs",
        ] {
            assert_eq!(s.parse::<WeightDtype>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn bytes_per_param() {
        assert_eq!(WeightDtype::Bf16.bytes_per_param(), 2.0);
        assert_eq!(WeightDtype::Fp8.bytes_per_param(), 1.0);
        assert_eq!(WeightDtype::Int8.bytes_per_param(), 1.0);
        assert_eq!(
            WeightDtype::Int4 { group: 128 }.bytes_per_param(),
            0.5 + 2.0 / 128.0
        );
        assert_eq!(WeightDtype::Int4 { group: 64 }.bytes_per_param(), 0.53125);
    }

    #[test]
    fn deserializes_from_a_string() {
        #[derive(Deserialize)]
        struct S {
            weights: WeightDtype,
        }
        let s: S = toml::from_str(r#"weights = "int4-g64""#).unwrap();
        assert_eq!(s.weights, WeightDtype::Int4 { group: 64 });
        assert!(toml::from_str::<S>(r#"weights = "int2""#).is_err());
    }
}
