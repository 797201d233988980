//! [`RawConfig`], a serde mirror of a Hugging Face `config.json`, and its validation into a
//! [`Model`].
//!
//! The same struct reads a `config.json` (serde_json) and the catalog's `models/*.toml` (flat
//! keys, same names). Unknown keys are ignored on purpose: real configs carry dozens the
//! planner does not need (`rope_theta`, `rms_norm_eps`, …). Every field is optional here;
//! [`Model::from_raw`] decides what is required and reports the file and key when it is not.
//!
//! A multimodal wrapper (`Gemma3ForConditionalGeneration`, `Llama4ForConditionalGeneration`,
//! Qwen3.5, Mistral-3, LLaVA) nests its text model under `text_config`;
//! [`RawConfig::text_model`] reads that, and [`RawVision`] sizes the vision tower.

use super::{
    AttentionKind, DeltaNetDims, LayerKind, MambaDims, MlaDims, MlpKind, Model, ModelError,
    MoeDims, RecurrentMixer,
};
use serde::{Deserialize, Deserializer};
use std::path::Path;

/// Model types whose MLP is not gated (two matrices, up and down, instead of three).
const UNGATED_MODEL_TYPES: &[&str] = &["gpt_neox", "phi", "starcoder2"];

/// Substrings of a `layer_types` entry that mean the layer keeps no KV cache.
const NO_KV_LAYER_WORDS: &[&str] = &["linear", "mamba", "conv", "recurrent"];

/// The config.json keys the planner reads, all optional, names exactly as Hugging Face
/// writes them. [`Model`] documents what each one means once resolved.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RawConfig {
    /// e.g. `llama`, `gpt_neox`, `deepseek_v3`, `gemma2`.
    pub model_type: Option<String>,
    /// e.g. `["LlamaForCausalLM"]`.
    pub architectures: Option<Vec<String>>,
    /// Checkpoint dtype, e.g. `bfloat16`.
    pub torch_dtype: Option<String>,
    /// Newer transformers write `dtype` instead of `torch_dtype`.
    pub dtype: Option<String>,
    /// Decoder layers.
    pub num_hidden_layers: Option<u64>,
    /// Query heads.
    pub num_attention_heads: Option<u64>,
    /// K/V heads; absent = `num_attention_heads` (MHA; GPT-NeoX never writes it).
    pub num_key_value_heads: Option<u64>,
    /// Per-head width; absent = `hidden_size / num_attention_heads`.
    pub head_dim: Option<u64>,
    /// Residual-stream width.
    pub hidden_size: Option<u64>,
    /// Dense MLP width (Mixtral: each expert's width).
    pub intermediate_size: Option<u64>,
    /// Vocabulary size.
    pub vocab_size: Option<u64>,
    /// lm_head shares the embedding matrix; absent = false (Gemma: true).
    pub tie_word_embeddings: Option<bool>,
    /// Longest context the model was built for.
    pub max_position_embeddings: Option<u64>,
    /// Routed experts (Mixtral's key).
    pub num_local_experts: Option<u64>,
    /// Routed experts (Qwen MoE's and Jamba's key).
    pub num_experts: Option<u64>,
    /// Routed experts (DeepSeek's key).
    pub n_routed_experts: Option<u64>,
    /// Routed experts per token.
    pub num_experts_per_tok: Option<u64>,
    /// Width of one expert's MLP.
    pub moe_intermediate_size: Option<u64>,
    /// Shared experts, each `moe_intermediate_size` wide (DeepSeek).
    pub n_shared_experts: Option<u64>,
    /// Width of the shared expert (Qwen2-MoE).
    pub shared_expert_intermediate_size: Option<u64>,
    /// The first k layers have a dense MLP (DeepSeek).
    pub first_k_dense_replace: Option<u64>,
    /// Layer `i` (past the dense ones) is MoE iff `i % moe_layer_freq == 0` (DeepSeek).
    pub moe_layer_freq: Option<u64>,
    /// Layer `i` is MoE iff `(i + 1) % decoder_sparse_step == 0` (Qwen MoE).
    pub decoder_sparse_step: Option<u64>,
    /// Layers with a dense MLP regardless of the rules above (Qwen MoE).
    pub mlp_only_layers: Option<Vec<u64>>,
    /// Layer `i` is MoE iff `i % expert_layer_period == expert_layer_offset` (Jamba).
    pub expert_layer_period: Option<u64>,
    /// See `expert_layer_period`.
    pub expert_layer_offset: Option<u64>,
    /// Llama-4: the dense layers' MLP width (`intermediate_size` is then each expert's and the
    /// shared expert's).
    pub intermediate_size_mlp: Option<u64>,
    /// Llama-4: layer `i` is MoE iff `(i + 1) % interleave_moe_layer_step == 0`.
    pub interleave_moe_layer_step: Option<u64>,
    /// Llama-4: the MoE layers, listed (newer configs write them out).
    pub moe_layers: Option<Vec<u64>>,
    /// Multi-token-prediction layers shipped beyond `num_hidden_layers` (DeepSeek-V3).
    pub num_nextn_predict_layers: Option<u64>,
    /// MLA: width of the cached KV latent; its presence means MLA.
    pub kv_lora_rank: Option<u64>,
    /// MLA: width of the query latent; absent = queries projected directly.
    pub q_lora_rank: Option<u64>,
    /// MLA: rotary part of each query/key head (cached once per token).
    pub qk_rope_head_dim: Option<u64>,
    /// MLA: non-rotary part of each query/key head.
    pub qk_nope_head_dim: Option<u64>,
    /// MLA: width of each value head.
    pub v_head_dim: Option<u64>,
    /// Sliding-window length in tokens (JSON `null` = none).
    pub sliding_window: Option<u64>,
    /// Qwen2: `false` switches `sliding_window` off.
    pub use_sliding_window: Option<bool>,
    /// Qwen2: layers below this index use full attention, the rest slide.
    pub max_window_layers: Option<u64>,
    /// Gemma-3: every p-th layer is full attention, the others slide.
    pub sliding_window_pattern: Option<u64>,
    /// Per layer: `full_attention`, `sliding_attention`, `linear_attention`, `mamba`, …
    pub layer_types: Option<Vec<String>>,
    /// Qwen3-Next: every k-th layer is full attention, the others linear (no KV).
    pub full_attention_interval: Option<u64>,
    /// Jamba: layer `i` has attention iff `i % attn_layer_period == attn_layer_offset`.
    pub attn_layer_period: Option<u64>,
    /// See `attn_layer_period`.
    pub attn_layer_offset: Option<u64>,
    /// The checkpoint's quantization block, as written; read by [`super::quant`].
    pub quantization_config: Option<serde_json::Value>,
    /// A multimodal wrapper's text model (see [`RawConfig::text_model`]).
    pub text_config: Option<Box<RawConfig>>,
    /// A multimodal wrapper's vision tower.
    pub vision_config: Option<RawVision>,
    /// Gated DeltaNet (Qwen3-Next, Qwen3.5): query/key heads of a linear-attention layer.
    pub linear_num_key_heads: Option<u64>,
    /// Gated DeltaNet: value heads.
    pub linear_num_value_heads: Option<u64>,
    /// Gated DeltaNet: width of a key head.
    pub linear_key_head_dim: Option<u64>,
    /// Gated DeltaNet: width of a value head.
    pub linear_value_head_dim: Option<u64>,
    /// Gated DeltaNet: the short convolution's width (Qwen3-Next default 4).
    pub linear_conv_kernel_dim: Option<u64>,
    /// Mamba: SSM state size (Jamba, Granite-4.0-H, Bamba).
    #[serde(default, deserialize_with = "lenient_count")]
    pub mamba_d_state: Option<u64>,
    /// Mamba: convolution width (default 4).
    #[serde(default, deserialize_with = "lenient_count")]
    pub mamba_d_conv: Option<u64>,
    /// Mamba: inner width over hidden width (default 2).
    #[serde(default, deserialize_with = "lenient_count")]
    pub mamba_expand: Option<u64>,
    /// Mamba-1: rank of the time-step projection (`"auto"` = ⌈hidden_size / 16⌉).
    #[serde(default, deserialize_with = "lenient_count")]
    pub mamba_dt_rank: Option<u64>,
    /// Mamba-2: heads (Granite-4.0-H, Bamba).
    #[serde(default, deserialize_with = "lenient_count")]
    pub mamba_n_heads: Option<u64>,
    /// Mamba-2: head width.
    #[serde(default, deserialize_with = "lenient_count")]
    pub mamba_d_head: Option<u64>,
    /// Mamba-2: groups of B/C projections (default 1).
    #[serde(default, deserialize_with = "lenient_count")]
    pub mamba_n_groups: Option<u64>,
    /// Nemotron-H's name for `mamba_n_heads`.
    #[serde(default, deserialize_with = "lenient_count")]
    pub mamba_num_heads: Option<u64>,
    /// Nemotron-H's name for `mamba_d_head`.
    #[serde(default, deserialize_with = "lenient_count")]
    pub mamba_head_dim: Option<u64>,
    /// Nemotron-H's name for `mamba_n_groups`.
    #[serde(default, deserialize_with = "lenient_count")]
    pub n_groups: Option<u64>,
    /// Nemotron-H's name for `mamba_d_state`.
    #[serde(default, deserialize_with = "lenient_count")]
    pub ssm_state_size: Option<u64>,
    /// Nemotron-H's name for `mamba_d_conv`.
    #[serde(default, deserialize_with = "lenient_count")]
    pub conv_kernel: Option<u64>,
    /// Nemotron-H's name for `mamba_expand`.
    #[serde(default, deserialize_with = "lenient_count")]
    pub expand: Option<u64>,
    /// The SSM state's dtype in the engine's cache (Nemotron-H: `float32`).
    pub mamba_ssm_cache_dtype: Option<String>,
    /// Qwen3.5's name for `mamba_ssm_cache_dtype`.
    pub mamba_ssm_dtype: Option<String>,
    /// Nemotron-H: one character per layer (`M` Mamba-2, `*` attention, `-` MLP, `E` MoE).
    pub hybrid_override_pattern: Option<String>,
}

