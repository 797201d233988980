//! A checkpoint's `quantization_config`, read into the [`Precision`] it is published in.
//!
//! Each method is read as vLLM reads it (vLLM main, 2026:
//! `vllm/model_executor/layers/quantization/*.py`, each `QuantizationConfig.from_config`),
//! with the keys Hugging Face transformers' quantizers write:
//!
//! | `quant_method` | vLLM file | weights | activations | scope |
//! |---|---|---|---|---|
//! | `fp8` | `fp8.py` `Fp8Config` | FP8 (per-tensor, or `weight_block_size` blocks) | FP8 | linear layers but `ignored_layers` / `modules_to_not_convert` |
//! | `fbgemm_fp8` | `fbgemm_fp8.py` | FP8 per channel | FP8 per token | linear layers but `modules_to_not_convert` |
//! | `compressed-tensors` | `compressed_tensors/compressed_tensors.py` | from `config_groups.*.weights` (`type`, `num_bits`, `group_size`) | from `input_activations` (`null`: weight-only) | linear layers but `ignore` |
//! | `awq` | `awq.py` | INT4, `group_size` | 16-bit | linear layers but `modules_to_not_convert` |
//! | `gptq` | `gptq.py` | INT4 (`bits` 4; 2 and 3 sized as 4) or INT8 (`bits` 8), `group_size` | 16-bit | linear layers, lm_head if `lm_head` |
//! | `bitsandbytes` | `bitsandbytes.py` | NF4 (`load_in_4bit`) or INT8 (`load_in_8bit`) | 16-bit | linear layers but `llm_int8_skip_modules` |
//! | `mxfp4` | `mxfp4.py` | MXFP4 | 16-bit | routed experts only (vLLM runs the rest unquantized) |
//! | `modelopt` | `modelopt.py` | FP8 (`quant_algo` FP8) or NVFP4 | FP8 / FP4 | linear layers but `exclude_modules` |
//!
//! A config without `quant_method` is read as bitsandbytes when it has `load_in_4bit` or
//! `load_in_8bit` (older transformers), as ModelOpt when it has `quant_algo`, and as MLX's
//! affine quantization when it has only `bits` and `group_size`.
//!
//! **What stays 16-bit.** The lm_head, embeddings and MoE routers always do here (as every
//! method above keeps them, except GPTQ's `lm_head: true`). A module list (`ignore`,
//! `modules_to_not_convert`, …) takes roles out of the quantized scope: a name that covers a
//! role in every layer (`lm_head`, `re:.*self_attn.*`, `model.layers.*.self_attn`, or every
//! layer listed one by one as Llama-3.1-405B-FP8 lists its attention) turns the role off; a
//! name that covers some layers keeps those layers' role 16-bit ([`Precision::kept`]). A name
//! of part of a role (only `q_proj`) keeps the whole role of that layer 16-bit: the error, if
//! any, is towards the larger size. Small tensors (convolutions, `in_proj_a`/`in_proj_b` of a
//! linear-attention layer, norms, routers), the vision tower and the MTP layers are not in
//! the counts the scope applies to and are skipped.

use super::{
    ActQuant, KeptLayer, LayerKind, MlpKind, Model, ModelError, Precision, Role, Scope, WeightDtype,
};
use serde_json::{Map, Value};
use std::path::Path;

/// The `quant_method` values read here, for the unknown-method error.
pub const KNOWN_METHODS: &[&str] = &[
    "fp8",
    "fbgemm_fp8",
    "compressed-tensors",
    "awq",
    "gptq",
    "bitsandbytes",
    "mxfp4",
    "modelopt",
];

/// The precision `quantization_config` (from `source`) publishes `model` in; `None` when there
/// is no block (or it is JSON `null`). Errors name `source` and the key: an unknown
/// `quant_method`, a block that is not an object, a bit width no format here holds.
pub fn checkpoint_precision(
    config: Option<&Value>,
    model: &Model,
    source: &Path,
) -> Result<Option<Precision>, ModelError> {
    let block = match config {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(block)) => block,
        Some(other) => {
            return Err(invalid(
                source,
                "quantization_config",
                format!("must be an object, not {other}"),
            ));
        }
    };
    let read = Read {
        block,
        model,
        source,
    };
    let method = block.get("quant_method").and_then(Value::as_str);
    let quantized = match method.map(str::to_ascii_lowercase).as_deref() {
        Some("fp8") => read.fp8()?,
        Some("fbgemm_fp8") => read.fbgemm_fp8(),
        Some("compressed-tensors" | "compressed_tensors") => read.compressed_tensors()?,
        Some("awq" | "awq_marlin") => read.awq()?,
        Some("gptq" | "gptq_marlin") => read.gptq()?,
        Some("bitsandbytes") => read.bitsandbytes()?,
        Some("mxfp4") => read.mxfp4(),
        Some("modelopt" | "modelopt_fp4") => read.modelopt()?,
        Some(_) => {
            return Err(ModelError::UnknownQuantMethod {
                path: source.to_path_buf(),
                method: method.unwrap_or_default().to_string(),
                known: KNOWN_METHODS,
            });
        }
        None if read.flag("load_in_4bit") || read.flag("load_in_8bit") => read.bitsandbytes()?,
        None if block.contains_key("quant_algo") || block.contains_key("quantization") => {
            read.modelopt()?
        }
        None if block.contains_key("bits") && block.contains_key("group_size") => read.mlx()?,
        None => {
            return Err(ModelError::Missing {
                path: source.to_path_buf(),
                field: "quantization_config.quant_method",
            });
        }
    };
    Ok(Some(quantized.into_precision(model, source)))
}

