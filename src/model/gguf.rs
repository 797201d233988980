//! llama.cpp's weight types: the ggml block types and the file types (`llama-quantize`'s
//! names, such as `Q4_K_M`) that mix them per tensor.
//!
//! Block sizes: `ggml/src/ggml-common.h` (the `block_*` structs and their static asserts).
//! Mixtures: `src/llama-quant.cpp`, `llama_tensor_get_type` (llama.cpp, 2025): the output
//! matrix takes Q6_K (Q8_0 in a Q8_0 file); in the `_M` mixes `attn_v` and `ffn_down` take
//! more bits in the layers `use_more_bits` picks (the first and last eighth, and every third
//! in between); models with 8 experts keep `attn_k`/`attn_v` at Q8_0. Checked against the
//! published whole-file bits per weight of Llama-3.1-8B (`tools/quantize/README.md`).

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// A ggml block type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[allow(non_camel_case_types)]
pub enum GgmlType {
    /// 16-bit float.
    F16,
    /// 32 × int8 + an f16 scale: 34 bytes per 32.
    Q8_0,
    /// 256 values in 210 bytes.
    Q6_K,
    /// 256 values in 176 bytes.
    Q5_K,
    /// 32 values in 24 bytes.
    Q5_1,
    /// 32 values in 22 bytes.
    Q5_0,
    /// 256 values in 144 bytes.
    Q4_K,
    /// 32 values in 20 bytes.
    Q4_1,
    /// 32 values in 18 bytes.
    Q4_0,
    /// 256 values in 110 bytes.
    Q3_K,
    /// 256 values in 84 bytes.
    Q2_K,
    /// 256 values in 136 bytes.
    IQ4_XS,
    /// 32 values in 18 bytes.
    IQ4_NL,
    /// 256 values in 110 bytes.
    IQ3_S,
    /// 256 values in 98 bytes.
    IQ3_XXS,
    /// 256 values in 82 bytes.
    IQ2_S,
    /// 256 values in 74 bytes.
    IQ2_XS,
    /// 256 values in 66 bytes.
    IQ2_XXS,
}

impl GgmlType {
    /// Bits per weight: 8 · bytes per block / values per block.
    pub fn bits_per_weight(self) -> f64 {
        let (bytes, values) = match self {
            GgmlType::F16 => (2.0, 1.0),
            GgmlType::Q8_0 => (34.0, 32.0),
            GgmlType::Q6_K => (210.0, 256.0),
            GgmlType::Q5_K => (176.0, 256.0),
            GgmlType::Q5_1 => (24.0, 32.0),
            GgmlType::Q5_0 => (22.0, 32.0),
            GgmlType::Q4_K => (144.0, 256.0),
            GgmlType::Q4_1 => (20.0, 32.0),
            GgmlType::Q4_0 => (18.0, 32.0),
            GgmlType::Q3_K => (110.0, 256.0),
            GgmlType::Q2_K => (84.0, 256.0),
            GgmlType::IQ4_XS => (136.0, 256.0),
            GgmlType::IQ4_NL => (18.0, 32.0),
            GgmlType::IQ3_S => (110.0, 256.0),
            GgmlType::IQ3_XXS => (98.0, 256.0),
            GgmlType::IQ2_S => (82.0, 256.0),
            GgmlType::IQ2_XS => (74.0, 256.0),
            GgmlType::IQ2_XXS => (66.0, 256.0),
        };
        8.0 * bytes / values
    }
}

/// A llama.cpp file type: one block type for (nearly) every tensor, or a mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[allow(non_camel_case_types)]
pub enum GgufFtype {
    /// F16 throughout.
    F16,
    /// Q8_0 throughout.
    Q8_0,
    /// Q6_K throughout.
    Q6_K,
    /// Q5_K, with Q6_K for half of attn_v and ffn_down.
    Q5_K_M,
    /// Q5_K throughout.
    Q5_K_S,
    /// Q4_K, with Q6_K for half of attn_v and ffn_down.
    Q4_K_M,
    /// Q4_K throughout.
    Q4_K_S,
    /// Q3_K, with Q4_K/Q5_K for attn_v, ffn_down and attn_output.
    Q3_K_M,
    /// Q3_K throughout.
    Q3_K_S,
    /// Q2_K, with Q3_K for ffn_down and attn_output.
    Q2_K,
    /// Q5_1 throughout.
    Q5_1,
    /// Q5_0 throughout.
    Q5_0,
    /// Q4_1 throughout.
    Q4_1,
    /// Q4_0 throughout.
    Q4_0,
    /// IQ4_XS throughout.
    IQ4_XS,
    /// IQ4_NL throughout.
    IQ4_NL,
    /// IQ3_S throughout (IQ3_S and IQ3_XS names).
    IQ3_S,
    /// IQ3_XXS throughout.
    IQ3_XXS,
    /// IQ2_XXS throughout.
    IQ2_XXS,
}