/// A multimodal checkpoint's `vision_config`: the keys that size a ViT-style vision tower.
/// Counts that are not plain numbers (a list, `"auto"`) are read as absent.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RawVision {
    /// Width of the vision transformer.
    #[serde(default, deserialize_with = "lenient_count")]
    pub hidden_size: Option<u64>,
    /// Width of its MLPs.
    #[serde(default, deserialize_with = "lenient_count")]
    pub intermediate_size: Option<u64>,
    /// Its layers (SigLIP, Llama-4, Pixtral).
    #[serde(default, deserialize_with = "lenient_count")]
    pub num_hidden_layers: Option<u64>,
    /// Its layers (Qwen-VL's name).
    #[serde(default, deserialize_with = "lenient_count")]
    pub depth: Option<u64>,
    /// Patch side in pixels.
    #[serde(default, deserialize_with = "lenient_count")]
    pub patch_size: Option<u64>,
    /// Image side in pixels (fixed-resolution towers: one position embedding per patch).
    #[serde(default, deserialize_with = "lenient_count")]
    pub image_size: Option<u64>,
    /// Position embeddings (Qwen-VL's name).
    #[serde(default, deserialize_with = "lenient_count")]
    pub num_position_embeddings: Option<u64>,
    /// Input channels (default 3).
    #[serde(default, deserialize_with = "lenient_count")]
    pub num_channels: Option<u64>,
    /// Input channels (Qwen-VL's name).
    #[serde(default, deserialize_with = "lenient_count")]
    pub in_channels: Option<u64>,
    /// Frames per video patch (Qwen-VL; default 1).
    #[serde(default, deserialize_with = "lenient_count")]
    pub temporal_patch_size: Option<u64>,
    /// Patches merged per side before the projector (Qwen-VL; default 1).
    #[serde(default, deserialize_with = "lenient_count")]
    pub spatial_merge_size: Option<u64>,
    /// Width the projector maps to (Qwen-VL; default: the text model's hidden size).
    #[serde(default, deserialize_with = "lenient_count")]
    pub out_hidden_size: Option<u64>,
}