/// What one method's keys say, before the scope is resolved against the model.
struct Quantized {
    format: WeightDtype,
    activations: ActQuant,
    /// The roles the method quantizes before its module list applies.
    scope: Scope,
    /// Modules kept 16-bit, as written.
    skip: Vec<String>,
    /// The method and its parameters, for [`Precision::source`].
    summary: String,
    /// Where the block came from when not from the config's `quantization_config`.
    origin: Option<&'static str>,
}

impl Quantized {
    fn new(format: WeightDtype, activations: ActQuant, summary: String) -> Quantized {
        Quantized {
            format,
            activations,
            scope: Scope::LINEAR,
            skip: Vec::new(),
            summary,
            origin: None,
        }
    }

    fn skipping(mut self, skip: Vec<String>) -> Quantized {
        self.skip = skip;
        self
    }

    fn into_precision(self, model: &Model, source: &Path) -> Precision {
        let (scope, kept) = apply_skip_list(self.scope, &self.skip, model);
        let base = if model.torch_dtype.as_deref() == Some("float16") {
            WeightDtype::Fp16
        } else {
            WeightDtype::Bf16
        };
        let origin = match self.origin {
            Some(origin) => origin.to_string(),
            None => {
                let file = source
                    .file_name()
                    .map_or_else(|| "config".into(), |f| f.to_string_lossy().into_owned());
                format!("{file} quantization_config")
            }
        };
        let kept_note = describe_kept(&self.scope, &scope, &kept);
        Precision {
            format: self.format,
            base,
            scope,
            kept,
            activations: self.activations,
            source: format!("{origin} ({}{kept_note})", self.summary),
        }
    }
}

/// One `quantization_config` object being read.
struct Read<'a> {
    block: &'a Map<String, Value>,
    model: &'a Model,
    source: &'a Path,
}

