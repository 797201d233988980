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
//! build on [`Model::kv_values_per_token`], [`Model::kv_tokens_held`],
//! [`Model::recurrent_state_bytes_per_seq`] and the counts in [`params`].
//!
//! Checkpoints are read as published: a multimodal wrapper's `text_config` is the model (its
//! vision tower counted in [`Model::vision_params`]), a `quantization_config` sets
//! [`Model::quantization`] ([`quant`]), and linear-attention or Mamba layers hold no KV but a
//! fixed recurrent state per sequence ([`RecurrentMixer`]).

pub mod config;
pub mod dtype;
pub mod error;
pub mod file;
pub mod gguf;
pub mod params;
pub mod precision;
pub mod quant;

pub use config::RawConfig;
pub use dtype::WeightDtype;
pub use error::ModelError;
pub use file::load_model_file;
pub use precision::{ActQuant, KeptLayer, Precision, Role, Scope};

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
    /// The token mixer of the [`LayerKind::NoKv`] layers (linear attention or Mamba), when the
    /// config gives its widths; `None` for a model without such layers, or whose mixer the
    /// planner does not know (those layers are then priced as attention projections).
    pub recurrent: Option<RecurrentMixer>,
    /// Parameters of a multimodal checkpoint's vision tower and projector (0 for a text-only
    /// model): held in memory ([`Model::weight_bytes`]) but not run per text token. An
    /// estimate from `vision_config`, see [`RawVision::params`](config::RawVision::params).
    pub vision_params: u64,
}

/// The recurrent token mixer of the layers that keep no KV cache. Each holds a fixed state per
/// sequence, whatever its length: a short convolution window and the recurrent (SSM) state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RecurrentMixer {
    /// Gated DeltaNet (Qwen3-Next, Qwen3.5 `linear_attention` layers).
    GatedDeltaNet(DeltaNetDims),
    /// Mamba (selective SSM, first version): Jamba.
    Mamba1(MambaDims),
    /// Mamba-2: Granite-4.0-H, Bamba.
    Mamba2(MambaDims),
}

/// Gated DeltaNet widths (config.json `linear_*` keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeltaNetDims {
    /// `linear_num_key_heads`: query/key heads.
    pub key_heads: u64,
    /// `linear_num_value_heads`: value heads (one recurrent state each).
    pub value_heads: u64,
    /// `linear_key_head_dim`.
    pub key_head_dim: u64,
    /// `linear_value_head_dim`.
    pub value_head_dim: u64,
    /// `linear_conv_kernel_dim`: the short convolution's width.
    pub conv_kernel: u64,
    /// Bytes per value of the recurrent state (see [`Model::recurrent_state_bytes_per_seq`]).
    pub state_bytes: u64,
}