impl RawVision {
    /// Parameters of the vision tower and its projector into a text model `text_hidden`
    /// wide: **an estimate** for a standard ViT, with `v` = hidden_size, `i` =
    /// intermediate_size, `L` = num_hidden_layers (or `depth`), `p` = patch_size:
    ///
    /// - encoder layers `L · (4·v² + 2·v·i)` (Q, K, V, O and a two-matrix MLP);
    /// - patch embedding `channels · temporal_patch_size · p² · v`;
    /// - position embeddings `(image_size / p)² · v`, or `num_position_embeddings · v`;
    /// - projector `m·v · m·v + m·v · t`, with `m` = spatial_merge_size² (merged patches,
    ///   Qwen-VL) and `t` = out_hidden_size or `text_hidden`: a two-layer MLP as LLaVA's.
    ///
    /// Norms and biases are not counted. Gemma-3-4B's SigLIP tower comes to 0.42 B (the
    /// released checkpoint is 4.3 B with its 3.88 B text model). 0 when the widths or the
    /// layer count are absent.
    pub fn params(&self, text_hidden: u64) -> u64 {
        let (Some(v), Some(i), Some(layers)) = (
            self.hidden_size,
            self.intermediate_size,
            self.num_hidden_layers.or(self.depth),
        ) else {
            return 0;
        };
        let patch = self.patch_size.unwrap_or(0);
        let channels = self.num_channels.or(self.in_channels).unwrap_or(3);
        let temporal = self.temporal_patch_size.unwrap_or(1);
        let positions = match (self.num_position_embeddings, self.image_size) {
            (Some(n), _) => n,
            (None, Some(side)) if patch > 0 => (side / patch).pow(2),
            _ => 0,
        };
        let merged = v * self.spatial_merge_size.unwrap_or(1).pow(2);
        let out = self.out_hidden_size.unwrap_or(text_hidden);
        layers * (4 * v * v + 2 * v * i)
            + channels * temporal * patch * patch * v
            + positions * v
            + merged * merged
            + merged * out
    }
}

impl RawVision {
    /// Every count present is within [`shape_limit`] (so the estimate stays within a `u64`).
    fn check_limits(&self, check: &Check) -> Result<(), ModelError> {
        let fields = [
            ("vision_config.hidden_size", self.hidden_size),
            ("vision_config.intermediate_size", self.intermediate_size),
            (
                "vision_config.num_hidden_layers",
                self.num_hidden_layers.or(self.depth),
            ),
            ("vision_config.patch_size", self.patch_size),
            ("vision_config.image_size", self.image_size),
            (
                "vision_config.num_position_embeddings",
                self.num_position_embeddings,
            ),
            (
                "vision_config.num_channels",
                self.num_channels.or(self.in_channels),
            ),
            (
                "vision_config.temporal_patch_size",
                self.temporal_patch_size,
            ),
            ("vision_config.spatial_merge_size", self.spatial_merge_size),
            ("vision_config.out_hidden_size", self.out_hidden_size),
        ];
        for (field, value) in fields {
            if let Some(v) = value {
                check.non_zero(field, v)?;
            }
        }
        Ok(())
    }
}

/// A count that configs sometimes write as something else (`"auto"`, a list): the number, or
/// `None` (the caller's default then applies).
fn lenient_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(serde_json::Value::deserialize(d)?.as_u64())
}

impl RawConfig {
    /// Parse TOML text (a `models/*.toml` file); `path` is only for the error message, which
    /// carries the line and column.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<Self, ModelError> {
        toml::from_str(text).map_err(|error| ModelError::Toml {
            path: path.to_path_buf(),
            error,
        })
    }

    /// Parse JSON text (a Hugging Face `config.json`); `path` is only for the error message.
    pub fn from_json_str(text: &str, path: &Path) -> Result<Self, ModelError> {
        serde_json::from_str(text).map_err(|error| ModelError::Json {
            path: path.to_path_buf(),
            error,
        })
    }

    /// Read a file: JSON if its extension is `.json`, TOML otherwise.
    pub fn read(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|error| ModelError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if is_json {
            Self::from_json_str(&text, path)?.with_hf_quant_config(path)
        } else {
            Self::from_toml_str(&text, path)
        }
    }

    /// A `config.json` without a `quantization_config` takes NVIDIA ModelOpt's
    /// `hf_quant_config.json` from the same folder, if there is one: vLLM reads it there
    /// (`ModelOptFp8Config.get_config_filenames`), and nvidia's FP8/NVFP4 checkpoints put
    /// their quantization only in it.
    fn with_hf_quant_config(mut self, config: &Path) -> Result<Self, ModelError> {
        let nested = self.text_config.as_ref();
        if config.file_name().is_none_or(|f| f != "config.json")
            || self.quantization_config.is_some()
            || nested.is_some_and(|t| t.quantization_config.is_some())
        {
            return Ok(self);
        }
        let path = config.with_file_name("hf_quant_config.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(self),
            Err(error) => return Err(ModelError::Read { path, error }),
        };
        let block = serde_json::from_str(&text).map_err(|error| ModelError::Json {
            path: path.clone(),
            error,
        })?;
        self.quantization_config = Some(block);
        Ok(self)
    }

    /// The config of the text model: this one, or a multimodal wrapper's `text_config` when
    /// the top level has no `num_hidden_layers`. Keys the nested config lacks and the top
    /// level states apply to it: `tie_word_embeddings`, `torch_dtype`/`dtype`,
    /// `quantization_config` (Gemma-3 and Qwen3.5 write them only at the top). Then the
    /// defaults of the config class that published configs rely on (Gemma-3's
    /// `Gemma3TextConfig`: `vocab_size`, heads, `head_dim`, `max_position_embeddings`).
    pub fn text_model(&self) -> RawConfig {
        let text = match &self.text_config {
            Some(nested) if self.num_hidden_layers.is_none() => {
                let mut text = (**nested).clone();
                text.tie_word_embeddings = text.tie_word_embeddings.or(self.tie_word_embeddings);
                if text.torch_dtype.is_none() && text.dtype.is_none() {
                    text.torch_dtype = self.torch_dtype.clone().or_else(|| self.dtype.clone());
                }
                if text.quantization_config.is_none() {
                    text.quantization_config = self.quantization_config.clone();
                }
                text.model_type = text.model_type.or_else(|| self.model_type.clone());
                text
            }
            _ => self.clone(),
        };
        with_class_defaults(text)
    }
}

/// Defaults of Hugging Face config classes that published configs leave out. Gemma-3's
/// `text_config` (`gemma3_text`; e.g. google/gemma-3-4b-it) states only its widths and layer
/// count; the rest comes from `Gemma3TextConfig.__init__` (transformers
/// `models/gemma3/configuration_gemma3.py`): `vocab_size` 262208, `num_attention_heads` 8,
/// `num_key_value_heads` 4, `head_dim` 256, `max_position_embeddings` 131072.
fn with_class_defaults(mut raw: RawConfig) -> RawConfig {
    if raw.model_type.as_deref() == Some("gemma3_text") {
        raw.vocab_size = raw.vocab_size.or(Some(262_208));
        raw.num_attention_heads = raw.num_attention_heads.or(Some(8));
        raw.num_key_value_heads = raw.num_key_value_heads.or(Some(4));
        raw.head_dim = raw.head_dim.or(Some(256));
        raw.max_position_embeddings = raw.max_position_embeddings.or(Some(131_072));
    }
    raw
}

