//! How a checkpoint's weights are stored, tensor by tensor: [`Precision`] is a quantized
//! format for the tensors in its [`Scope`] and a 16-bit type for the rest, as published
//! checkpoints do it (FP8 and INT8 checkpoints keep the lm_head, embeddings and MoE routers in
//! 16 bits; gpt-oss's MXFP4 covers only the experts; a compressed-tensors `ignore` list can
//! keep attention in 16 bits), or a llama.cpp file type mixed per tensor.

use super::gguf::Tensor;
use super::{AttentionKind, MlpKind, Model, WeightDtype};
use serde::Serialize;

/// Which tensors a quantized format covers (the rest stay 16-bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Scope {
    /// Q, K, V and O projections.
    pub attention: bool,
    /// Dense MLPs.
    pub dense_mlp: bool,
    /// Routed experts.
    pub experts: bool,
    /// Shared experts.
    pub shared_experts: bool,
    /// The lm_head (output matrix).
    pub lm_head: bool,
}

impl Scope {
    /// Every linear layer but the lm_head, embeddings and routers: what vLLM's fp8, GPTQ,
    /// AWQ and most compressed-tensors checkpoints quantize.
    pub const LINEAR: Scope = Scope {
        attention: true,
        dense_mlp: true,
        experts: true,
        shared_experts: true,
        lm_head: false,
    };
}

/// A role a weight plays, for its storage and its matmul.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Role {
    /// Token embedding (a gather, never a matmul).
    Embedding,
    /// The lm_head.
    LmHead,
    /// An attention projection.
    Attention,
    /// A dense MLP.
    DenseMlp,
    /// A routed expert.
    Expert,
    /// A shared expert.
    SharedExpert,
    /// A MoE router.
    Router,
}

/// What the activations are quantized to when they meet the weights: it decides the math.
/// An FP8 W8A8 matmul runs on the FP8 tensor cores (vLLM runs `fp8` checkpoints so on
/// Hopper and Ada); a weight-only format (W4A16, W8A16) dequantizes its weights and runs
/// 16-bit math.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ActQuant {
    /// Weight-only: activations stay 16-bit, weights are dequantized for a 16-bit matmul.
    None,
    /// Activations quantized to FP8 (W8A8 FP8, or W4A8 with FP8 activations).
    Fp8,
    /// Activations quantized to INT8 (W8A8 INT8, SmoothQuant style).
    Int8,
    /// Activations quantized to FP4 (NVFP4 W4A4 on Blackwell).
    Fp4,
}

/// One layer where a role `scope` covers stays 16-bit nonetheless (fbgemm's Llama-3.1-405B
/// keeps its first and last layers' MLPs in bf16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeptLayer {
    /// The role kept 16-bit.
    pub role: Role,
    /// The decoder layer.
    pub layer: usize,
}

/// The weights' formats.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Precision {
    /// The quantized tensors' format (or the whole model's when 16-bit).
    pub format: WeightDtype,
    /// The format of the tensors outside `scope` (bf16 or fp16).
    pub base: WeightDtype,
    /// Which tensors `format` covers.
    pub scope: Scope,
    /// Layers where a role in `scope` stays at `base` all the same; usually empty.
    pub kept: Vec<KeptLayer>,
    /// What the activations are quantized to in the quantized tensors' matmuls.
    pub activations: ActQuant,
    /// Where it came from, for reports: `config.json quantization_config (fp8)`,
    /// `--weight-dtype`, `model.weight_dtype`, `torch_dtype`.
    pub source: String,
}

impl Precision {
    /// `format` for every linear layer but the lm_head ([`Scope::LINEAR`]), bf16 elsewhere.
    /// Activations as engines run each format by default: FP8 for `fp8` (W8A8, dynamic
    /// per-token scales, as vLLM runs FP8 checkpoints on Hopper/Ada), INT8 for `int8`, FP4 for
    /// `nvfp4`, and 16-bit (weight-only) for everything else.
    pub fn uniform(format: WeightDtype) -> Precision {
        Precision {
            format,
            base: if format == WeightDtype::Fp16 {
                WeightDtype::Fp16
            } else {
                WeightDtype::Bf16
            },
            scope: Scope::LINEAR,
            kept: Vec::new(),
            activations: match format {
                WeightDtype::Fp8 => ActQuant::Fp8,
                WeightDtype::Int8 => ActQuant::Int8,
                WeightDtype::Nvfp4 => ActQuant::Fp4,
                _ => ActQuant::None,
            },
            source: "given".into(),
        }
    }

    /// The same with its source named.
    pub fn from(mut self, source: impl Into<String>) -> Precision {
        self.source = source.into();
        self
    }

