//! Model shape: what a Hugging Face `config.json` says, validated, and what follows from it.
//!
//! ```text
//! models/<name>.toml or config.json ──► RawConfig (serde mirror, config.rs)
//!     ──► Model::from_raw (validation, config.rs) ──► Model
//!           KV layout per layer (this file) · params, weight bytes, FLOPs (params.rs)
//! ```
//!
//! [`crate::catalog::Catalog::model`] is the entry point: a catalog name (`llama-3.1-8b`) or a
//! path; [`load_model_file`] reads a path.
//! Nothing here knows about GPUs, KV dtypes or the simulator; the `kv` and `cost` modules
//! build on [`Model::kv_values_per_token`], [`Model::kv_tokens_held`] and the counts in
//! [`params`].

pub mod config;
pub mod dtype;
pub mod error;
pub mod file;
pub mod gguf;
pub mod params;
pub mod precision;

pub use config::RawConfig;
pub use dtype::WeightDtype;
pub use error::ModelError;
pub use file::load_model_file;
pub use precision::{Precision, Role, Scope};

use serde::Serialize;
use std::path::PathBuf;

/// A validated model: every config.json field the planner uses, resolved (defaults applied,
/// per-layer patterns expanded). Build one with [`crate::catalog::Catalog::model`], [`load_model_file`] or
/// [`Model::from_raw`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Model {
    /// Catalog name (file stem, e.g. `llama-3.1-8b`) or the name derived from a path.
    pub name: String,
    /// The file it was read from (for error messages and reports).
    pub source: PathBuf,
    /// `model_type`, e.g. `llama`, `gpt_neox`, `deepseek_v3`.
    pub model_type: Option<String>,
    /// `architectures`, e.g. `["LlamaForCausalLM"]`; empty when absent.
    pub architectures: Vec<String>,
    /// `torch_dtype` (or the newer `dtype` key) as written, e.g. `bfloat16`.
    pub torch_dtype: Option<String>,
    /// `hidden_size`: the residual-stream width.
    pub hidden_size: u64,
    /// `intermediate_size`: the width of a dense MLP (and of each expert when the config has
    /// no `moe_intermediate_size`, as in Mixtral).
    pub intermediate_size: u64,
    /// `vocab_size`.
    pub vocab_size: u64,
    /// `num_attention_heads`: query heads.
    pub num_attention_heads: u64,
    /// `num_key_value_heads` as written (absent = `num_attention_heads`). For MLA this is the
    /// config value, not what is cached: see [`Model::kv_heads`].
    pub num_key_value_heads: u64,
    /// `head_dim`; absent = `hidden_size / num_attention_heads`, and for MLA
    /// `qk_nope_head_dim + qk_rope_head_dim` (the query/key width per head).
    pub head_dim: u64,
    /// `tie_word_embeddings`: the lm_head reuses the input embedding matrix. Absent = false,
    /// except for Gemma, whose config classes default to true.
    pub tie_word_embeddings: bool,
    /// `max_position_embeddings`: the longest context the model was built for.
    pub max_position_embeddings: u64,
    /// Whether each MLP (and expert) is gated: three matrices (gate, up, down) as in Llama,
    /// rather than two (up, down) as in GPT-NeoX (`model_type` `gpt_neox`, `phi`, `starcoder2`).
    pub gated_mlp: bool,
    /// How keys and values are projected and cached.
    pub attention: AttentionKind,
    /// Mixture-of-experts sizes; `None` for a dense model.
    pub moe: Option<MoeDims>,
    /// Per decoder layer: which tokens its attention keeps in the KV cache.
    pub layers: Vec<LayerKind>,
    /// Per decoder layer: dense MLP or mixture of experts.
    pub mlp_layers: Vec<MlpKind>,
    /// `num_nextn_predict_layers` (DeepSeek-V3's multi-token-prediction module). Shipped with
    /// the weights but not run in ordinary decoding, so *not* counted in params or FLOPs.
    pub mtp_layers: u64,
    /// The precision the checkpoint is published in, from its `quantization_config`; `None`
    /// for an unquantized checkpoint (see [`Model::default_precision`]).
    pub quantization: Option<Precision>,
}

/// The attention variant, which decides the KV cache layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AttentionKind {
    /// Multi-head attention: one K/V head per query head.
    Mha,
    /// Grouped-query attention: `1 < num_key_value_heads < num_attention_heads`.
    Gqa,
    /// Multi-query attention: a single K/V head (`num_key_value_heads == 1`).
    Mqa,
    /// Multi-head latent attention (DeepSeek-V2/V3): K and V are rebuilt from one cached
    /// low-rank latent per token.
    Mla(MlaDims),
}