impl Model {
    /// Validate `raw` (read from `source`) into a [`Model`] called `name`. Does no I/O.
    ///
    /// The text model is [`RawConfig::text_model`] (a multimodal wrapper's `text_config`); its
    /// vision tower is counted in [`Model::vision_params`]; its `quantization_config` becomes
    /// [`Model::quantization`] ([`super::quant`]).
    ///
    /// Required keys: `num_hidden_layers`, `num_attention_heads`, `hidden_size`,
    /// `intermediate_size`, `vocab_size`, `max_position_embeddings`; all must be non-zero.
    /// Errors also for `num_attention_heads % num_key_value_heads != 0`, a zero `head_dim`,
    /// `layer_types` of the wrong length, an unknown `quantization_config.quant_method`, and
    /// the other inconsistencies checked below; each error names `source` and the key.
    pub fn from_raw(name: &str, raw: &RawConfig, source: &Path) -> Result<Model, ModelError> {
        let text = raw.text_model();
        let mut model = Self::text_from_raw(name, &text, source)?;
        model.architectures = raw.architectures.clone().unwrap_or_default();
        if let Some(vision) = &raw.vision_config {
            vision.check_limits(&Check { path: source })?;
            model.vision_params = vision.params(model.hidden_size);
        }
        model.quantization =
            super::quant::checkpoint_precision(text.quantization_config.as_ref(), &model, source)?;
        Ok(model)
    }

    /// [`Model::from_raw`] for a config that is the text model itself.
    fn text_from_raw(name: &str, raw: &RawConfig, source: &Path) -> Result<Model, ModelError> {
        let check = Check { path: source };
        if raw.hybrid_override_pattern.is_some() {
            let reason =
                "Nemotron-H's one-block-per-layer pattern (M Mamba-2, * attention, - MLP, \
                          E MoE) is not modelled yet; the planner cannot size this model"
                    .to_string();
            return Err(check.invalid("hybrid_override_pattern", reason));
        }
        let n_layers = check.required("num_hidden_layers", raw.num_hidden_layers)?;
        let hidden_size = check.required("hidden_size", raw.hidden_size)?;
        let heads = check.required("num_attention_heads", raw.num_attention_heads)?;
        let kv_heads = resolve_kv_heads(raw, heads, &check)?;
        let attention = resolve_attention(raw, heads, kv_heads, &check)?;
        let moe = resolve_moe(raw, &check)?;
        let mlp_layers = resolve_mlp_layers(raw, n_layers, moe.is_some(), &check)?;
        let intermediate_size = match (dense_width(raw), moe) {
            (Some(width), _) => check.non_zero("intermediate_size", width)?,
            // Every layer a MoE (Qwen3.5): the config names no dense width, none is needed.
            (None, Some(m)) if !mlp_layers.contains(&MlpKind::Dense) => m.expert_intermediate_size,
            (None, _) => check.required("intermediate_size", None)?,
        };
        Ok(Model {
            name: name.to_string(),
            source: source.to_path_buf(),
            model_type: raw.model_type.clone(),
            architectures: raw.architectures.clone().unwrap_or_default(),
            torch_dtype: raw.torch_dtype.clone().or_else(|| raw.dtype.clone()),
            hidden_size,
            intermediate_size,
            vocab_size: check.required("vocab_size", raw.vocab_size)?,
            num_attention_heads: heads,
            num_key_value_heads: kv_heads,
            head_dim: resolve_head_dim(raw, hidden_size, heads, &attention, &check)?,
            tie_word_embeddings: raw.tie_word_embeddings.unwrap_or(is_gemma(raw)),
            max_position_embeddings: check
                .required("max_position_embeddings", raw.max_position_embeddings)?,
            gated_mlp: is_gated(raw),
            attention,
            mlp_layers,
            moe,
            layers: resolve_layers(raw, n_layers, &check)?,
            mtp_layers: raw.num_nextn_predict_layers.unwrap_or(0),
            quantization: None,
            recurrent: resolve_recurrent(raw, hidden_size, &check)?,
            vision_params: 0,
        })
    }
}

/// The largest value a shape field may take: far beyond every published model (so no real
/// config is refused), and small enough that products of shapes (parameters, bytes, FLOPs)
/// stay within a `u64` and per-layer tables fit in memory.
fn shape_limit(field: &str) -> u64 {
    match field {
        "num_hidden_layers" | "num_nextn_predict_layers" => 2048,
        "hidden_size" => 1 << 18,
        "num_attention_heads" | "num_key_value_heads" => 1 << 14,
        "head_dim" | "qk_rope_head_dim" | "qk_nope_head_dim" | "v_head_dim" => 1 << 12,
        "vocab_size" => 1 << 23,
        "max_position_embeddings" | "sliding_window" => 1 << 30,
        "num_local_experts"
        | "num_experts"
        | "n_routed_experts"
        | "num_experts_per_tok"
        | "n_shared_experts" => 1 << 12,
        "linear_num_key_heads" | "linear_num_value_heads" | "mamba_n_heads" | "mamba_n_groups" => {
            1 << 14
        }
        "linear_key_head_dim" | "linear_value_head_dim" | "mamba_d_head" | "mamba_d_state" => {
            1 << 12
        }
        "linear_conv_kernel_dim" | "mamba_d_conv" => 1 << 8,
        "mamba_expand" => 1 << 6,
        "vision_config.hidden_size" => 1 << 18,
        "vision_config.num_hidden_layers" => 2048,
        "vision_config.patch_size" => 1 << 12,
        "vision_config.image_size" => 1 << 16,
        "vision_config.num_position_embeddings" => 1 << 24,
        "vision_config.num_channels" | "vision_config.temporal_patch_size" => 64,
        "vision_config.spatial_merge_size" => 64,
        _ => 1 << 20,
    }
}

/// Builds errors that name the file being validated.
struct Check<'a> {
    path: &'a Path,
}