    /// The format of `role`'s weights (a GGUF mix: its base type; see
    /// [`Precision::bytes_per_param`] for the per-tensor mix).
    pub fn format_of(&self, role: Role) -> WeightDtype {
        let quantized = match role {
            Role::Embedding => matches!(self.format, WeightDtype::Gguf(_)),
            Role::Router => false,
            Role::LmHead => self.scope.lm_head || matches!(self.format, WeightDtype::Gguf(_)),
            Role::Attention => self.scope.attention,
            Role::DenseMlp => self.scope.dense_mlp,
            Role::Expert => self.scope.experts,
            Role::SharedExpert => self.scope.shared_experts,
        };
        if quantized { self.format } else { self.base }
    }

    /// Bytes per parameter of `tensor` in layer `layer` of `model` (GGUF mixes vary by tensor
    /// and layer; other formats by role only).
    fn tensor_bytes(&self, model: &Model, role: Role, tensor: Tensor, layer: usize) -> f64 {
        if role == Role::Router {
            // Routers are never quantized (llama.cpp's ffn_gate_inp included).
            return self.base.bytes_per_param();
        }
        match self.format {
            WeightDtype::Gguf(f) => {
                let experts = model.moe.map_or(0, |m| m.num_experts);
                f.tensor_type(tensor, layer, model.n_layers(), experts)
                    .bits_per_weight()
                    / 8.0
            }
            _ if self.kept.contains(&KeptLayer { role, layer }) => self.base.bytes_per_param(),
            _ => self.format_of(role).bytes_per_param(),
        }
    }

    /// Mean bytes per parameter of `role` over the model's layers (what the cost model reads
    /// per step), weighted by each tensor's parameters.
    pub fn bytes_per_param(&self, model: &Model, role: Role) -> f64 {
        let (bytes, params) = role_bytes(self, model, role);
        if params == 0.0 {
            self.format_of(role).bytes_per_param()
        } else {
            bytes / params
        }
    }
}

/// (bytes, parameters) of every tensor of `role` in `model` under `p`.
fn role_bytes(p: &Precision, model: &Model, role: Role) -> (f64, f64) {
    let n = model.n_layers();
    let h = model.hidden_size as f64;
    let mut acc = (0.0, 0.0);
    let mut add = |params: f64, tensor: Tensor, layer: usize| {
        acc.0 += params * p.tensor_bytes(model, role, tensor, layer);
        acc.1 += params;
    };
    match role {
        Role::Embedding => add(model.lm_head_params() as f64, Tensor::Embedding, 0),
        Role::LmHead => {
            // A tied output is the embedding matrix itself, stored once (as the output).
            add(model.lm_head_params() as f64, Tensor::Output, 0)
        }
        Role::Router => add(
            (0..n)
                .filter(|&l| model.mlp_layers[l] == MlpKind::Moe)
                .count() as f64
                * model.router_params() as f64,
            Tensor::AttnQ,
            0,
        ),
        Role::Attention => {
            let (q, k, v, o) = attention_split(model);
            for l in 0..n {
                if model.has_recurrent_mixer(l) {
                    // A linear-attention or Mamba mixer: its projections as one tensor.
                    add(model.mixer_params(l) as f64, Tensor::AttnQ, l);
                    continue;
                }
                add(q, Tensor::AttnQ, l);
                add(k, Tensor::AttnK, l);
                add(v, Tensor::AttnV, l);
                add(o, Tensor::AttnOutput, l);
            }
        }
        Role::DenseMlp | Role::Expert | Role::SharedExpert => {
            let (width, count) = match role {
                Role::DenseMlp => (model.intermediate_size as f64, 1.0),
                Role::Expert => model.moe.map_or((0.0, 0.0), |m| {
                    (m.expert_intermediate_size as f64, m.num_experts as f64)
                }),
                _ => model
                    .moe
                    .map_or((0.0, 0.0), |m| (m.shared_intermediate_size as f64, 1.0)),
            };
            let up = (model.mlp_matrices() - 1) as f64 * h * width * count;
            let down = h * width * count;
            let dense = role == Role::DenseMlp;
            for l in 0..n {
                if (model.mlp_layers[l] == MlpKind::Dense) == dense {
                    add(up, Tensor::FfnUp, l);
                    add(down, Tensor::FfnDown, l);
                }
            }
        }
    }
    acc
}

/// One layer's attention parameters split (Q, K, V, O); MLA's latent projections count as Q
/// and K/V as their roles suggest (llama.cpp names them `attn_q_*`, `attn_kv_*`).
fn attention_split(model: &Model) -> (f64, f64, f64, f64) {
    let (h, n) = (model.hidden_size as f64, model.num_attention_heads as f64);
    match model.attention {
        AttentionKind::Mla(m) => {
            let total = model.attention_params() as f64;
            let o = n * m.v_head_dim as f64 * h;
            let kv = h * (m.kv_lora_rank + m.qk_rope_head_dim) as f64
                + m.kv_lora_rank as f64 * n * (m.qk_nope_head_dim + m.v_head_dim) as f64;
            (total - o - kv, kv / 2.0, kv / 2.0, o)
        }
        _ => {
            let (d, k) = (model.head_dim as f64, model.num_key_value_heads as f64);
            (h * n * d, h * k * d, h * k * d, n * d * h)
        }
    }
}