impl Read<'_> {
    /// vLLM `fp8.py` (`Fp8Config.from_config`): `activation_scheme` (static or dynamic: the
    /// activations are FP8 either way), `weight_block_size`, and the layers kept 16-bit in
    /// `ignored_layers` (newer: `modules_to_not_convert`).
    fn fp8(&self) -> Result<Quantized, ModelError> {
        let scheme = self.text("activation_scheme").unwrap_or("dynamic");
        let block = match self
            .block
            .get("weight_block_size")
            .and_then(Value::as_array)
        {
            Some(dims) => {
                let dims: Vec<String> = dims.iter().map(ToString::to_string).collect();
                format!(", block {}", dims.join("×"))
            }
            None => String::new(),
        };
        let summary = format!("fp8, W8A8 {scheme}{block}");
        Ok(Quantized::new(WeightDtype::Fp8, ActQuant::Fp8, summary)
            .skipping(self.names(&["ignored_layers", "modules_to_not_convert"])))
    }

    /// vLLM `fbgemm_fp8.py` (`FBGEMMFp8Config.from_config`): FP8 weights per channel, FP8
    /// activations per token (capped by `activation_scale_ub`), `modules_to_not_convert`.
    fn fbgemm_fp8(&self) -> Quantized {
        Quantized::new(
            WeightDtype::Fp8,
            ActQuant::Fp8,
            "fbgemm_fp8, W8A8 per channel".into(),
        )
        .skipping(self.names(&["modules_to_not_convert"]))
    }

    /// vLLM `compressed_tensors/compressed_tensors.py` (`CompressedTensorsConfig`): each
    /// `config_groups` entry has `weights` (`type` `float`|`int`, `num_bits`, `strategy`,
    /// `group_size`) and `input_activations` (`null` = weight-only); `ignore` lists the
    /// modules kept 16-bit. Several groups (a mixed recipe) are sized at the widest.
    fn compressed_tensors(&self) -> Result<Quantized, ModelError> {
        const GROUPS: &str = "quantization_config.config_groups";
        let groups = self
            .block
            .get("config_groups")
            .and_then(Value::as_object)
            .filter(|g| !g.is_empty())
            .ok_or(ModelError::Missing {
                path: self.source.to_path_buf(),
                field: GROUPS,
            })?;
        let mut schemes = Vec::new();
        for group in groups.values() {
            let weights = group.get("weights").and_then(Value::as_object);
            let Some(weights) = weights else {
                return Err(invalid(
                    self.source,
                    GROUPS,
                    "a group has no `weights`".into(),
                ));
            };
            let bits = weights.get("num_bits").and_then(Value::as_u64).unwrap_or(8);
            let float = weights.get("type").and_then(Value::as_str) == Some("float");
            let group_size = weights.get("group_size").and_then(Value::as_u64);
            let format = match (float, bits) {
                (true, 8) => WeightDtype::Fp8,
                (false, 8) => WeightDtype::Int8,
                (true, 4) if group_size == Some(32) => WeightDtype::Mxfp4,
                (true, 4) => WeightDtype::Nvfp4,
                (false, 4) => int4(group_size, self.model),
                _ => {
                    let kind = if float { "float" } else { "int" };
                    let reason = format!(
                        "{bits}-bit {kind} weights are not a format the planner sizes (known: \
                         8-bit float or int, 4-bit float or int)"
                    );
                    return Err(invalid(self.source, GROUPS, reason));
                }
            };
            let activations = match group.get("input_activations").and_then(Value::as_object) {
                None => ActQuant::None,
                Some(a) => {
                    let bits = a.get("num_bits").and_then(Value::as_u64).unwrap_or(8);
                    match (a.get("type").and_then(Value::as_str), bits) {
                        (Some("float"), 4) => ActQuant::Fp4,
                        (Some("float"), _) => ActQuant::Fp8,
                        _ => ActQuant::Int8,
                    }
                }
            };
            schemes.push((format, activations));
        }
        let (format, activations) = schemes
            .iter()
            .copied()
            .max_by(|a, b| a.0.bytes_per_param().total_cmp(&b.0.bytes_per_param()))
            .unwrap_or((WeightDtype::Fp8, ActQuant::Fp8));
        let mut summary = format!(
            "compressed-tensors{}, {format} {}",
            self.text("format")
                .map(|f| format!(" {f}"))
                .unwrap_or_default(),
            scheme_name(format, activations)
        );
        if schemes.len() > 1 {
            summary += &format!(", {} groups sized at the widest", schemes.len());
        }
        Ok(Quantized::new(format, activations, summary).skipping(self.names(&["ignore"])))
    }

    /// vLLM `awq.py` (`AWQConfig.from_config`): `w_bit`/`bits` (4 only), `q_group_size`/
    /// `group_size` (−1: per channel), `modules_to_not_convert`. Weight-only.
    fn awq(&self) -> Result<Quantized, ModelError> {
        let bits = self.count(&["w_bit", "bits"]).unwrap_or(4);
        if bits != 4 {
            let reason = format!("{bits}: AWQ checkpoints are 4-bit (vLLM reads no other width)");
            return Err(invalid(self.source, "quantization_config.bits", reason));
        }
        let group = self.group_size(&["q_group_size", "group_size"]);
        let format = int4(group, self.model);
        let summary = format!("awq, {format} weight-only");
        Ok(Quantized::new(format, ActQuant::None, summary)
            .skipping(self.names(&["modules_to_not_convert"])))
    }

    /// vLLM `gptq.py` (`GPTQConfig.from_config`): `bits` (2, 3, 4 or 8), `group_size` (−1: per
    /// channel), `desc_act`, `lm_head` (quantized too when true). Weight-only. 2- and 3-bit
    /// checkpoints are sized as 4-bit (no format here holds them; errs larger).
    fn gptq(&self) -> Result<Quantized, ModelError> {
        let bits = self.count(&["bits"]).unwrap_or(4);
        let group = self.group_size(&["group_size"]);
        let format = match bits {
            8 => WeightDtype::Int8,
            2..=4 => int4(group, self.model),
            _ => {
                let reason = format!("{bits}: GPTQ checkpoints are 2, 3, 4 or 8-bit");
                return Err(invalid(self.source, "quantization_config.bits", reason));
            }
        };
        let mut summary = format!("gptq {bits}-bit, {format} weight-only");
        if bits < 4 {
            summary += ", sized as 4-bit";
        }
        if self.flag("desc_act") {
            summary += ", desc_act";
        }
        let mut quantized = Quantized::new(format, ActQuant::None, summary)
            .skipping(self.names(&["modules_to_not_convert"]));
        quantized.scope.lm_head = self.flag("lm_head");
        Ok(quantized)
    }

    /// vLLM `bitsandbytes.py` (`BitsAndBytesConfig.from_config`): `load_in_4bit` with
    /// `bnb_4bit_quant_type` `nf4` or `fp4` (both a 4-bit code and a scale per 64 weights:
    /// sized as [`WeightDtype::Nf4`]), or `load_in_8bit` (INT8); `llm_int8_skip_modules`.
    /// Weight-only.
    fn bitsandbytes(&self) -> Result<Quantized, ModelError> {
        let skip = self.names(&["llm_int8_skip_modules"]);
        if self.flag("load_in_4bit") {
            let kind = self.text("bnb_4bit_quant_type").unwrap_or("nf4");
            let summary = format!("bitsandbytes {kind} 4-bit, weight-only");
            return Ok(Quantized::new(WeightDtype::Nf4, ActQuant::None, summary).skipping(skip));
        }
        if self.flag("load_in_8bit") {
            let summary = "bitsandbytes 8-bit, weight-only".into();
            return Ok(Quantized::new(WeightDtype::Int8, ActQuant::None, summary).skipping(skip));
        }
        Err(invalid(
            self.source,
            "quantization_config.load_in_4bit",
            "bitsandbytes needs `load_in_4bit` or `load_in_8bit` set to true".into(),
        ))
    }

    /// vLLM `mxfp4.py` (`Mxfp4Config`): MXFP4 for the MoE experts only; every linear layer
    /// runs unquantized (gpt-oss lists attention, routers, embeddings and lm_head in
    /// `modules_to_not_convert`). Weight-only on Hopper (16-bit activations).
    fn mxfp4(&self) -> Quantized {
        let mut quantized = Quantized::new(
            WeightDtype::Mxfp4,
            ActQuant::None,
            "mxfp4, routed experts only".into(),
        )
        .skipping(self.names(&["modules_to_not_convert"]));
        quantized.scope = Scope {
            attention: false,
            dense_mlp: false,
            experts: true,
            shared_experts: false,
            lm_head: false,
        };
        quantized
    }

    /// vLLM `modelopt.py` (`ModelOptFp8Config`, `ModelOptNvFp4Config`): `quant_algo` `FP8`
    /// (W8A8), `NVFP4` (W4A4, an FP8 scale per 16 weights), `W4A16_NVFP4`, `W4A8_AWQ`;
    /// `exclude_modules`. NVIDIA's `hf_quant_config.json` nests the same keys under
    /// `quantization`, which is read too.
    fn modelopt(&self) -> Result<Quantized, ModelError> {
        let flat = self.block.get("quantization").and_then(Value::as_object);
        let inner = Read {
            block: flat.unwrap_or(self.block),
            ..*self
        };
        let algo = inner
            .text("quant_algo")
            .unwrap_or_default()
            .to_ascii_uppercase();
        let (format, activations) = match algo.as_str() {
            "FP8" | "FP8_PER_CHANNEL_PER_TOKEN" | "FP8_BLOCK_SCALES" => {
                (WeightDtype::Fp8, ActQuant::Fp8)
            }
            "FP8_PB_WO" => (WeightDtype::Fp8, ActQuant::None),
            "NVFP4" => (WeightDtype::Nvfp4, ActQuant::Fp4),
            "W4A16_NVFP4" => (WeightDtype::Nvfp4, ActQuant::None),
            "W4A8_AWQ" => (WeightDtype::Int4 { group: 128 }, ActQuant::Fp8),
            _ => {
                let reason = format!(
                    "{algo:?} is not a ModelOpt algorithm the planner sizes (known: FP8, \
                     FP8_PER_CHANNEL_PER_TOKEN, FP8_BLOCK_SCALES, FP8_PB_WO, NVFP4, W4A16_NVFP4, \
                     W4A8_AWQ)"
                );
                return Err(invalid(
                    self.source,
                    "quantization_config.quant_algo",
                    reason,
                ));
            }
        };
        let summary = format!("modelopt {algo}, {}", scheme_name(format, activations));
        let mut quantized = Quantized::new(format, activations, summary)
            .skipping(inner.names(&["exclude_modules", "ignore"]));
        if flat.is_some() {
            quantized.origin = Some("hf_quant_config.json");
        }
        Ok(quantized)
    }

    /// MLX (`mlx_lm`) affine quantization: `bits` and `group_size`, no `quant_method`; a
    /// 16-bit scale and bias per group (sized with the scale only, as [`WeightDtype::Int4`]).
    /// Weight-only. Embeddings and lm_head are quantized too in MLX files; sized 16-bit here.
    fn mlx(&self) -> Result<Quantized, ModelError> {
        let bits = self.count(&["bits"]).unwrap_or(4);
        let group = self.group_size(&["group_size"]);
        let format = match bits {
            8 => WeightDtype::Int8,
            4 => int4(group, self.model),
            _ => {
                let reason = format!("{bits}: MLX checkpoints the planner sizes are 4 or 8-bit");
                return Err(invalid(self.source, "quantization_config.bits", reason));
            }
        };
        let summary = format!("MLX {bits}-bit, {format} weight-only");
        Ok(Quantized::new(format, ActQuant::None, summary))
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.block.get(key).and_then(Value::as_str)
    }

    fn flag(&self, key: &str) -> bool {
        self.block
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// The first of `keys` that holds a non-negative integer.
    fn count(&self, keys: &[&str]) -> Option<u64> {
        keys.iter()
            .find_map(|k| self.block.get(*k).and_then(Value::as_u64))
    }

    /// A group size: the first of `keys` present; −1 (or absent) = per channel (`None`).
    fn group_size(&self, keys: &[&str]) -> Option<u64> {
        keys.iter()
            .find_map(|k| self.block.get(*k).and_then(Value::as_i64))
            .and_then(|g| u64::try_from(g).ok())
            .filter(|&g| g > 0)
    }

    /// Every string in the lists under `keys`.
    fn names(&self, keys: &[&str]) -> Vec<String> {
        keys.iter()
            .filter_map(|k| self.block.get(*k).and_then(Value::as_array))
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }
}