impl Check<'_> {
    /// `value`, which must be present and non-zero.
    fn required(&self, field: &'static str, value: Option<u64>) -> Result<u64, ModelError> {
        let value = value.ok_or(ModelError::Missing {
            path: self.path.to_path_buf(),
            field,
        })?;
        self.non_zero(field, value)
    }

    /// `value`, which must be non-zero and at most the field's [`shape_limit`].
    fn non_zero(&self, field: &'static str, value: u64) -> Result<u64, ModelError> {
        let max = shape_limit(field);
        if value == 0 {
            Err(self.invalid(field, "must be greater than 0".into()))
        } else if value > max {
            Err(self.invalid(
                field,
                format!("{value} is beyond any real model (at most {max} here); check the file"),
            ))
        } else {
            Ok(value)
        }
    }

    /// `value` if present (then non-zero), else `default`.
    fn optional(
        &self,
        field: &'static str,
        value: Option<u64>,
        default: u64,
    ) -> Result<u64, ModelError> {
        value.map_or(Ok(default), |v| self.non_zero(field, v))
    }

    fn invalid(&self, field: &'static str, reason: String) -> ModelError {
        ModelError::Invalid {
            path: self.path.to_path_buf(),
            field,
            reason,
        }
    }
}

fn is_gated(raw: &RawConfig) -> bool {
    !raw.model_type
        .as_deref()
        .is_some_and(|t| UNGATED_MODEL_TYPES.contains(&t))
}

fn is_gemma(raw: &RawConfig) -> bool {
    raw.model_type
        .as_deref()
        .is_some_and(|t| t.starts_with("gemma"))
}

/// `num_key_value_heads` (absent = `num_attention_heads`, i.e. MHA); must divide the heads.
fn resolve_kv_heads(raw: &RawConfig, heads: u64, check: &Check) -> Result<u64, ModelError> {
    let kv_heads = check.optional("num_key_value_heads", raw.num_key_value_heads, heads)?;
    if !heads.is_multiple_of(kv_heads) {
        let reason = format!("{kv_heads} does not divide num_attention_heads = {heads}");
        return Err(check.invalid("num_key_value_heads", reason));
    }
    Ok(kv_heads)
}

/// MLA when `kv_lora_rank` is set; otherwise MHA, MQA (one K/V head) or GQA.
fn resolve_attention(
    raw: &RawConfig,
    heads: u64,
    kv_heads: u64,
    check: &Check,
) -> Result<AttentionKind, ModelError> {
    if let Some(rank) = raw.kv_lora_rank {
        return Ok(AttentionKind::Mla(MlaDims {
            kv_lora_rank: check.non_zero("kv_lora_rank", rank)?,
            q_lora_rank: raw
                .q_lora_rank
                .map(|r| check.non_zero("q_lora_rank", r))
                .transpose()?,
            qk_rope_head_dim: check.required("qk_rope_head_dim", raw.qk_rope_head_dim)?,
            qk_nope_head_dim: check.required("qk_nope_head_dim", raw.qk_nope_head_dim)?,
            v_head_dim: check.required("v_head_dim", raw.v_head_dim)?,
        }));
    }
    Ok(if kv_heads == heads {
        AttentionKind::Mha
    } else if kv_heads == 1 {
        AttentionKind::Mqa
    } else {
        AttentionKind::Gqa
    })
}

/// `head_dim` if given; else `qk_nope_head_dim + qk_rope_head_dim` for MLA; else
/// `hidden_size / num_attention_heads`, which must divide exactly.
fn resolve_head_dim(
    raw: &RawConfig,
    hidden: u64,
    heads: u64,
    attention: &AttentionKind,
    check: &Check,
) -> Result<u64, ModelError> {
    if let Some(dim) = raw.head_dim {
        return check.non_zero("head_dim", dim);
    }
    if let AttentionKind::Mla(mla) = attention {
        return Ok(mla.qk_nope_head_dim + mla.qk_rope_head_dim);
    }
    if !hidden.is_multiple_of(heads) {
        let reason = format!(
            "absent, and hidden_size = {hidden} is not a multiple of num_attention_heads = {heads}"
        );
        return Err(check.invalid("head_dim", reason));
    }
    Ok(hidden / heads)
}

/// Expert counts and widths; `None` when the config names no experts (or zero experts).
fn resolve_moe(raw: &RawConfig, check: &Check) -> Result<Option<MoeDims>, ModelError> {
    let experts = raw
        .num_local_experts
        .or(raw.num_experts)
        .or(raw.n_routed_experts);
    let Some(num_experts) = experts.filter(|&e| e > 0) else {
        return Ok(None);
    };
    let experts_per_token = check.required("num_experts_per_tok", raw.num_experts_per_tok)?;
    if experts_per_token > num_experts {
        let reason = format!("{experts_per_token} exceeds the {num_experts} experts");
        return Err(check.invalid("num_experts_per_tok", reason));
    }
    let expert_intermediate_size = match raw.moe_intermediate_size {
        Some(width) => check.non_zero("moe_intermediate_size", width)?,
        None => check.required("intermediate_size", raw.intermediate_size)?,
    };
    // Llama-4: one shared expert per MoE layer, as wide as a routed one (`Llama4TextMoe`).
    let llama4_shared = if is_llama4(raw) {
        expert_intermediate_size
    } else {
        0
    };
    let shared_intermediate_size = raw.n_shared_experts.unwrap_or(0) * expert_intermediate_size
        + raw.shared_expert_intermediate_size.unwrap_or(0)
        + llama4_shared;
    Ok(Some(MoeDims {
        num_experts,
        experts_per_token,
        expert_intermediate_size,
        shared_intermediate_size,
    }))
}

fn is_llama4(raw: &RawConfig) -> bool {
    raw.model_type.as_deref() == Some("llama4_text")
}

/// The dense MLP width: `intermediate_size`, or Llama-4's `intermediate_size_mlp`.
fn dense_width(raw: &RawConfig) -> Option<u64> {
    if is_llama4(raw) {
        raw.intermediate_size_mlp.or(raw.intermediate_size)
    } else {
        raw.intermediate_size
    }
}