impl Model {
    /// The precision to size and price the model at when no flag or scenario key names one:
    /// the checkpoint's `quantization_config` if it has one, else its `torch_dtype` (fp16
    /// if `float16`, bf16 otherwise).
    pub fn default_precision(&self) -> Precision {
        if let Some(q) = &self.quantization {
            return q.clone();
        }
        let dtype = if self.torch_dtype.as_deref() == Some("float16") {
            WeightDtype::Fp16
        } else {
            WeightDtype::Bf16
        };
        let source = match &self.torch_dtype {
            Some(t) => format!("config torch_dtype ({t})"),
            None => "default (bf16)".into(),
        };
        Precision::uniform(dtype).from(source)
    }

    /// Bytes of every weight held in memory under `p`: [`text_weight_bytes`] plus a
    /// multimodal checkpoint's vision tower and projector ([`Model::vision_params`]) at `p`'s
    /// 16-bit base type. Engines keep the vision tower unquantized (vLLM's FP8 and
    /// compressed-tensors checkpoints list it in their ignore lists; llama.cpp ships it as a
    /// separate f16 `mmproj` file), whatever `p` says for the text layers.
    ///
    /// [`text_weight_bytes`]: Model::text_weight_bytes
    pub fn weight_bytes(&self, p: &Precision) -> u64 {
        let vision = self.vision_params as f64 * p.base.bytes_per_param();
        self.text_weight_bytes(p) + vision.ceil() as u64
    }

    /// Bytes of the text model's weights under `p`, rounded up to a whole byte: embeddings,
    /// the lm_head (once if tied), attention (or linear-attention/Mamba mixers), MLPs, experts
    /// and routers, each at its format: what a decode step reads. (Norms and biases are not
    /// counted; see the module docs of `params`.)
    pub fn text_weight_bytes(&self, p: &Precision) -> u64 {
        let mut roles = vec![
            Role::LmHead,
            Role::Attention,
            Role::DenseMlp,
            Role::Expert,
            Role::SharedExpert,
            Role::Router,
        ];
        if !self.tie_word_embeddings {
            roles.push(Role::Embedding);
        }
        let bytes: f64 = roles.into_iter().map(|r| role_bytes(p, self, r).0).sum();
        bytes.ceil() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tests::builtin_model;

    /// Whole-file bits per weight of Llama-3.1-8B's GGUF files, as llama.cpp's
    /// `tools/quantize/README.md` publishes them (norms, ~0.3 M f32 parameters, included
    /// there and not here: under 0.01 %).
    #[test]
    fn gguf_mixes_match_llama_cpps_published_bits_per_weight() {
        let m = builtin_model("llama-3.1-8b");
        let params = m.params_total() as f64;
        for (name, published) in [
            ("q4_k_m", 4.8944),
            ("q5_k_m", 5.7036),
            ("q6_k", 6.5633),
            ("q8_0", 8.5008),
            ("q4_k_s", 4.6672),
        ] {
            let p = Precision::uniform(name.parse().unwrap());
            let bpw = m.weight_bytes(&p) as f64 * 8.0 / params;
            assert!(
                (bpw / published - 1.0).abs() < 0.01,
                "{name}: {bpw:.4} bits per weight, llama.cpp publishes {published}"
            );
        }
    }

    #[test]
    fn scopes_keep_what_checkpoints_keep_in_16_bits() {
        let m = builtin_model("llama-3.1-8b");
        let bf16 = m.weight_bytes(&Precision::uniform(WeightDtype::Bf16));
        let fp8 = m.weight_bytes(&Precision::uniform(WeightDtype::Fp8));
        // Embeddings and lm_head (2 × 128256 × 4096) stay at 2 bytes.
        let emb = 2 * m.lm_head_params();
        assert_eq!(fp8, (bf16 - 2 * emb) / 2 + 2 * emb);
        // Only the experts in MXFP4 (gpt-oss): a dense model is untouched.
        let experts_only = Precision {
            scope: Scope {
                attention: false,
                dense_mlp: false,
                experts: true,
                shared_experts: false,
                lm_head: false,
            },
            ..Precision::uniform(WeightDtype::Mxfp4)
        };
        assert_eq!(m.weight_bytes(&experts_only), bf16);
        let moe = builtin_model("qwen3-30b-a3b");
        let all16 = moe.weight_bytes(&Precision::uniform(WeightDtype::Bf16)) as f64;
        let mx = moe.weight_bytes(&experts_only) as f64;
        let expert_params =
            (moe.expert_params() * moe.moe.unwrap().num_experts * moe.moe_layer_count()) as f64;
        assert!(((all16 - mx) - expert_params * (2.0 - 4.25 / 8.0)).abs() < 1e3);
    }
}