/// The tensors a mix treats differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tensor {
    /// token_embd.
    Embedding,
    /// output (the lm_head).
    Output,
    /// attn_q.
    AttnQ,
    /// attn_k.
    AttnK,
    /// attn_v.
    AttnV,
    /// attn_output.
    AttnOutput,
    /// ffn_gate / ffn_up (dense or experts).
    FfnUp,
    /// ffn_down (dense or experts).
    FfnDown,
}

impl GgufFtype {
    /// Every file type and its name, as `llama-quantize` writes them.
    pub const ALL: [(&'static str, GgufFtype); 19] = [
        ("f16", GgufFtype::F16),
        ("q8_0", GgufFtype::Q8_0),
        ("q6_k", GgufFtype::Q6_K),
        ("q5_k_m", GgufFtype::Q5_K_M),
        ("q5_k_s", GgufFtype::Q5_K_S),
        ("q4_k_m", GgufFtype::Q4_K_M),
        ("q4_k_s", GgufFtype::Q4_K_S),
        ("q3_k_m", GgufFtype::Q3_K_M),
        ("q3_k_s", GgufFtype::Q3_K_S),
        ("q2_k", GgufFtype::Q2_K),
        ("q5_1", GgufFtype::Q5_1),
        ("q5_0", GgufFtype::Q5_0),
        ("q4_1", GgufFtype::Q4_1),
        ("q4_0", GgufFtype::Q4_0),
        ("iq4_xs", GgufFtype::IQ4_XS),
        ("iq4_nl", GgufFtype::IQ4_NL),
        ("iq3_s", GgufFtype::IQ3_S),
        ("iq3_xxs", GgufFtype::IQ3_XXS),
        ("iq2_xxs", GgufFtype::IQ2_XXS),
    ];

    /// The base block type.
    fn base(self) -> GgmlType {
        match self {
            GgufFtype::F16 => GgmlType::F16,
            GgufFtype::Q8_0 => GgmlType::Q8_0,
            GgufFtype::Q6_K => GgmlType::Q6_K,
            GgufFtype::Q5_K_M | GgufFtype::Q5_K_S => GgmlType::Q5_K,
            GgufFtype::Q4_K_M | GgufFtype::Q4_K_S => GgmlType::Q4_K,
            GgufFtype::Q3_K_M | GgufFtype::Q3_K_S => GgmlType::Q3_K,
            GgufFtype::Q2_K => GgmlType::Q2_K,
            GgufFtype::Q5_1 => GgmlType::Q5_1,
            GgufFtype::Q5_0 => GgmlType::Q5_0,
            GgufFtype::Q4_1 => GgmlType::Q4_1,
            GgufFtype::Q4_0 => GgmlType::Q4_0,
            GgufFtype::IQ4_XS => GgmlType::IQ4_XS,
            GgufFtype::IQ4_NL => GgmlType::IQ4_NL,
            GgufFtype::IQ3_S => GgmlType::IQ3_S,
            GgufFtype::IQ3_XXS => GgmlType::IQ3_XXS,
            GgufFtype::IQ2_XXS => GgmlType::IQ2_XXS,
        }
    }

    /// The block type of `tensor` in layer `i` of `n` (`experts`: routed experts per layer;
    /// `tied`: the output shares the embedding matrix).
    pub fn tensor_type(self, tensor: Tensor, i: usize, n: usize, experts: u64) -> GgmlType {
        use GgmlType as G;
        let base = self.base();
        let more_bits = i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
        match (self, tensor) {
            (GgufFtype::F16, _) => G::F16,
            (GgufFtype::Q8_0, _) => G::Q8_0,
            (_, Tensor::Output) => G::Q6_K,
            (_, Tensor::AttnK | Tensor::AttnV) if experts == 8 => G::Q8_0,
            (GgufFtype::Q4_K_M, Tensor::AttnV | Tensor::FfnDown) if more_bits => G::Q6_K,
            (GgufFtype::Q5_K_M, Tensor::AttnV | Tensor::FfnDown) if more_bits => G::Q6_K,
            (GgufFtype::Q4_K_M, Tensor::AttnOutput) if experts == 8 => G::Q5_K,
            (GgufFtype::Q3_K_M, Tensor::AttnV) if i < 2 => G::Q5_K,
            (GgufFtype::Q3_K_M, Tensor::AttnV | Tensor::AttnOutput) => G::Q4_K,
            (GgufFtype::Q3_K_M, Tensor::FfnDown) if i < n / 16 => G::Q5_K,
            (GgufFtype::Q3_K_M, Tensor::FfnDown) => G::Q4_K,
            (GgufFtype::Q2_K, Tensor::FfnDown | Tensor::AttnOutput) => G::Q3_K,
            _ => base,
        }
    }
}

impl FromStr for GgufFtype {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let lower = s.to_ascii_lowercase();
        let lower = if lower == "iq3_xs" {
            "iq3_s".to_string()
        } else {
            lower
        };
        GgufFtype::ALL
            .iter()
            .find(|(name, _)| *name == lower)
            .map(|&(_, f)| f)
            .ok_or(())
    }
}