/// Which layers are MoE. Layer `i` is MoE iff the model has experts and every rule its config
/// states holds (each defaults to "yes"), as in the HF modeling code:
/// - DeepSeek: `i >= first_k_dense_replace` and `i % moe_layer_freq == 0`;
/// - Qwen MoE: `(i + 1) % decoder_sparse_step == 0` and `i` not in `mlp_only_layers`;
/// - Llama-4: `(i + 1) % interleave_moe_layer_step == 0`, and `i` in `moe_layers` if listed;
/// - Jamba: `i % expert_layer_period == expert_layer_offset`.
fn resolve_mlp_layers(
    raw: &RawConfig,
    n_layers: u64,
    has_experts: bool,
    check: &Check,
) -> Result<Vec<MlpKind>, ModelError> {
    let first_moe = raw.first_k_dense_replace.unwrap_or(0);
    let freq = check.optional("moe_layer_freq", raw.moe_layer_freq, 1)?;
    let step = match raw.interleave_moe_layer_step {
        Some(step) => check.non_zero("interleave_moe_layer_step", step)?,
        None => check.optional("decoder_sparse_step", raw.decoder_sparse_step, 1)?,
    };
    let (period, offset) = period_and_offset(
        check,
        ("expert_layer_period", raw.expert_layer_period),
        ("expert_layer_offset", raw.expert_layer_offset),
    )?;
    let dense_only = raw.mlp_only_layers.as_deref().unwrap_or(&[]);
    let is_moe = |i: u64| {
        has_experts
            && i >= first_moe
            && i.is_multiple_of(freq)
            && (i + 1).is_multiple_of(step)
            && i % period == offset
            && !dense_only.contains(&i)
            && raw
                .moe_layers
                .as_ref()
                .is_none_or(|listed| listed.contains(&i))
    };
    Ok((0..n_layers)
        .map(|i| {
            if is_moe(i) {
                MlpKind::Moe
            } else {
                MlpKind::Dense
            }
        })
        .collect())
}