/// INT4 with `group` weights per scale; `None` (per channel: one scale per output row) is
/// sized as one scale per `hidden_size` weights, the input width of most projections.
fn int4(group: Option<u64>, model: &Model) -> WeightDtype {
    let group = group.unwrap_or(model.hidden_size);
    WeightDtype::Int4 {
        group: u32::try_from(group).unwrap_or(u32::MAX),
    }
}

/// `W8A8`, `W4A16`, … for the source line.
fn scheme_name(format: WeightDtype, activations: ActQuant) -> String {
    let weight_bits = if format.bytes_per_param() >= 1.0 {
        8
    } else {
        4
    };
    let act = match activations {
        ActQuant::None => "16",
        ActQuant::Fp8 | ActQuant::Int8 => "8",
        ActQuant::Fp4 => "4",
    };
    format!("W{weight_bits}A{act}")
}

fn invalid(source: &Path, field: &'static str, reason: String) -> ModelError {
    ModelError::Invalid {
        path: source.to_path_buf(),
        field,
        reason,
    }
}

/// Which layers a module name reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layers {
    /// One decoder layer.
    One(usize),
    /// Every layer (a wildcard, a regex, or no layer index).
    All,
}

/// Which layers' mixer a name reaches: `self_attn` only layers with attention (KV),
/// `linear_attn`/`mamba` only the recurrent ones, a bare projection name either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mixer {
    Attention,
    Recurrent,
    Any,
}