impl fmt::Display for GgufFtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = GgufFtype::ALL
            .iter()
            .find(|(_, x)| x == self)
            .map_or("?", |(n, _)| n);
        f.write_str(&name.to_ascii_uppercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_types_have_the_published_bits_per_weight() {
        assert_eq!(GgmlType::Q4_0.bits_per_weight(), 4.5);
        assert_eq!(GgmlType::Q8_0.bits_per_weight(), 8.5);
        assert_eq!(GgmlType::Q4_K.bits_per_weight(), 4.5);
        assert_eq!(GgmlType::Q6_K.bits_per_weight(), 6.5625);
        assert_eq!(GgmlType::IQ4_XS.bits_per_weight(), 4.25);
        assert_eq!(GgmlType::Q2_K.bits_per_weight(), 2.625);
    }

    #[test]
    fn names_parse_and_print() {
        for (name, f) in GgufFtype::ALL {
            assert_eq!(name.parse::<GgufFtype>(), Ok(f));
            assert_eq!(f.to_string().to_ascii_lowercase(), name);
        }
        assert_eq!("Q4_K_M".parse::<GgufFtype>(), Ok(GgufFtype::Q4_K_M));
        assert_eq!("IQ3_XS".parse::<GgufFtype>(), Ok(GgufFtype::IQ3_S));
        assert!("q4_k_x".parse::<GgufFtype>().is_err());
    }

    #[test]
    fn mixes_give_more_bits_where_llama_cpp_does() {
        let t = |f: GgufFtype, x, i| f.tensor_type(x, i, 32, 0);
        assert_eq!(t(GgufFtype::Q4_K_M, Tensor::Output, 0), GgmlType::Q6_K);
        assert_eq!(t(GgufFtype::Q4_K_M, Tensor::AttnV, 0), GgmlType::Q6_K);
        assert_eq!(t(GgufFtype::Q4_K_M, Tensor::AttnV, 5), GgmlType::Q4_K);
        assert_eq!(t(GgufFtype::Q4_K_M, Tensor::AttnV, 6), GgmlType::Q6_K); // (6−4)%3 == 2
        assert_eq!(t(GgufFtype::Q4_K_M, Tensor::AttnQ, 0), GgmlType::Q4_K);
        assert_eq!(t(GgufFtype::Q8_0, Tensor::Output, 0), GgmlType::Q8_0);
        assert_eq!(
            GgufFtype::Q4_K_M.tensor_type(Tensor::AttnK, 3, 32, 8),
            GgmlType::Q8_0
        );
    }
}