/// Multi-head latent attention widths (config.json keys of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MlaDims {
    /// `kv_lora_rank`: width of the compressed KV latent.
    pub kv_lora_rank: u64,
    /// `q_lora_rank`: width of the compressed query latent; `None` = queries projected directly.
    pub q_lora_rank: Option<u64>,
    /// `qk_rope_head_dim`: the rotary part of each query/key head, cached once per token.
    pub qk_rope_head_dim: u64,
    /// `qk_nope_head_dim`: the non-rotary part of each query/key head.
    pub qk_nope_head_dim: u64,
    /// `v_head_dim`: width of each value head.
    pub v_head_dim: u64,
}

/// Mixture-of-experts sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MoeDims {
    /// Routed experts per MoE layer (`num_local_experts`, `num_experts` or `n_routed_experts`).
    pub num_experts: u64,
    /// `num_experts_per_tok`: routed experts each token runs through.
    pub experts_per_token: u64,
    /// Width of one routed expert's MLP (`moe_intermediate_size`, else `intermediate_size`).
    pub expert_intermediate_size: u64,
    /// Total width of the always-on shared expert(s): `n_shared_experts · moe_intermediate_size`
    /// (DeepSeek) plus `shared_expert_intermediate_size` (Qwen2-MoE); 0 = none.
    pub shared_intermediate_size: u64,
}

/// What one decoder layer keeps in the KV cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LayerKind {
    /// Full attention: every token of the context.
    Full,
    /// Sliding-window attention: only the last `window` tokens.
    Sliding {
        /// `sliding_window`, in tokens.
        window: u64,
    },
    /// No KV cache: linear attention, Mamba, convolution or another recurrent mixer.
    NoKv,
}

/// The feed-forward block of one decoder layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MlpKind {
    /// One MLP of width `intermediate_size`.
    Dense,
    /// A router, `num_experts` routed experts and the shared expert(s) of [`MoeDims`].
    Moe,
}

impl Model {
    /// Number of decoder layers (`num_hidden_layers`).
    pub fn n_layers(&self) -> usize {
        self.layers.len()
    }

    /// Number of decoder layers that hold a KV cache (all but [`LayerKind::NoKv`]).
    pub fn kv_layers(&self) -> usize {
        self.layers
            .iter()
            .filter(|l| **l != LayerKind::NoKv)
            .count()
    }

    /// Whether any layer is a mixture of experts.
    pub fn is_moe(&self) -> bool {
        self.moe.is_some()
    }

    /// K/V heads that tensor parallelism splits: `num_key_value_heads`, or 1 for MLA (its one
    /// latent is replicated on every rank, not split).
    pub fn kv_heads(&self) -> u64 {
        match self.attention {
            AttentionKind::Mla(_) => 1,
            _ => self.num_key_value_heads,
        }
    }

    /// Values cached per token in `layer`, as `(K values, V values)`; multiply by the K and V
    /// dtype sizes for bytes.
    ///
    /// - MHA/GQA/MQA: `(kv_heads · head_dim, kv_heads · head_dim)`.
    /// - MLA, as vLLM caches it: `(kv_lora_rank + qk_rope_head_dim, 0)`: one latent tensor
    ///   (576 values for DeepSeek-V3), no separate V.
    /// - [`LayerKind::NoKv`] layers: `(0, 0)`.
    ///
    /// Panics if `layer >= n_layers()`.
    pub fn kv_values_per_token(&self, layer: usize) -> (u64, u64) {
        if self.layers[layer] == LayerKind::NoKv {
            return (0, 0);
        }
        match self.attention {
            AttentionKind::Mla(mla) => (mla.kv_lora_rank + mla.qk_rope_head_dim, 0),
            _ => {
                let per_side = self.num_key_value_heads * self.head_dim;
                (per_side, per_side)
            }
        }
    }