/// A `(period, offset)` pair with `offset < period`; absent = `(1, 0)` (every layer).
fn period_and_offset(
    check: &Check,
    (period_key, period): (&'static str, Option<u64>),
    (offset_key, offset): (&'static str, Option<u64>),
) -> Result<(u64, u64), ModelError> {
    let period = check.optional(period_key, period, 1)?;
    let offset = offset.unwrap_or(0);
    if offset >= period {
        let reason = format!("{offset} must be less than {period_key} = {period}");
        return Err(check.invalid(offset_key, reason));
    }
    Ok((period, offset))
}

/// What each layer caches, from the first rule the config states:
/// 1. `layer_types` (one entry per layer): `full_attention`, `sliding_attention`, or a name
///    containing linear/mamba/conv/recurrent (no KV);
/// 2. `full_attention_interval = k` (Qwen3-Next): layer `i` is full iff `(i + 1) % k == 0`,
///    the others are linear attention (no KV);
/// 3. `attn_layer_period`, `attn_layer_offset` (Jamba): layer `i` is full iff
///    `i % period == offset`, the others are Mamba (no KV);
/// 4. a `sliding_window` (unless `use_sliding_window = false`, as Qwen2 writes it):
///    - Gemma-2/Gemma-3 (`sliding_window_pattern = p`, default 2 for Gemma-2, 6 for Gemma-3):
///      layer `i` is full iff `(i + 1) % p == 0`, the others slide;
///    - otherwise layers `i >= max_window_layers` (default 0: all) slide, the rest are full;
/// 5. otherwise every layer is full.
fn resolve_layers(
    raw: &RawConfig,
    n_layers: u64,
    check: &Check,
) -> Result<Vec<LayerKind>, ModelError> {
    if let Some(types) = &raw.layer_types {
        return layers_from_types(types, raw, n_layers, check);
    }
    if let Some(k) = raw.full_attention_interval {
        let k = check.non_zero("full_attention_interval", k)?;
        return Ok(full_where(
            n_layers,
            |i| (i + 1).is_multiple_of(k),
            LayerKind::NoKv,
        ));
    }
    if raw.attn_layer_period.is_some() {
        let (period, offset) = period_and_offset(
            check,
            ("attn_layer_period", raw.attn_layer_period),
            ("attn_layer_offset", raw.attn_layer_offset),
        )?;
        return Ok(full_where(
            n_layers,
            |i| i % period == offset,
            LayerKind::NoKv,
        ));
    }
    let Some(window) = active_window(raw, check)? else {
        return Ok(full_where(n_layers, |_| true, LayerKind::Full));
    };
    let sliding = LayerKind::Sliding { window };
    if let Some(p) = sliding_window_pattern(raw) {
        let p = check.non_zero("sliding_window_pattern", p)?;
        return Ok(full_where(n_layers, |i| (i + 1).is_multiple_of(p), sliding));
    }
    let first_sliding = raw.max_window_layers.unwrap_or(0);
    Ok(full_where(n_layers, |i| i < first_sliding, sliding))
}

/// Layer `i` is [`LayerKind::Full`] where `full(i)`, `other` elsewhere.
fn full_where(n_layers: u64, full: impl Fn(u64) -> bool, other: LayerKind) -> Vec<LayerKind> {
    (0..n_layers)
        .map(|i| if full(i) { LayerKind::Full } else { other })
        .collect()
}

/// The recurrent mixer of the layers without KV, from the first family whose keys the config
/// has: Gated DeltaNet (`linear_num_value_heads`), Mamba-2 (`mamba_n_heads`, or Nemotron-H's
/// `mamba_num_heads`), Mamba-1 (`mamba_d_state` alone: Jamba). Defaults as the HF config
/// classes: convolution width 4, `mamba_expand` 2, one group, Mamba-1 `dt_rank`
/// ⌈hidden_size / 16⌉. The recurrent state is float32 (4 bytes) when `mamba_ssm_cache_dtype`
/// or `mamba_ssm_dtype` says so, else the model dtype (2 bytes).
fn resolve_recurrent(
    raw: &RawConfig,
    hidden: u64,
    check: &Check,
) -> Result<Option<RecurrentMixer>, ModelError> {
    let float32 = [&raw.mamba_ssm_cache_dtype, &raw.mamba_ssm_dtype]
        .into_iter()
        .any(|d| d.as_deref() == Some("float32"));
    let state_bytes = if float32 { 4 } else { 2 };
    if let Some(value_heads) = raw.linear_num_value_heads {
        return Ok(Some(RecurrentMixer::GatedDeltaNet(DeltaNetDims {
            key_heads: check.required("linear_num_key_heads", raw.linear_num_key_heads)?,
            value_heads: check.non_zero("linear_num_value_heads", value_heads)?,
            key_head_dim: check.required("linear_key_head_dim", raw.linear_key_head_dim)?,
            value_head_dim: check.required("linear_value_head_dim", raw.linear_value_head_dim)?,
            conv_kernel: check.optional("linear_conv_kernel_dim", raw.linear_conv_kernel_dim, 4)?,
            state_bytes,
        })));
    }
    let state_size = raw.mamba_d_state.or(raw.ssm_state_size);
    let heads = raw.mamba_n_heads.or(raw.mamba_num_heads);
    if state_size.is_none() && heads.is_none() {
        return Ok(None);
    }
    let conv_kernel = check.optional("mamba_d_conv", raw.mamba_d_conv.or(raw.conv_kernel), 4)?;
    let inner = hidden * check.optional("mamba_expand", raw.mamba_expand.or(raw.expand), 2)?;
    if let Some(heads) = heads {
        let heads = check.non_zero("mamba_n_heads", heads)?;
        let head_dim = match raw.mamba_d_head.or(raw.mamba_head_dim) {
            Some(d) => check.non_zero("mamba_d_head", d)?,
            None => inner / heads,
        };
        return Ok(Some(RecurrentMixer::Mamba2(MambaDims {
            inner: heads * head_dim,
            state_size: check.required("mamba_d_state", state_size)?,
            conv_kernel,
            heads,
            head_dim,
            groups: check.optional("mamba_n_groups", raw.mamba_n_groups.or(raw.n_groups), 1)?,
            dt_rank: 0,
            state_bytes,
        })));
    }
    let Some(state_size) = state_size else {
        return Ok(None);
    };
    Ok(Some(RecurrentMixer::Mamba1(MambaDims {
        inner,
        state_size: check.non_zero("mamba_d_state", state_size)?,
        conv_kernel,
        heads: 0,
        head_dim: 0,
        groups: 1,
        dt_rank: check.optional("mamba_dt_rank", raw.mamba_dt_rank, hidden.div_ceil(16))?,
        state_bytes,
    })))
}

/// `sliding_window`, unless absent or switched off by `use_sliding_window = false`.
fn active_window(raw: &RawConfig, check: &Check) -> Result<Option<u64>, ModelError> {
    match (raw.sliding_window, raw.use_sliding_window) {
        (None, _) | (_, Some(false)) => Ok(None),
        (Some(window), _) => Ok(Some(check.non_zero("sliding_window", window)?)),
    }
}

/// Gemma's interleaving period: the key if present, else the config class default.
fn sliding_window_pattern(raw: &RawConfig) -> Option<u64> {
    raw.sliding_window_pattern
        .or(match raw.model_type.as_deref() {
            Some("gemma2") => Some(2),
            Some("gemma3" | "gemma3_text") => Some(6),
            _ => None,
        })
}

fn layers_from_types(
    types: &[String],
    raw: &RawConfig,
    n_layers: u64,
    check: &Check,
) -> Result<Vec<LayerKind>, ModelError> {
    if types.len() as u64 != n_layers {
        let reason = format!(
            "has {} entries but num_hidden_layers = {n_layers}",
            types.len()
        );
        return Err(check.invalid("layer_types", reason));
    }
    types
        .iter()
        .map(|t| layer_from_type(t, raw, check))
        .collect()
}

fn layer_from_type(
    layer_type: &str,
    raw: &RawConfig,
    check: &Check,
) -> Result<LayerKind, ModelError> {
    let lower = layer_type.to_ascii_lowercase();
    if NO_KV_LAYER_WORDS.iter().any(|w| lower.contains(w)) {
        return Ok(LayerKind::NoKv);
    }
    match lower.as_str() {
        "full_attention" | "attention" => Ok(LayerKind::Full),
        "sliding_attention" => {
            let reason = || "absent, but layer_types has sliding_attention layers".to_string();
            let window = raw
                .sliding_window
                .ok_or_else(|| check.invalid("sliding_window", reason()))?;
            Ok(LayerKind::Sliding {
                window: check.non_zero("sliding_window", window)?,
            })
        }
        _ => Err(check.invalid(
            "layer_types",
            format!(
                "unknown layer type `{layer_type}` (known: full_attention, sliding_attention, \
                 or a linear/mamba/conv/recurrent kind, which holds no KV cache)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LLAMA_JSON: &str = r#"{
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
        "hidden_size": 4096, "intermediate_size": 14336, "vocab_size": 128256,
        "max_position_embeddings": 131072, "torch_dtype": "bfloat16",
        "rope_scaling": {"rope_type": "llama3", "factor": 8.0}, "rms_norm_eps": 1e-05
    }"#;

    fn from_json(json: &str) -> Result<Model, ModelError> {
        let path = Path::new("some/config.json");
        Model::from_raw("test", &RawConfig::from_json_str(json, path)?, path)
    }

    fn error_of(json: &str) -> String {
        from_json(json)
            .expect_err("config should be rejected")
            .to_string()
    }

    #[test]
    fn reads_config_json_with_unknown_and_nested_keys() {
        let m = from_json(LLAMA_JSON).unwrap();
        assert_eq!(m.n_layers(), 32);
        assert_eq!(m.head_dim, 128);
        assert!(!m.tie_word_embeddings);
        assert!(m.gated_mlp);
        assert_eq!(m.torch_dtype.as_deref(), Some("bfloat16"));
        assert!(m.layers.iter().all(|l| *l == LayerKind::Full));
    }

    #[test]
    fn missing_num_attention_heads_names_file_and_key() {
        let json = LLAMA_JSON.replace(r#""num_attention_heads": 32,"#, "");
        let err = error_of(&json);
        assert_eq!(
            err,
            "some/config.json: missing field `num_attention_heads` (Hugging Face config.json key)"
        );
    }

    #[test]
    fn inconsistent_values_are_errors() {
        let err = error_of(
            &LLAMA_JSON.replace(r#""num_key_value_heads": 8"#, r#""num_key_value_heads": 5"#),
        );
        assert!(
            err.contains("`num_key_value_heads`: 5 does not divide num_attention_heads = 32"),
            "{err}"
        );

        let err = error_of(&LLAMA_JSON.replace(
            r#""hidden_size": 4096"#,
            r#""hidden_size": 4096, "head_dim": 0"#,
        ));
        assert!(
            err.contains("invalid `head_dim`: must be greater than 0"),
            "{err}"
        );

        let err = error_of(&LLAMA_JSON.replace(r#""vocab_size": 128256"#, r#""vocab_size": 0"#));
        assert!(
            err.contains("some/config.json: invalid `vocab_size`"),
            "{err}"
        );

        let err = error_of(&LLAMA_JSON.replace(
            r#""torch_dtype""#,
            r#""layer_types": ["full_attention", "sliding_attention"], "sliding_window": 8, "torch_dtype""#,
        ));
        assert!(
            err.contains("`layer_types`: has 2 entries but num_hidden_layers = 32"),
            "{err}"
        );

        let err =
            error_of(&LLAMA_JSON.replace(r#""torch_dtype""#, r#""num_experts": 8, "torch_dtype""#));
        assert!(err.contains("missing field `num_experts_per_tok`"), "{err}");
    }

    #[test]
    fn unknown_layer_type_is_an_error() {
        let types = vec!["chunked_attention".to_string(); 32];
        let json = LLAMA_JSON.replace(
            r#""torch_dtype""#,
            &format!(
                r#""layer_types": {}, "torch_dtype""#,
                serde_json::to_string(&types).unwrap()
            ),
        );
        assert!(error_of(&json).contains("unknown layer type `chunked_attention`"));
    }

    #[test]
    fn wrong_type_in_json_names_file_and_line() {
        let json = LLAMA_JSON.replace(r#""vocab_size": 128256"#, r#""vocab_size": "lots""#);
        let err = error_of(&json);
        assert!(err.starts_with("some/config.json: invalid type"), "{err}");
        assert!(err.contains("line 4"), "{err}");
    }

    #[test]
    fn bad_toml_names_file_and_line() {
        let text = "num_hidden_layers = 32\nhidden_size = = 4096\n";
        let err = RawConfig::from_toml_str(text, Path::new("models/bad.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("models/bad.toml: "), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn gemma_2_json_without_layer_types_alternates_and_ties() {
        let json = r#"{"model_type": "gemma2", "num_hidden_layers": 42, "num_attention_heads": 16,
            "num_key_value_heads": 8, "head_dim": 256, "hidden_size": 3584,
            "intermediate_size": 14336, "vocab_size": 256000, "max_position_embeddings": 8192,
            "sliding_window": 4096}"#;
        let m = from_json(json).unwrap();
        assert!(m.tie_word_embeddings);
        assert_eq!(m.layers[0], LayerKind::Sliding { window: 4096 });
        assert_eq!(m.layers[1], LayerKind::Full);
        assert_eq!(m.kv_layers(), 42);
        assert_eq!(
            m.layers.iter().filter(|l| **l == LayerKind::Full).count(),
            21
        );
    }

    #[test]
    fn qwen2_max_window_layers_keeps_lower_layers_full() {
        let json = LLAMA_JSON.replace(
            r#""torch_dtype""#,
            r#""sliding_window": 4096, "use_sliding_window": true, "max_window_layers": 28, "torch_dtype""#,
        );
        let m = from_json(&json).unwrap();
        assert_eq!(m.layers[27], LayerKind::Full);
        assert_eq!(m.layers[28], LayerKind::Sliding { window: 4096 });
    }

    #[test]
    fn newer_dtype_key_is_read() {
        let m = from_json(&LLAMA_JSON.replace("torch_dtype", "dtype")).unwrap();
        assert_eq!(m.torch_dtype.as_deref(), Some("bfloat16"));
    }

    #[test]
    fn text_config_takes_top_level_keys_it_lacks() {
        let json = r#"{"model_type": "wrapper", "architectures": ["XForConditionalGeneration"],
            "tie_word_embeddings": true, "torch_dtype": "float16",
            "quantization_config": {"quant_method": "fp8"},
            "text_config": {"model_type": "llama", "num_hidden_layers": 2,
            "num_attention_heads": 8, "hidden_size": 512, "intermediate_size": 1024,
            "vocab_size": 1000, "max_position_embeddings": 2048},
            "vision_config": {"hidden_size": 64, "intermediate_size": 256,
            "num_hidden_layers": 2, "patch_size": 14, "image_size": 224}}"#;
        let m = from_json(json).unwrap();
        assert!(m.tie_word_embeddings);
        assert_eq!(m.torch_dtype.as_deref(), Some("float16"));
        assert_eq!(m.model_type.as_deref(), Some("llama"));
        assert_eq!(m.architectures, ["XForConditionalGeneration"]);
        assert_eq!(m.n_layers(), 2);
        let p = m.quantization.as_ref().unwrap();
        assert_eq!(
            (p.format, p.base),
            (
                super::super::WeightDtype::Fp8,
                super::super::WeightDtype::Fp16
            )
        );
        // 2 · (4·64² + 2·64·256) + 3·14²·64 + (224/14)²·64 + 64² + 64·512
        let vision =
            2 * (4 * 64 * 64 + 2 * 64 * 256) + 3 * 196 * 64 + 256 * 64 + 64 * 64 + 64 * 512;
        assert_eq!(m.vision_params, vision);
        assert_eq!(
            m.params_total(),
            m.embedding_params() + 2 * (m.attention_params() + m.dense_mlp_params())
        );
    }

    #[test]
    fn an_all_moe_text_model_needs_no_dense_width() {
        let json = LLAMA_JSON.replace(
            r#""intermediate_size": 14336,"#,
            r#""num_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 1024,"#,
        );
        let m = from_json(&json).unwrap();
        assert_eq!(m.intermediate_size, 1024);
        let json = json.replace(
            r#""num_experts": 8,"#,
            r#""num_experts": 8, "decoder_sparse_step": 2,"#,
        );
        assert!(error_of(&json).contains("missing field `intermediate_size`"));
    }

    #[test]
    fn config_json_takes_hf_quant_config_json_beside_it() {
        let dir = std::env::temp_dir().join(format!("planner-hfq-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.json"), LLAMA_JSON).unwrap();
        std::fs::write(
            dir.join("hf_quant_config.json"),
            r#"{"producer": {"name": "modelopt"}, "quantization": {"quant_algo": "NVFP4",
                "group_size": 16, "exclude_modules": ["lm_head"]}}"#,
        )
        .unwrap();
        let raw = RawConfig::read(&dir.join("config.json")).unwrap();
        let m = Model::from_raw("x", &raw, &dir.join("config.json")).unwrap();
        let p = m.quantization.unwrap();
        assert_eq!(p.format, super::super::WeightDtype::Nvfp4);
        assert_eq!(p.source, "hf_quant_config.json (modelopt NVFP4, W4A4)");
        std::fs::write(dir.join("hf_quant_config.json"), "{").unwrap();
        let err = RawConfig::read(&dir.join("config.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("hf_quant_config.json: "), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