/// The roles a module name covers, and where.
fn classify(name: &str) -> Vec<(Role, Layers, Mixer)> {
    let lower = name.to_ascii_lowercase();
    let pattern = lower.strip_prefix("re:").unwrap_or(&lower);
    let tokens: Vec<&str> = pattern
        .split(['.', '/'])
        .map(|t| t.trim_matches(|c: char| "^$*+?\\()[]{}|".contains(c)))
        .filter(|t| !t.is_empty())
        .collect();
    let has = |word: &str| tokens.contains(&word);
    let skipped_parts = [
        "visual",
        "vision_tower",
        "vision_model",
        "multi_modal_projector",
        "mm_projector",
        "mtp",
        "embed_tokens",
        "wte",
        "gate",
        "router",
        "shared_expert_gate",
        "e_score_correction_bias",
        "conv1d",
        "in_proj_a",
        "in_proj_b",
        "in_proj_ba",
        "a_log",
        "dt_bias",
        "norm",
        "q_norm",
        "k_norm",
    ];
    if has("lm_head") {
        return vec![(Role::LmHead, Layers::All, Mixer::Any)];
    }
    if tokens.iter().any(|t| skipped_parts.contains(t)) {
        return Vec::new();
    }
    let layers = layer_of(&tokens);
    let mixer = if has("linear_attn") || has("mixer") || has("mamba") {
        Some(Mixer::Recurrent)
    } else if has("self_attn") || has("attn") || has("attention") {
        Some(Mixer::Attention)
    } else if ["q_proj", "k_proj", "v_proj", "o_proj", "qkv_proj"]
        .iter()
        .any(|p| has(p))
    {
        Some(Mixer::Any)
    } else {
        None
    };
    if let Some(mixer) = mixer {
        return vec![(Role::Attention, layers, mixer)];
    }
    if has("shared_expert") || has("shared_experts") {
        return vec![(Role::SharedExpert, layers, Mixer::Any)];
    }
    if has("experts") {
        return vec![(Role::Expert, layers, Mixer::Any)];
    }
    let mlp = has("mlp") || has("feed_forward") || has("ffn");
    let last = tokens.last().copied().unwrap_or_default();
    if mlp && matches!(last, "mlp" | "feed_forward" | "ffn") {
        // The whole block: a dense MLP, or a MoE layer's experts and shared experts.
        return [Role::DenseMlp, Role::Expert, Role::SharedExpert]
            .into_iter()
            .map(|r| (r, layers, Mixer::Any))
            .collect();
    }
    if mlp || ["gate_proj", "up_proj", "down_proj", "gate_up_proj"].contains(&last) {
        return vec![(Role::DenseMlp, layers, Mixer::Any)];
    }
    Vec::new()
}