    /// Tokens of a `context`-token sequence whose K/V `layer` keeps: `context` for
    /// [`LayerKind::Full`], `min(context, window)` for [`LayerKind::Sliding`], 0 for
    /// [`LayerKind::NoKv`].
    ///
    /// Panics if `layer >= n_layers()`.
    pub fn kv_tokens_held(&self, layer: usize, context: u64) -> u64 {
        match self.layers[layer] {
            LayerKind::Full => context,
            LayerKind::Sliding { window } => context.min(window),
            LayerKind::NoKv => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use crate::catalog::tests::builtin_model as catalog;

    fn count(model: &Model, kind: LayerKind) -> usize {
        model.layers.iter().filter(|l| **l == kind).count()
    }

    #[test]
    fn gqa_mha_classification_and_kv_values() {
        let llama = catalog("llama-3.1-8b");
        assert_eq!(llama.attention, AttentionKind::Gqa);
        assert_eq!(llama.head_dim, 128);
        assert_eq!(llama.kv_heads(), 8);
        assert_eq!(llama.kv_values_per_token(0), (1024, 1024));
        assert_eq!(llama.kv_layers(), 32);

        let pythia = catalog("pythia-1.4b");
        assert_eq!(pythia.attention, AttentionKind::Mha);
        assert_eq!(pythia.num_key_value_heads, 16);
        assert_eq!(pythia.kv_values_per_token(23), (16 * 128, 16 * 128));
    }

    #[test]
    fn mqa_when_one_kv_head() {
        let json = r#"{"model_type": "llama", "num_hidden_layers": 2, "num_attention_heads": 8,
            "num_key_value_heads": 1, "hidden_size": 512, "intermediate_size": 1024,
            "vocab_size": 1000, "max_position_embeddings": 2048}"#;
        let raw = RawConfig::from_json_str(json, Path::new("mqa.json")).unwrap();
        let m = Model::from_raw("mqa", &raw, Path::new("mqa.json")).unwrap();
        assert_eq!(m.attention, AttentionKind::Mqa);
        assert_eq!(m.kv_values_per_token(1), (64, 64));
    }

    #[test]
    fn deepseek_v3_is_mla_with_one_576_value_latent() {
        let m = catalog("deepseek-v3");
        assert!(matches!(m.attention, AttentionKind::Mla(_)));
        assert_eq!(m.kv_heads(), 1);
        assert_eq!(m.head_dim, 192);
        for layer in 0..m.n_layers() {
            assert_eq!(m.kv_values_per_token(layer), (576, 0));
        }
        assert_eq!(m.mtp_layers, 1);
    }

    #[test]
    fn gemma_2_alternates_sliding_and_full() {
        let m = catalog("gemma-2-9b");
        assert_eq!(count(&m, LayerKind::Sliding { window: 4096 }), 21);
        assert_eq!(count(&m, LayerKind::Full), 21);
        assert_eq!(m.layers[0], LayerKind::Sliding { window: 4096 });
        assert_eq!(m.layers[1], LayerKind::Full);
        assert_eq!(m.kv_tokens_held(0, 10_000), 4096);
        assert_eq!(m.kv_tokens_held(1, 10_000), 10_000);
        assert_eq!(m.kv_tokens_held(0, 100), 100);
    }

    #[test]
    fn mistral_7b_slides_on_every_layer() {
        let m = catalog("mistral-7b-v0.1");
        assert_eq!(count(&m, LayerKind::Sliding { window: 4096 }), 32);
    }

    #[test]
    fn qwen_use_sliding_window_false_means_full() {
        for name in ["qwen2.5-0.5b", "qwen2.5-7b", "qwen2.5-32b"] {
            let m = catalog(name);
            assert_eq!(count(&m, LayerKind::Full), m.n_layers(), "{name}");
        }
    }

    #[test]
    fn jamba_like_interval_hybrid_keeps_kv_on_4_of_32_layers() {
        let json = r#"{"model_type": "jamba", "architectures": ["JambaForCausalLM"],
            "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
            "hidden_size": 4096, "intermediate_size": 14336, "vocab_size": 65536,
            "max_position_embeddings": 262144, "attn_layer_period": 8, "attn_layer_offset": 4,
            "num_experts": 16, "num_experts_per_tok": 2, "expert_layer_period": 2,
            "expert_layer_offset": 1, "sliding_window": null, "torch_dtype": "bfloat16"}"#;
        let raw = RawConfig::from_json_str(json, Path::new("jamba.json")).unwrap();
        let m = Model::from_raw("jamba", &raw, Path::new("jamba.json")).unwrap();
        assert_eq!(m.kv_layers(), 4);
        let full: Vec<usize> = (0..32)
            .filter(|&i| m.layers[i] == LayerKind::Full)
            .collect();
        assert_eq!(full, [4, 12, 20, 28]);
        assert_eq!(m.kv_values_per_token(3), (0, 0));
        assert_eq!(m.kv_tokens_held(3, 1000), 0);
        let moe = m.mlp_layers.iter().filter(|k| **k == MlpKind::Moe).count();
        assert_eq!(moe, 16);
        assert_eq!(m.mlp_layers[1], MlpKind::Moe);
    }

    #[test]
    fn qwen3_next_full_attention_interval() {
        let json = r#"{"model_type": "qwen3_next", "num_hidden_layers": 48,
            "num_attention_heads": 16, "num_key_value_heads": 2, "head_dim": 256,
            "hidden_size": 2048, "intermediate_size": 5120, "vocab_size": 151936,
            "max_position_embeddings": 262144, "full_attention_interval": 4}"#;
        let raw = RawConfig::from_json_str(json, Path::new("q3n.json")).unwrap();
        let m = Model::from_raw("q3n", &raw, Path::new("q3n.json")).unwrap();
        assert_eq!(m.kv_layers(), 12);
        assert_eq!(m.layers[3], LayerKind::Full);
        assert_eq!(m.layers[0], LayerKind::NoKv);
    }
}