/// Mamba widths (Jamba's `mamba_*` keys; Mamba-2's also `mamba_n_heads`, `mamba_d_head`,
/// `mamba_n_groups`, or Nemotron-H's names for them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MambaDims {
    /// The inner width, `mamba_expand · hidden_size` (Mamba-2: `heads · head_dim`).
    pub inner: u64,
    /// `mamba_d_state`: the SSM state per channel (Mamba-1) or per head dimension (Mamba-2).
    pub state_size: u64,
    /// `mamba_d_conv`: the short convolution's width.
    pub conv_kernel: u64,
    /// Mamba-2 heads (0 for Mamba-1).
    pub heads: u64,
    /// Mamba-2 head width (0 for Mamba-1).
    pub head_dim: u64,
    /// Mamba-2 groups of B/C projections (1 for Mamba-1).
    pub groups: u64,
    /// Mamba-1 `mamba_dt_rank`: the rank of the time-step projection (0 for Mamba-2).
    pub dt_rank: u64,
    /// Bytes per value of the SSM state (see [`Model::recurrent_state_bytes_per_seq`]).
    pub state_bytes: u64,
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

    /// Bytes of recurrent state one sequence holds in the layers without KV, on one GPU without
    /// tensor parallelism; 0 when the model has none (or its mixer is unknown). Fixed per
    /// sequence: it does not grow with the context.
    ///
    /// Shapes as vLLM allocates them (`MambaStateShapeCalculator`,
    /// `vllm/model_executor/layers/mamba/mamba_utils.py`, vLLM main at 02d7108, 2026):
    /// - Gated DeltaNet: convolution `(conv_kernel − 1) × (2·key_heads·key_head_dim +
    ///   value_heads·value_head_dim)` + recurrent `value_heads × value_head_dim × key_head_dim`;
    /// - Mamba-1: convolution `(conv_kernel − 1) × inner` + SSM `inner × state_size`;
    /// - Mamba-2: convolution `(conv_kernel − 1) × (inner + 2·groups·state_size)` + SSM
    ///   `heads × head_dim × state_size`.
    ///
    /// Dtypes as vLLM's `MambaStateDtypeCalculator`: the convolution state in the model dtype
    /// (2 bytes: `mamba_cache_dtype = auto`); the recurrent/SSM state in the model dtype too
    /// unless the config asks for float32 (`mamba_ssm_cache_dtype`, Nemotron-H; or
    /// `mamba_ssm_dtype`, Qwen3.5), then 4 bytes.
    pub fn recurrent_state_bytes_per_seq(&self) -> u64 {
        let Some(mixer) = self.recurrent else {
            return 0;
        };
        let model_dtype_bytes = 2;
        let per_layer = match mixer {
            RecurrentMixer::GatedDeltaNet(d) => {
                let conv_dim = 2 * d.key_heads * d.key_head_dim + d.value_heads * d.value_head_dim;
                (d.conv_kernel - 1) * conv_dim * model_dtype_bytes
                    + d.value_heads * d.value_head_dim * d.key_head_dim * d.state_bytes
            }
            RecurrentMixer::Mamba1(m) => {
                (m.conv_kernel - 1) * m.inner * model_dtype_bytes
                    + m.inner * m.state_size * m.state_bytes
            }
            RecurrentMixer::Mamba2(m) => {
                (m.conv_kernel - 1) * (m.inner + 2 * m.groups * m.state_size) * model_dtype_bytes
                    + m.heads * m.head_dim * m.state_size * m.state_bytes
            }
        };
        let recurrent_layers = (self.n_layers() - self.kv_layers()) as u64;
        recurrent_layers * per_layer
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
        // No Mamba widths given: no state is counted, the layers priced as attention.
        assert_eq!(m.recurrent, None);
        assert_eq!(m.recurrent_state_bytes_per_seq(), 0);
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

    /// ai21labs/Jamba-v0.1's shape with its Mamba keys (`mamba_d_state` 16, `mamba_d_conv` 4,
    /// `mamba_expand` 2, `mamba_dt_rank` 256): 52 B parameters, 12 B active (AI21's model card).
    #[test]
    fn jamba_mamba_layers_hold_a_fixed_state_and_their_own_projections() {
        let json = r#"{"model_type": "jamba", "num_hidden_layers": 32, "num_attention_heads": 32,
            "num_key_value_heads": 8, "hidden_size": 4096, "intermediate_size": 14336,
            "vocab_size": 65536, "max_position_embeddings": 262144, "attn_layer_period": 8,
            "attn_layer_offset": 4, "num_experts": 16, "num_experts_per_tok": 2,
            "expert_layer_period": 2, "expert_layer_offset": 1, "mamba_d_state": 16,
            "mamba_d_conv": 4, "mamba_expand": 2, "mamba_dt_rank": 256}"#;
        let raw = RawConfig::from_json_str(json, Path::new("jamba.json")).unwrap();
        let m = Model::from_raw("jamba", &raw, Path::new("jamba.json")).unwrap();
        let Some(RecurrentMixer::Mamba1(mamba)) = m.recurrent else {
            panic!("{:?}", m.recurrent)
        };
        assert_eq!(
            (mamba.inner, mamba.state_size, mamba.dt_rank),
            (8192, 16, 256)
        );
        // 28 Mamba layers: conv (4 − 1) × 8192 and SSM 8192 × 16, both bf16.
        assert_eq!(
            m.recurrent_state_bytes_per_seq(),
            28 * (3 * 8192 + 8192 * 16) * 2
        );
        let (h, inner) = (4096, 8192);
        let mixer =
            h * 2 * inner + inner * 4 + inner * (256 + 32) + 256 * inner + inner * 16 + inner * h;
        assert_eq!(m.mixer_params(0), mixer);
        assert_eq!(m.mixer_params(4), m.attention_params());
        let total = m.params_total() as f64;
        assert!((total / 52e9 - 1.0).abs() < 0.02, "{total:e}");
        let active = m.params_active() as f64;
        assert!((active / 12e9 - 1.0).abs() < 0.05, "{active:e}");
    }

    #[test]
    fn mamba2_layers_from_layer_types_and_auto_head_dim() {
        let types: Vec<&str> = (0..8)
            .map(|i| if i % 4 == 3 { "attention" } else { "mamba" })
            .collect();
        let json = serde_json::json!({
            "model_type": "granitemoehybrid", "num_hidden_layers": 8,
            "num_attention_heads": 16, "num_key_value_heads": 4, "hidden_size": 1024,
            "intermediate_size": 4096, "vocab_size": 1000, "max_position_embeddings": 4096,
            "layer_types": types, "mamba_n_heads": 32, "mamba_d_head": "auto",
            "mamba_n_groups": 1, "mamba_d_state": 128, "mamba_d_conv": 4, "mamba_expand": 2,
        });
        let raw = RawConfig::from_json_str(&json.to_string(), Path::new("g.json")).unwrap();
        let m = Model::from_raw("g", &raw, Path::new("g.json")).unwrap();
        assert_eq!(m.kv_layers(), 2);
        let Some(RecurrentMixer::Mamba2(mamba)) = m.recurrent else {
            panic!("{:?}", m.recurrent)
        };
        assert_eq!((mamba.heads, mamba.head_dim, mamba.inner), (32, 64, 2048));
        // conv (4 − 1) × (2048 + 2·1·128) and SSM 32 × 64 × 128, bf16; 6 Mamba layers.
        let per_layer = 3 * (2048 + 256) * 2 + 32 * 64 * 128 * 2;
        assert_eq!(m.recurrent_state_bytes_per_seq(), 6 * per_layer);
        let conv_dim = 2048 + 256;
        assert_eq!(
            m.mixer_params(0),
            1024 * (2048 + conv_dim + 32) + conv_dim * 4 + 2048 * 1024
        );
    }

    /// Llama-4-Scout's text model (the values of meta-llama/Llama-4-Scout-17B-16E-Instruct's
    /// `text_config`): every layer MoE with 16 experts and a shared expert, both 8192 wide;
    /// 109 B parameters with the vision tower, 17 B active (Meta's model card).
    #[test]
    fn llama_4_scout_text_config_with_shared_expert() {
        let json = r#"{"architectures": ["Llama4ForConditionalGeneration"],
            "model_type": "llama4", "torch_dtype": "bfloat16", "text_config": {
            "attention_chunk_size": 8192, "head_dim": 128, "hidden_size": 5120,
            "interleave_moe_layer_step": 1, "intermediate_size": 8192,
            "intermediate_size_mlp": 16384, "max_position_embeddings": 10485760,
            "model_type": "llama4_text", "num_attention_heads": 40, "num_experts_per_tok": 1,
            "num_hidden_layers": 48, "num_key_value_heads": 8, "num_local_experts": 16,
            "vocab_size": 202048}}"#;
        let raw = RawConfig::from_json_str(json, Path::new("scout.json")).unwrap();
        let m = Model::from_raw("scout", &raw, Path::new("scout.json")).unwrap();
        let moe = m.moe.unwrap();
        assert_eq!(
            (moe.expert_intermediate_size, moe.shared_intermediate_size),
            (8192, 8192)
        );
        assert_eq!(m.intermediate_size, 16384);
        assert_eq!(m.moe_layer_count(), 48);
        assert_eq!(m.torch_dtype.as_deref(), Some("bfloat16"));
        let total = m.params_total() as f64;
        assert!((total / 109e9 - 1.0).abs() < 0.02, "{total:e}");
        let active = m.params_active() as f64;
        assert!((active / 17e9 - 1.0).abs() < 0.03, "{active:e}");
    }
}