/// The layer index after `layers` (`model.layers.12.mlp`), if it is a number.
fn layer_of(tokens: &[&str]) -> Layers {
    tokens
        .iter()
        .position(|t| *t == "layers" || *t == "h" || *t == "blocks")
        .and_then(|i| tokens.get(i + 1))
        .and_then(|t| t.parse().ok())
        .map_or(Layers::All, Layers::One)
}

/// The layers where `role` exists in `model` (reached by a name for `mixer`).
fn layers_with(role: Role, mixer: Mixer, model: &Model) -> Vec<usize> {
    (0..model.n_layers())
        .filter(|&l| match role {
            Role::Attention => match mixer {
                Mixer::Attention => model.layers[l] != LayerKind::NoKv,
                Mixer::Recurrent => model.layers[l] == LayerKind::NoKv,
                Mixer::Any => true,
            },
            Role::DenseMlp => model.mlp_layers[l] == MlpKind::Dense,
            Role::Expert | Role::SharedExpert => model.mlp_layers[l] == MlpKind::Moe,
            Role::Embedding | Role::LmHead | Role::Router => false,
        })
        .collect()
}

/// `scope` less what `skip` keeps 16-bit: roles covered in every layer where they exist are
/// turned off, roles covered in some layers are kept 16-bit there.
fn apply_skip_list(mut scope: Scope, skip: &[String], model: &Model) -> (Scope, Vec<KeptLayer>) {
    let roles = [
        Role::Attention,
        Role::DenseMlp,
        Role::Expert,
        Role::SharedExpert,
    ];
    let mut covered: Vec<Vec<usize>> = vec![Vec::new(); roles.len()];
    for name in skip {
        for (role, layers, mixer) in classify(name) {
            if role == Role::LmHead {
                scope.lm_head = false;
                continue;
            }
            let Some(slot) = roles.iter().position(|r| *r == role) else {
                continue;
            };
            let exists = layers_with(role, mixer, model);
            match layers {
                Layers::All => covered[slot].extend(exists),
                Layers::One(l) if exists.contains(&l) => covered[slot].push(l),
                Layers::One(_) => {}
            }
        }
    }
    let mut kept = Vec::new();
    for (role, mut layers) in roles.into_iter().zip(covered) {
        layers.sort_unstable();
        layers.dedup();
        if layers.is_empty() {
            continue;
        }
        if layers == layers_with(role, Mixer::Any, model) {
            match role {
                Role::Attention => scope.attention = false,
                Role::DenseMlp => scope.dense_mlp = false,
                Role::Expert => scope.experts = false,
                _ => scope.shared_experts = false,
            }
        } else {
            kept.extend(layers.into_iter().map(|layer| KeptLayer { role, layer }));
        }
    }
    (scope, kept)
}

/// `; 16-bit: attention, dense MLP in 2 layers` for the source line: the roles the module
/// list took out of the method's scope `before`; empty if it took none.
fn describe_kept(before: &Scope, after: &Scope, kept: &[KeptLayer]) -> String {
    let names = [
        (
            Role::Attention,
            "attention",
            before.attention && !after.attention,
        ),
        (
            Role::DenseMlp,
            "dense MLP",
            before.dense_mlp && !after.dense_mlp,
        ),
        (Role::Expert, "experts", before.experts && !after.experts),
        (
            Role::SharedExpert,
            "shared experts",
            before.shared_experts && !after.shared_experts,
        ),
    ];
    let mut parts = Vec::new();
    for (role, name, turned_off) in names {
        let layers = kept.iter().filter(|k| k.role == role).count();
        if turned_off {
            parts.push(name.to_string());
        } else if layers > 0 {
            parts.push(format!("{name} in {layers} layers"));
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("; 16-bit: {}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tests::builtin_model;

    fn precision(block: &str, model: &Model) -> Result<Option<Precision>, ModelError> {
        let value: Value = serde_json::from_str(block).unwrap();
        checkpoint_precision(Some(&value), model, Path::new("dir/config.json"))
    }

    #[test]
    fn unknown_quant_method_names_file_key_and_known_methods() {
        let m = builtin_model("llama-3.1-8b");
        let err = precision(r#"{"quant_method": "hqq", "nbits": 4}"#, &m)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "dir/config.json: unknown `quantization_config.quant_method` = \"hqq\" (known: \
                 fp8, fbgemm_fp8, compressed-tensors, awq, gptq, bitsandbytes, mxfp4, modelopt)"
            ),
            "{err}"
        );
        assert!(err.contains("--weight-dtype"), "{err}");
        assert!(err.contains("model.weight_dtype"), "{err}");
    }

    #[test]
    fn a_block_without_method_or_known_keys_is_missing_its_method() {
        let m = builtin_model("llama-3.1-8b");
        let err = precision(r#"{"foo": 1}"#, &m).unwrap_err().to_string();
        assert_eq!(
            err,
            "dir/config.json: missing field `quantization_config.quant_method` (Hugging Face \
             config.json key)"
        );
        assert_eq!(precision("null", &m).unwrap(), None);
    }

    #[test]
    fn fbgemm_keeps_attention_everywhere_and_mlps_of_listed_layers() {
        // Llama-3.1-405B-Instruct-FP8's pattern, on an 8-layer stand-in: every layer's
        // attention listed projection by projection, the first and last layers' MLPs.
        let m = builtin_model("llama-3.1-8b");
        let mut skip: Vec<String> = (0..32)
            .flat_map(|l| {
                ["q_proj", "k_proj", "v_proj", "o_proj"]
                    .map(|p| format!("model.layers.{l}.self_attn.{p}"))
            })
            .collect();
        for l in [0, 31] {
            for p in ["gate_proj", "up_proj", "down_proj"] {
                skip.push(format!("model.layers.{l}.mlp.{p}"));
            }
        }
        skip.push("lm_head".into());
        let block = serde_json::json!({
            "quant_method": "fbgemm_fp8", "activation_scale_ub": 1200.0,
            "modules_to_not_convert": skip,
        });
        let p = precision(&block.to_string(), &m).unwrap().unwrap();
        assert_eq!(p.format, WeightDtype::Fp8);
        assert_eq!(p.activations, ActQuant::Fp8);
        assert!(!p.scope.attention && p.scope.dense_mlp);
        let kept: Vec<usize> = p.kept.iter().map(|k| k.layer).collect();
        assert_eq!(kept, [0, 31]);
        assert!(p.kept.iter().all(|k| k.role == Role::DenseMlp));
        assert!(
            p.source
                .ends_with("16-bit: attention, dense MLP in 2 layers)"),
            "{}",
            p.source
        );
        // Bytes: MLPs of 30 layers at 1 byte, everything else at 2.
        let bf16 = m.weight_bytes(&Precision::uniform(WeightDtype::Bf16));
        assert_eq!(m.weight_bytes(&p), bf16 - 30 * m.dense_mlp_params());
    }

    #[test]
    fn compressed_tensors_schemes() {
        let m = builtin_model("llama-3.1-8b");
        let group = |weights: &str, acts: &str, format: &str| {
            format!(
                r#"{{"quant_method": "compressed-tensors", "format": "{format}",
                "config_groups": {{"group_0": {{"targets": ["Linear"],
                "weights": {weights}, "input_activations": {acts}}}}},
                "ignore": ["lm_head", "re:.*mlp.gate$"]}}"#
            )
        };
        let fp8 = r#"{"num_bits": 8, "type": "float", "strategy": "channel"}"#;
        let dyn8 = r#"{"num_bits": 8, "type": "float", "strategy": "token", "dynamic": true}"#;
        let p = precision(&group(fp8, dyn8, "float-quantized"), &m)
            .unwrap()
            .unwrap();
        assert_eq!((p.format, p.activations), (WeightDtype::Fp8, ActQuant::Fp8));
        assert_eq!(p.scope, Scope::LINEAR);
        assert_eq!(
            p.source,
            "config.json quantization_config (compressed-tensors float-quantized, fp8 W8A8)"
        );

        let w4 = r#"{"num_bits": 4, "type": "int", "strategy": "group", "group_size": 128}"#;
        let p = precision(&group(w4, "null", "pack-quantized"), &m)
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.format, p.activations),
            (WeightDtype::Int4 { group: 128 }, ActQuant::None)
        );

        let int8 = r#"{"num_bits": 8, "type": "int", "strategy": "channel"}"#;
        let a8 = r#"{"num_bits": 8, "type": "int", "strategy": "token", "dynamic": true}"#;
        let p = precision(&group(int8, a8, "int-quantized"), &m)
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.format, p.activations),
            (WeightDtype::Int8, ActQuant::Int8)
        );

        let fp4 =
            r#"{"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16}"#;
        let a4 =
            r#"{"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16}"#;
        let p = precision(&group(fp4, a4, "nvfp4-pack-quantized"), &m)
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.format, p.activations),
            (WeightDtype::Nvfp4, ActQuant::Fp4)
        );

        let w2 = r#"{"num_bits": 2, "type": "int", "strategy": "group", "group_size": 64}"#;
        let err = precision(&group(w2, "null", "pack-quantized"), &m)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("invalid `quantization_config.config_groups`: 2-bit int weights"),
            "{err}"
        );
    }

    #[test]
    fn ignore_regex_over_attention_turns_attention_off() {
        let m = builtin_model("qwen3-30b-a3b");
        let block = r#"{"quant_method": "compressed-tensors", "config_groups": {"group_0": {
            "weights": {"num_bits": 8, "type": "float"}, "input_activations": null}},
            "ignore": ["lm_head", "re:.*self_attn.*", "re:.*mlp.gate$"]}"#;
        let p = precision(block, &m).unwrap().unwrap();
        assert_eq!(p.activations, ActQuant::None);
        assert!(!p.scope.attention && p.scope.experts);
        assert!(p.kept.is_empty());
    }

    #[test]
    fn awq_gptq_bitsandbytes_mxfp4_modelopt_mlx() {
        let m = builtin_model("llama-3.1-8b");
        let awq = r#"{"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemm",
            "zero_point": true, "modules_to_not_convert": null}"#;
        let p = precision(awq, &m).unwrap().unwrap();
        assert_eq!(
            (p.format, p.activations),
            (WeightDtype::Int4 { group: 128 }, ActQuant::None)
        );
        let err = precision(r#"{"quant_method": "awq", "bits": 3}"#, &m)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("invalid `quantization_config.bits`: 3"),
            "{err}"
        );

        let gptq = r#"{"quant_method": "gptq", "bits": 4, "group_size": -1, "desc_act": true,
            "lm_head": true}"#;
        let p = precision(gptq, &m).unwrap().unwrap();
        assert_eq!(p.format, WeightDtype::Int4 { group: 4096 });
        assert!(p.scope.lm_head);
        let p = precision(
            r#"{"quant_method": "gptq", "bits": 8, "group_size": 128}"#,
            &m,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (p.format, p.activations),
            (WeightDtype::Int8, ActQuant::None)
        );

        let bnb = r#"{"quant_method": "bitsandbytes", "load_in_4bit": true,
            "bnb_4bit_quant_type": "nf4", "llm_int8_skip_modules": ["lm_head"]}"#;
        let p = precision(bnb, &m).unwrap().unwrap();
        assert_eq!(
            (p.format, p.activations),
            (WeightDtype::Nf4, ActQuant::None)
        );
        let p = precision(r#"{"load_in_8bit": true}"#, &m).unwrap().unwrap();
        assert_eq!(p.format, WeightDtype::Int8);

        // gpt-oss's block: MXFP4 experts, nothing else.
        let mx = r#"{"modules_to_not_convert": ["model.layers.*.self_attn",
            "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"],
            "quant_method": "mxfp4"}"#;
        let moe = builtin_model("qwen3-30b-a3b");
        let p = precision(mx, &moe).unwrap().unwrap();
        assert_eq!(p.format, WeightDtype::Mxfp4);
        assert!(p.scope.experts && !p.scope.attention && !p.scope.dense_mlp);

        let nvfp4 = r#"{"quant_method": "modelopt", "quant_algo": "NVFP4", "group_size": 16,
            "kv_cache_quant_algo": null, "exclude_modules": ["lm_head"]}"#;
        let p = precision(nvfp4, &m).unwrap().unwrap();
        assert_eq!(
            (p.format, p.activations),
            (WeightDtype::Nvfp4, ActQuant::Fp4)
        );
        // hf_quant_config.json's shape.
        let hf = r#"{"producer": {"name": "modelopt"}, "quantization": {"quant_algo": "FP8",
            "kv_cache_quant_algo": "FP8", "exclude_modules": ["lm_head"]}}"#;
        let p = precision(hf, &m).unwrap().unwrap();
        assert_eq!((p.format, p.activations), (WeightDtype::Fp8, ActQuant::Fp8));

        let mlx = r#"{"group_size": 64, "bits": 4}"#;
        let p = precision(mlx, &m).unwrap().unwrap();
        assert_eq!(p.format, WeightDtype::Int4 { group: 64 });
    }

    #[test]
    fn module_names_map_to_roles() {
        assert_eq!(
            classify("model.layers.3.self_attn.q_proj"),
            [(Role::Attention, Layers::One(3), Mixer::Attention)]
        );
        assert_eq!(
            classify("model.language_model.layers.0.linear_attn.out_proj"),
            [(Role::Attention, Layers::One(0), Mixer::Recurrent)]
        );
        assert!(classify("model.language_model.layers.0.linear_attn.in_proj_a").is_empty());
        assert!(classify("re:.*mlp.gate$").is_empty());
        assert!(classify("model.visual.blocks.0.attn.qkv").is_empty());
        assert_eq!(
            classify("model.layers.*.mlp.experts"),
            [(Role::Expert, Layers::All, Mixer::Any)]
        );
        assert_eq!(
            classify("model.layers.5.mlp.down_proj"),
            [(Role::DenseMlp, Layers::One(5), Mixer::Any)]
        );
        assert_eq!(classify("lm_head")[0].0, Role::LmHead);
    }
}
