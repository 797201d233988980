//! The time of one engine iteration (one forward pass over a batch), from the batch's shape.
//!
//! Per layer, on one GPU of the tensor-parallel group:
//!
//! * **linear ops** — QKV, O, MLP up (gate+up) and down projections as GEMMs of `T` tokens
//!   (MoE layers: the router, the experts the batch touches — `E·(1 − (1 − 1/E)^(T·k))` of
//!   `E` under uniform routing — and any shared expert), each priced by the roofline with
//!   the per-op efficiencies fitted to Vidur's A100 profiles ([`VIDUR_A100`]);
//! * **element-wise ops** — two RMSNorms, RoPE, the activation and two residual adds, priced
//!   by their bytes with Vidur-fitted efficiencies;
//! * **attention** — decode reads each sequence's whole KV cache once (at the cache dtype;
//!   sliding-window layers at most the window); prefill follows the FlashAttention IO model
//!   (K and V re-read once per block of `Br` query rows, `Br` from the GPU's SRAM) or, for
//!   `attention = "standard"`, adds the N² score and probability traffic;
//! * **tensor parallelism** — two all-reduces of `T × hidden` values per layer:
//!   `latency + 2·(p−1)/p · bytes / bus_bandwidth`, both fitted per GPU generation and group
//!   size to Vidur's NCCL profiles ([`super::network`]).
//!
//! Once per iteration the token-embedding gather; then the LM head over the sequences that
//! sample a token, and a fixed per-iteration overhead (scheduling, sampling). Every term depending only on the token count is
//! precomputed in a table ([`IterationCost::new`]), so pricing an iteration costs O(batch).

use super::Efficiency;
use super::attention::{AttentionKernel, flash_tiles};
use super::precision::{GemmMath, Unsupported, attention_peak, gemm_math};
use super::roofline::{gemm, op_time};
use crate::hardware::{ComputeDtype, GpuSpec, LinkKind};
use crate::kv::{EngineKind, KvSpec};
use crate::model::{AttentionKind, LayerKind, MlpKind, Model, Precision, Role};

/// Per-op efficiencies fitted by `planner validate` to Vidur's A100 profiles (least squares,
/// see `reports/validate/nvidia-h100-80gb-hbm3/fits.csv`, source `a100`); a test checks they
/// still equal the fit.
pub mod vidur_a100 {
    use super::Efficiency;
    const fn e(compute: f64, memory: f64, overhead_us: f64) -> Efficiency {
        Efficiency {
            compute,
            memory,
            overhead_s: overhead_us * 1e-6,
        }
    }
    /// attn_pre_proj (QKV).
    pub const QKV: Efficiency = e(0.702, 0.837, 11.1);
    /// attn_post_proj (O).
    pub const O: Efficiency = e(0.671, 0.764, 6.4);
    /// mlp_up_proj (gate + up).
    pub const UP: Efficiency = e(0.728, 0.784, 13.6);
    /// mlp_down_proj.
    pub const DOWN: Efficiency = e(0.717, 0.761, 8.4);
    /// input_layernorm / post_attention_layernorm.
    pub const NORM: Efficiency = e(1.0, 0.392, 2.45);
    /// attn_rope.
    pub const ROPE: Efficiency = e(1.0, 0.455, 2.3);
    /// mlp_act.
    pub const ACT: Efficiency = e(1.0, 0.504, 2.0);
    /// add (residual).
    pub const ADD: Efficiency = e(1.0, 0.984, 1.2);
}

/// The same table, re-exported for callers and tests.
pub use vidur_a100 as VIDUR_A100;

/// The per-op efficiencies a GPU's iterations are priced with: fitted where measured data
/// exists, and by a documented transfer rule elsewhere ([`OpTable::for_gpu`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpTable {
    /// Where it was fitted.
    pub source: &'static str,
    /// attn_pre_proj (QKV).
    pub qkv: Efficiency,
    /// attn_post_proj (O).
    pub o: Efficiency,
    /// mlp_up_proj (gate + up).
    pub up: Efficiency,
    /// mlp_down_proj.
    pub down: Efficiency,
    /// RMSNorm.
    pub norm: Efficiency,
    /// RoPE.
    pub rope: Efficiency,
    /// Activation.
    pub act: Efficiency,
    /// Residual add.
    pub add: Efficiency,
    /// Token-embedding lookup (once per iteration).
    pub emb: Efficiency,
}

const fn eff(compute: f64, memory: f64, overhead_us: f64) -> Efficiency {
    Efficiency {
        compute,
        memory,
        overhead_s: overhead_us * 1e-6,
    }
}

/// Vidur's A100 profiles, per op ([`vidur_a100`]).
pub const A100_OPS: OpTable = OpTable {
    source: "Vidur a100 profiles",
    qkv: vidur_a100::QKV,
    o: vidur_a100::O,
    up: vidur_a100::UP,
    down: vidur_a100::DOWN,
    norm: vidur_a100::NORM,
    rope: vidur_a100::ROPE,
    act: vidur_a100::ACT,
    add: vidur_a100::ADD,
    emb: eff(1.0, 0.1561, 2.842),
};

/// Vidur's A40 profiles (GDDR6, PCIe), per op, fitted as the A100's (`planner validate`'s
/// `a40` rows in `fits.csv`; the norm is the mean of the two layernorms'; a test refits
/// them).
pub const A40_OPS: OpTable = OpTable {
    source: "Vidur a40 profiles",
    qkv: eff(0.7357, 0.7904, 16.485),
    o: eff(0.6937, 0.7365, 6.177),
    up: eff(0.75, 0.7287, 16.882),
    down: eff(0.7327, 0.6996, 7.066),
    norm: eff(1.0, 0.6211, 2.242),
    rope: eff(1.0, 0.8394, 0.94),
    act: eff(1.0, 0.7937, 0.896),
    add: eff(1.0, 0.9229, 0.259),
    emb: eff(1.0, 0.5124, 2.104),
};

/// This project's H100 bench file (`hardware/measured/nvidia-h100-80gb-hbm3.toml`): its
/// cuBLAS bf16 GEMM fit for every projection (one class: compute 0.7367, memory 0.8302,
/// 5.74 µs; a test refits it); element-wise ops as the A100's (the bench has none).
pub const H100_OPS: OpTable = OpTable {
    source: "H100 bench file (GEMMs) + Vidur a100 (element-wise)",
    qkv: eff(0.7367, 0.8302, 5.740),
    o: eff(0.7367, 0.8302, 5.740),
    up: eff(0.7367, 0.8302, 5.740),
    down: eff(0.7367, 0.8302, 5.740),
    ..A100_OPS
};

impl OpTable {
    /// The table a GPU is priced with. Measured: A100 (Vidur), A40 (Vidur), H100 (bench).
    /// Transfer rule to the others, by the nearest measured part of the same kind: Hopper
    /// and Blackwell data-center GPUs (HBM; H200, GH200, H800, H20, H100 PCIe, B200) take
    /// the H100's; PCIe cards of any other generation (GDDR: A10, A10G, L4, L40, L40S, RTX
    /// 3090/4090/5090, RTX PRO 6000) the A40's; the rest (V100, AMD Instinct) the A100's.
    pub fn for_gpu(gpu: &GpuSpec) -> &'static OpTable {
        match (gpu.architecture.as_str(), gpu.link_kind) {
            ("hopper", _) | ("blackwell", LinkKind::Nvlink) => &H100_OPS,
            (_, LinkKind::Pcie) => &A40_OPS,
            _ => &A100_OPS,
        }
    }
}

/// Assumed efficiency of attention kernels (not in Vidur's published data): FlashAttention-2
/// reaches about half of tensor-core peak on A100/H100; paged decode kernels about 80 % of
/// bandwidth. Overhead per layer.
pub const ATTENTION: Efficiency = Efficiency {
    compute: 0.5,
    memory: 0.8,
    overhead_s: 3e-6,
};

/// Fixed cost of an iteration outside the model's kernels (scheduling, sampling), seconds.
pub const STEP_OVERHEAD_S: f64 = 100e-6;

/// An iteration's time and its parts (seconds); the parts sum to `seconds` (up to rounding).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct BatchCost {
    /// The whole iteration.
    pub seconds: f64,
    /// Ops linear in the batch's tokens: GEMMs, norms and activations, all-reduce.
    pub linear_s: f64,
    /// The LM head over the sampled sequences.
    pub lm_head_s: f64,
    /// Attention (the IO model for prefill chunks, KV reads for decodes).
    pub attention_s: f64,
    /// The fixed per-step overhead.
    pub overhead_s: f64,
}

/// One sequence's part in an iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqWork {
    /// Tokens already in its KV cache before this iteration.
    pub context: u32,
    /// Tokens it processes now (1 for a decode step, a prompt chunk for prefill).
    pub tokens: u32,
}

/// Prices iterations for one (model, GPU, TP, dtypes, kernel) combination; build once and
/// share (it is read-only).
#[derive(Debug, Clone)]
pub struct IterationCost {
    /// Seconds of linear + element-wise + all-reduce work for `t` tokens, all layers.
    per_tokens: Vec<f64>,
    /// LM head seconds for `s` sampled sequences.
    lm_head: Vec<f64>,
    /// KV bytes per token per GPU summed over full-attention layers.
    kv_full: f64,
    /// (window, KV bytes per token per GPU over the layers with that window).
    kv_windows: Vec<(u32, f64)>,
    /// Layers holding KV (for per-layer kernel overheads).
    attn_layers: f64,
    /// Decoder layers.
    layers: f64,
    /// Attention FLOPs per (query, key) pair summed over layers, one GPU.
    attn_flops_per_pair: f64,
    /// Q + O bytes per token summed over layers, one GPU.
    qo_bytes_per_token: f64,
    /// FlashAttention query-block rows.
    br: f64,
    /// Standard kernel: N² S/P bytes per (query, key) pair summed over layers.
    sp_bytes_per_pair: f64,
    peak_flops: f64,
    bandwidth: f64,
    attn_eff: Efficiency,
    /// LoRA kernels: the O projection's GEMM efficiency (a skinny GEMM of the same kind).
    lora_eff: Efficiency,
    pcie_bytes_per_s: f64,
    /// Test double: every iteration costs exactly this many seconds.
    fixed_seconds: Option<f64>,
    /// Every iteration's time multiplied by this (1 unless [`IterationCost::scaled`]).
    time_factor: f64,
}

/// What an [`IterationCost`] is built for.
#[derive(Debug, Clone, Copy)]
pub struct CostSetup<'a> {
    /// The model.
    pub model: &'a Model,
    /// The GPU.
    pub gpu: &'a GpuSpec,
    /// Its KV layout (and TP degree).
    pub kv: &'a KvSpec<'a>,
    /// How the weights are stored and multiplied.
    pub precision: &'a Precision,
    /// Whose kernels (FP8 attention, weight-only fallbacks).
    pub engine: EngineKind,
    /// Prefill attention kernel.
    pub kernel: AttentionKernel,
    /// Tokens the per-token table covers.
    pub max_tokens: u32,
    /// Sampled sequences the LM-head table covers.
    pub max_seqs: u32,
    /// A measured file's rescaling of the GEMM efficiencies (ratio of its fit to the A100
    /// one), applied to every precision alike.
    pub gemm_scale: Option<Efficiency>,
    /// Attention efficiency.
    pub attn_eff: Efficiency,
}

/// Per-role GEMM math of one setup.
#[derive(Debug, Clone, Copy)]
struct Maths {
    attention: GemmMath,
    mlp: GemmMath,
    expert: GemmMath,
    shared: GemmMath,
    router: GemmMath,
    lm_head: GemmMath,
}

impl Maths {
    fn new(s: &CostSetup) -> Result<Maths, Unsupported> {
        let m = |role| gemm_math(s.model, s.gpu, s.engine, s.precision, role);
        Ok(Maths {
            attention: m(Role::Attention)?,
            mlp: m(Role::DenseMlp)?,
            expert: m(Role::Expert)?,
            shared: m(Role::SharedExpert)?,
            router: m(Role::Router)?,
            lm_head: m(Role::LmHead)?,
        })
    }
}

/// Prices GEMMs and element-wise ops on one GPU.
struct Pricer {
    bw: f64,
    elementwise_peak: f64,
    scale: Option<Efficiency>,
}

/// bf16/fp16 activations.
const ACT_BYTES: f64 = 2.0;

impl Pricer {
    /// A `t × k` by `k × n` GEMM with weights in `math`'s format: tensor (and dequant)
    /// arithmetic against the weight and activation traffic. Quantized activations (W8A8,
    /// W4A4) add their dynamic quantization pass (read 16-bit, write 8-bit).
    fn gemm(&self, t: f64, n: f64, k: f64, math: &GemmMath, e: Efficiency) -> f64 {
        self.grouped_gemm(t, n, k, n * k, math, e)
    }

    /// [`Pricer::gemm`] reading `weights` weights (a grouped MoE GEMM reads every touched
    /// expert's `n × k`).
    fn grouped_gemm(
        &self,
        t: f64,
        n: f64,
        k: f64,
        weights: f64,
        math: &GemmMath,
        e: Efficiency,
    ) -> f64 {
        let e = match self.scale {
            Some(s) => Efficiency {
                compute: e.compute * s.compute,
                memory: e.memory * s.memory,
                overhead_s: e.overhead_s,
            },
            None => e,
        };
        let (flops, _) = gemm(t, n, k, ACT_BYTES);
        let bytes = weights * math.weight_bytes + ACT_BYTES * (t * k + t * n);
        let compute = math.compute_seconds(flops, weights, t, e.compute);
        let memory = bytes / (self.bw * e.memory);
        let quant = if math.dtype == ComputeDtype::Bf16 || math.dtype == ComputeDtype::Fp16 {
            0.0
        } else {
            self.elementwise(3.0 * t * k, &vidur_a100::ACT)
        };
        compute.max(memory) + e.overhead_s + quant
    }

    fn elementwise(&self, bytes: f64, e: &Efficiency) -> f64 {
        op_time(0.0, bytes, self.elementwise_peak, self.bw, e)
    }
}

/// One layer's shapes on one GPU of the TP group.
struct LayerShape {
    h: f64,
    tp: f64,
    q_dim: f64,
    kv_dim: f64,
    o_in: f64,
    dense_i: f64,
    up_mult: f64,
    act_i: f64,
    n_dense: f64,
    n_moe: f64,
    n_layers: f64,
    allreduce: super::network::AllReduce,
    ops: &'static OpTable,
}

impl LayerShape {
    fn new(model: &Model, gpu: &GpuSpec, tp: f64, engine: EngineKind) -> LayerShape {
        let heads = model.num_attention_heads as f64 / tp;
        let d = model.head_dim as f64;
        let kvh = (model.kv_heads() as f64 / tp).max(1.0);
        let (q_dim, kv_dim, o_in) = match &model.attention {
            AttentionKind::Mla(m) => (
                heads * (m.qk_nope_head_dim + m.qk_rope_head_dim) as f64,
                (m.kv_lora_rank + m.qk_rope_head_dim) as f64,
                heads * m.v_head_dim as f64,
            ),
            _ => (heads * d, kvh * d, heads * d),
        };
        let count = |kind: MlpKind| model.mlp_layers.iter().filter(|k| **k == kind).count() as f64;
        let (n_dense, n_moe) = (count(MlpKind::Dense), count(MlpKind::Moe));
        let dense_i = model.intermediate_size as f64 / tp;
        let act_i = if n_moe > 0.0 && n_dense == 0.0 {
            model.moe.as_ref().map_or(dense_i, |m| {
                m.experts_per_token as f64 * m.expert_intermediate_size as f64 / tp
            })
        } else {
            dense_i
        };
        LayerShape {
            h: model.hidden_size as f64,
            tp,
            q_dim,
            kv_dim,
            o_in,
            dense_i,
            up_mult: if model.gated_mlp { 2.0 } else { 1.0 },
            act_i,
            n_dense,
            n_moe,
            n_layers: model.n_layers() as f64,
            allreduce: super::network::AllReduce::for_engine(gpu, tp as u32, engine),
            ops: OpTable::for_gpu(gpu),
        }
    }

    /// Seconds of one (average) layer's linear, element-wise and all-reduce work for `t`
    /// tokens.
    fn seconds(&self, t: f64, model: &Model, maths: &Maths, p: &Pricer) -> f64 {
        let h = self.h;
        let attn = &maths.attention;
        let attn_proj = p.gemm(t, self.q_dim + 2.0 * self.kv_dim, h, attn, self.ops.qkv)
            + p.gemm(t, h, self.o_in, attn, self.ops.o);
        let mlp = &maths.mlp;
        let dense_mlp = p.gemm(t, self.up_mult * self.dense_i, h, mlp, self.ops.up)
            + p.gemm(t, h, self.dense_i, mlp, self.ops.down);
        let moe_mlp = match &model.moe {
            Some(m) if self.n_moe > 0.0 => self.moe_seconds(t, m, maths, p),
            _ => 0.0,
        };
        let norms = 2.0 * p.elementwise(ACT_BYTES * (2.0 * t * h + h), &self.ops.norm);
        let rope = p.elementwise(
            ACT_BYTES * 2.0 * t * (self.q_dim + self.kv_dim),
            &self.ops.rope,
        );
        let act = p.elementwise(
            ACT_BYTES * (self.up_mult + 1.0) * t * self.act_i,
            &self.ops.act,
        );
        let adds = 2.0 * p.elementwise(ACT_BYTES * 3.0 * t * h, &self.ops.add);
        // Two all-reduces per layer (after attention and after the MLP).
        let allreduce = 2.0 * self.allreduce.seconds(t * h * ACT_BYTES);
        // Dense and MoE layers mixed: weight each MLP kind by its share of layers.
        let mlp = (self.n_dense * dense_mlp + self.n_moe * moe_mlp) / self.n_layers.max(1.0);
        attn_proj + mlp + norms + rope + act + adds + allreduce
    }

    /// A MoE layer's MLP: the router, the experts the batch touches — `E·(1 − (1 − 1/E)^(T·k))`
    /// of `E` under uniform routing — read once each over `T·k` rows, and any shared expert.
    fn moe_seconds(&self, t: f64, m: &crate::model::MoeDims, maths: &Maths, p: &Pricer) -> f64 {
        let (h, tp) = (self.h, self.tp);
        let e = m.num_experts as f64;
        let k = m.experts_per_token as f64;
        let ie = m.expert_intermediate_size as f64 / tp;
        let touched = e * (1.0 - (1.0 - 1.0 / e).powf(t * k));
        let router = p.gemm(t, e, h, &maths.router, self.ops.o);
        // The touched experts as one grouped GEMM: their weights once, t·k rows.
        let rows = t * k;
        let width = (self.up_mult + 1.0) * ie;
        let experts = p.grouped_gemm(
            rows,
            width,
            h,
            touched * width * h,
            &maths.expert,
            self.ops.up,
        );
        let shared = if m.shared_intermediate_size > 0 {
            let si = m.shared_intermediate_size as f64 / tp;
            p.gemm(t, self.up_mult * si, h, &maths.shared, self.ops.up)
                + p.gemm(t, h, si, &maths.shared, self.ops.down)
        } else {
            0.0
        };
        router + experts + shared
    }
}

/// KV bytes per token per GPU of the full-attention layers, the same per sliding window, and
/// the number of layers holding KV.
fn kv_layout(model: &Model, kv: &KvSpec) -> (f64, Vec<(u32, f64)>, f64) {
    let mut kv_full = 0.0;
    let mut kv_windows: Vec<(u32, f64)> = Vec::new();
    let mut attn_layers = 0.0;
    for (l, kind) in model.layers.iter().enumerate() {
        let (kb, vb) = kv.layer_bytes(l);
        let b = (kb + vb) as f64;
        match *kind {
            LayerKind::Full => {
                kv_full += b;
                attn_layers += 1.0;
            }
            LayerKind::Sliding { window } => {
                attn_layers += 1.0;
                let w = window.min(u32::MAX as u64) as u32;
                match kv_windows.iter_mut().find(|(x, _)| *x == w) {
                    Some(e) => e.1 += b,
                    None => kv_windows.push((w, b)),
                }
            }
            LayerKind::NoKv => {}
        }
    }
    (kv_full, kv_windows, attn_layers)
}

impl IterationCost {
    /// Precompute the tables up to `s.max_tokens` tokens and `s.max_seqs` sampled sequences;
    /// an error when the GPU cannot run the weights' format under the engine.
    pub fn new(s: &CostSetup) -> Result<Self, Unsupported> {
        let (model, gpu, kv) = (s.model, s.gpu, s.kv);
        let tp = kv.tp as f64;
        let maths = Maths::new(s)?;
        let bw = gpu.hbm_bytes_per_s;
        let pricer = Pricer {
            bw,
            elementwise_peak: gpu.peak.bf16,
            scale: s.gemm_scale,
        };
        let shape = LayerShape::new(model, gpu, tp, s.engine);
        let per_tokens: Vec<f64> = (0..=s.max_tokens)
            .map(|t| match t {
                0 => 0.0,
                // Every layer, and the token-embedding gather once (T rows of H read and
                // written, Vidur's `emb` op).
                _ => {
                    shape.n_layers * shape.seconds(t as f64, model, &maths, &pricer)
                        + pricer.elementwise(ACT_BYTES * 2.0 * t as f64 * shape.h, &shape.ops.emb)
                }
            })
            .collect();
        let vocab = model.vocab_size as f64 / tp;
        let lm_head: Vec<f64> = (0..=s.max_seqs)
            .map(|n| match n {
                0 => 0.0,
                _ => pricer.gemm(n as f64, vocab, shape.h, &maths.lm_head, shape.ops.o),
            })
            .collect();
        let (kv_full, kv_windows, attn_layers) = kv_layout(model, kv);
        let heads = model.num_attention_heads as f64 / tp;
        let (qk_d, v_d) = match &model.attention {
            AttentionKind::Mla(m) => (
                (m.qk_nope_head_dim + m.qk_rope_head_dim) as f64,
                m.v_head_dim as f64,
            ),
            _ => (model.head_dim as f64, model.head_dim as f64),
        };
        let (br, _) = flash_tiles(gpu.smem_per_sm_bytes, qk_d, ACT_BYTES);
        Ok(IterationCost {
            per_tokens,
            lm_head,
            kv_full,
            kv_windows,
            attn_layers,
            layers: model.layers.len() as f64,
            attn_flops_per_pair: attn_layers * 2.0 * heads * (qk_d + v_d),
            qo_bytes_per_token: attn_layers * ACT_BYTES * heads * (qk_d + v_d),
            br: br.max(1.0),
            sp_bytes_per_pair: if s.kernel == AttentionKernel::Standard {
                attn_layers * heads * 5.0 * 4.0
            } else {
                0.0
            },
            peak_flops: attention_peak(gpu, s.engine, kv.k, kv.v),
            bandwidth: bw,
            attn_eff: s.attn_eff,
            lora_eff: shape.ops.o,
            pcie_bytes_per_s: gpu.pcie_bytes_per_s,
            fixed_seconds: None,
            time_factor: 1.0,
        })
    }

    /// A constant cost model — every iteration takes `seconds`, swaps are free — for
    /// hand-computable tests of the scheduler.
    pub fn constant(seconds: f64) -> Self {
        IterationCost {
            per_tokens: vec![0.0],
            lm_head: vec![0.0],
            kv_full: 0.0,
            kv_windows: Vec::new(),
            attn_layers: 0.0,
            layers: 1.0,
            attn_flops_per_pair: 0.0,
            qo_bytes_per_token: 0.0,
            br: 1.0,
            sp_bytes_per_pair: 0.0,
            peak_flops: 1.0,
            bandwidth: 1.0,
            attn_eff: Efficiency::default(),
            lora_eff: Efficiency::default(),
            pcie_bytes_per_s: f64::INFINITY,
            fixed_seconds: Some(seconds),
            time_factor: 1.0,
        }
    }

    /// KV bytes one sequence reads (all layers, one GPU) at `context` tokens.
    pub fn kv_bytes(&self, context: u32) -> f64 {
        let c = context as f64;
        self.kv_full * c
            + self
                .kv_windows
                .iter()
                .map(|&(w, b)| b * context.min(w) as f64)
                .sum::<f64>()
    }

    /// Whether one-token work items may be priced in aggregate (count and Σ context), as
    /// [`IterationCost::batch_seconds`] does: true unless some layer has a sliding window,
    /// whose KV read `min(context, window)` is not linear in the context.
    pub fn aggregates_decodes(&self) -> bool {
        self.kv_windows.is_empty()
    }

    /// Seconds for an iteration over `work`, of which `sampled` sequences produce a token.
    /// Token counts beyond the precomputed table are priced at the table's end, scaled.
    /// One-token items are priced in aggregate where [`IterationCost::aggregates_decodes`].
    pub fn iteration_seconds(&self, work: &[SeqWork], sampled: u32) -> f64 {
        if !self.aggregates_decodes() {
            return self.batch_seconds(work, 0, 0, sampled);
        }
        let (mut decodes, mut context) = (0u32, 0u64);
        let mut chunks = Vec::with_capacity(work.len());
        for w in work {
            if w.tokens == 1 {
                decodes += 1;
                context += w.context as u64;
            } else {
                chunks.push(*w);
            }
        }
        self.batch_seconds(&chunks, decodes, context, sampled)
    }

    /// Seconds for an iteration of prompt `chunks` plus `decodes` one-token steps whose
    /// contexts sum to `decode_context` (the simulator keeps decoding sequences in aggregate,
    /// so pricing a step costs O(chunks), not O(batch)). `decodes` must be 0 unless
    /// [`IterationCost::aggregates_decodes`].
    pub fn batch_seconds(
        &self,
        chunks: &[SeqWork],
        decodes: u32,
        decode_context: u64,
        sampled: u32,
    ) -> f64 {
        self.batch_cost(chunks, decodes, decode_context, sampled)
            .seconds
    }

    /// [`IterationCost::batch_seconds`] with its parts: the token-linear ops (GEMMs,
    /// element-wise, all-reduce), the LM head, attention and the fixed step overhead.
    pub fn batch_cost(
        &self,
        chunks: &[SeqWork],
        decodes: u32,
        decode_context: u64,
        sampled: u32,
    ) -> BatchCost {
        if let Some(s) = self.fixed_seconds {
            return BatchCost {
                seconds: s,
                ..BatchCost::default()
            };
        }
        debug_assert!(decodes == 0 || self.aggregates_decodes());
        let tokens: u64 = chunks.iter().map(|w| w.tokens as u64).sum::<u64>() + decodes as u64;
        let last = self.per_tokens.len() as u64 - 1;
        let linear = if tokens <= last {
            self.per_tokens[tokens as usize]
        } else {
            self.per_tokens[last as usize] * tokens as f64 / last as f64
        };
        let lm = self.lm_head_seconds(sampled);
        // Attention. A decode step's query sees context + 1 keys and reads that much KV
        // (no windows here, so KV bytes are linear in it and sum exactly).
        let pairs = (decode_context + decodes as u64) as f64;
        let mut flops = self.attn_flops_per_pair * pairs;
        let mut bytes = self.qo_bytes_per_token * decodes as f64
            + self.kv_full * pairs
            + self.sp_bytes_per_pair * pairs;
        // Prefill chunks follow the IO model.
        for w in chunks {
            let n = w.tokens as f64;
            let total = w.context + w.tokens;
            let kvb = self.kv_bytes(total);
            // Causal: the chunk's n queries see context + (1..=n) keys.
            let pairs = n * w.context as f64 + n * (n + 1.0) / 2.0;
            flops += self.attn_flops_per_pair * pairs;
            bytes += self.qo_bytes_per_token * n
                + kvb * (n / self.br).ceil()
                + self.sp_bytes_per_pair * pairs;
        }
        let attention = if chunks.is_empty() && decodes == 0 {
            0.0
        } else {
            let e = &self.attn_eff;
            (flops / (self.peak_flops * e.compute)).max(bytes / (self.bandwidth * e.memory))
                + e.overhead_s * self.attn_layers
        };
        let f = self.time_factor;
        BatchCost {
            seconds: (linear + lm + attention + STEP_OVERHEAD_S) * f,
            linear_s: linear * f,
            lm_head_s: lm * f,
            attention_s: attention * f,
            overhead_s: STEP_OVERHEAD_S * f,
        }
    }

    /// This cost model with every iteration `factor` times as long: the ends of a
    /// calibration error band (`planner plan`'s `cost_model_error`).
    pub fn scaled(&self, factor: f64) -> IterationCost {
        IterationCost {
            time_factor: self.time_factor * factor,
            ..self.clone()
        }
    }

    /// LM head seconds for `sampled` positions; beyond the table, scaled from its end.
    fn lm_head_seconds(&self, sampled: u32) -> f64 {
        let last = self.lm_head.len() - 1;
        let s = sampled as usize;
        if s <= last || last == 0 {
            self.lm_head[s.min(last)]
        } else {
            self.lm_head[last] * s as f64 / last as f64
        }
    }

    /// Seconds of one draft step of an EAGLE/MTP-style head over one-token `work`:
    /// `layer_fraction` of one target layer's share of that decode step, plus the LM head
    /// (the head samples through the target's).
    pub fn head_draft_seconds(&self, layer_fraction: f64, work: &[SeqWork]) -> f64 {
        if let Some(s) = self.fixed_seconds {
            return s * layer_fraction / self.layers;
        }
        let n = work.len() as u32;
        let lm = self.lm_head_seconds(n);
        let step = self.iteration_seconds(work, n);
        layer_fraction * (step - lm - STEP_OVERHEAD_S).max(0.0) / self.layers + lm
    }

    /// Seconds of the LoRA kernels of a step with `tokens` LoRA tokens over `adapters`
    /// distinct adapters at the slots' `rank` (see [`crate::cost::lora`]): every layer's
    /// launches, as `kind` makes them, on the roofline. 0 without LoRA tokens.
    pub fn lora_seconds(
        &self,
        shapes: &super::lora::LoraShapes,
        kind: super::lora::LoraKernels,
        tokens: u32,
        adapters: u32,
        rank: u32,
    ) -> f64 {
        if tokens == 0 || self.fixed_seconds.is_some() {
            return 0.0;
        }
        let mut per_layer = 0.0;
        shapes.kernels(kind, tokens as f64, adapters as f64, rank as f64, |f, b| {
            per_layer += op_time(f, b, self.peak_flops, self.bandwidth, &self.lora_eff);
        });
        per_layer * shapes.layers() * self.time_factor
    }

    /// Seconds to copy `bytes` between GPU and host memory (swap) over PCIe.
    pub fn swap_seconds(&self, bytes: f64) -> f64 {
        bytes / self.pcie_bytes_per_s
    }

    /// Seconds to overwrite `bytes` of GPU memory (a memset: one write at the memory's
    /// bandwidth, at the attention kernels' memory efficiency).
    pub fn memset_seconds(&self, bytes: f64) -> f64 {
        if self.fixed_seconds.is_some() {
            return 0.0;
        }
        bytes / (self.bandwidth * self.attn_eff.memory) * self.time_factor
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::kv::CacheDtype;
    use crate::model::WeightDtype;

    fn cost(model: &str, gpu: &str, tp: u64, kernel: AttentionKernel) -> (Model, IterationCost) {
        cost_at(model, gpu, tp, kernel, WeightDtype::Bf16)
    }

    fn cost_at(
        model: &str,
        gpu: &str,
        tp: u64,
        kernel: AttentionKernel,
        dtype: WeightDtype,
    ) -> (Model, IterationCost) {
        let m = Catalog::builtin().model(model).unwrap();
        let g = Catalog::builtin().gpu(gpu).unwrap();
        let c = {
            let kv = KvSpec::new(&m, CacheDtype::Bf16, CacheDtype::Bf16, tp).unwrap();
            IterationCost::new(&CostSetup {
                model: &m,
                gpu: &g,
                kv: &kv,
                precision: &Precision::uniform(dtype),
                engine: EngineKind::Vllm,
                kernel,
                max_tokens: 8192,
                max_seqs: 256,
                gemm_scale: None,
                attn_eff: ATTENTION,
            })
            .unwrap()
        };
        (m, c)
    }

    /// FP8 W8A8 on an H100: a compute-bound prefill runs its GEMMs at the FP8 peak (2× the
    /// BF16 one), but the element-wise ops stay 16-bit and each quantized GEMM adds its
    /// activation-quantization pass, so the token-linear work is 1.4–2× faster; a decode
    /// step reads half the weight bytes (the lm_head and embeddings stay bf16), so it is
    /// faster by less than 2×.
    #[test]
    fn fp8_prefill_runs_at_the_fp8_peak_and_decode_reads_half_the_bytes() {
        let bf16 = cost("llama-3.1-8b", "h100-sxm", 1, AttentionKernel::Flash).1;
        let fp8 = cost_at(
            "llama-3.1-8b",
            "h100-sxm",
            1,
            AttentionKernel::Flash,
            WeightDtype::Fp8,
        )
        .1;
        let prefill = [SeqWork {
            context: 0,
            tokens: 8192,
        }];
        let linear = |c: &IterationCost| c.batch_cost(&prefill, 0, 0, 1).linear_s;
        let r = linear(&bf16) / linear(&fp8);
        assert!(r > 1.4 && r < 2.0, "prefill linear ops {r:.2}× faster");
        let decode = vec![
            SeqWork {
                context: 1000,
                tokens: 1
            };
            8
        ];
        let d = bf16.iteration_seconds(&decode, 8) / fp8.iteration_seconds(&decode, 8);
        assert!(d > 1.3 && d < 2.0, "decode {d:.2}× faster");
    }

    #[test]
    fn a_format_the_gpu_cannot_run_is_an_error() {
        let m = Catalog::builtin().model("llama-3.1-8b").unwrap();
        let g = Catalog::builtin().gpu("h100-sxm").unwrap();
        let kv = KvSpec::new(&m, CacheDtype::Bf16, CacheDtype::Bf16, 1).unwrap();
        let e = IterationCost::new(&CostSetup {
            model: &m,
            gpu: &g,
            kv: &kv,
            precision: &Precision::uniform(WeightDtype::Nvfp4),
            engine: EngineKind::Sglang,
            kernel: AttentionKernel::Flash,
            max_tokens: 16,
            max_seqs: 4,
            gemm_scale: None,
            attn_eff: ATTENTION,
        })
        .unwrap_err();
        assert!(e.to_string().contains("FP4 tensor cores"), "{e}");
    }

    /// `scaled(f)` multiplies every iteration's time by f (the plan's error band).
    #[test]
    fn scaled_multiplies_every_iteration() {
        let (_, c) = cost("llama-3.1-8b", "h100-sxm", 1, AttentionKernel::Flash);
        let slow = c.scaled(1.07);
        for work in [
            vec![SeqWork {
                context: 0,
                tokens: 4096,
            }],
            vec![
                SeqWork {
                    context: 900,
                    tokens: 1
                };
                32
            ],
        ] {
            let (a, b) = (
                c.iteration_seconds(&work, 1),
                slow.iteration_seconds(&work, 1),
            );
            assert!((b / a - 1.07).abs() < 1e-12, "{a} {b}");
        }
    }

    /// Decode of Llama-3.1-8B on an H100 is bound by reading 16 GB of weights: a step costs
    /// at least 16.06 GB / 3.35 TB/s = 4.8 ms, and with Vidur-fitted efficiencies a few ms more.
    #[test]
    fn decode_step_is_weight_bandwidth_bound() {
        let (m, c) = cost("llama-3.1-8b", "h100-sxm", 1, AttentionKernel::Flash);
        let floor = m.weight_bytes(&Precision::uniform(WeightDtype::Bf16)) as f64 / 3.35e12;
        let one = c.iteration_seconds(
            &[SeqWork {
                context: 1000,
                tokens: 1,
            }],
            1,
        );
        assert!(one > floor && one < 2.0 * floor, "{one} vs floor {floor}");
        // 64 sequences share the weights: they cost about one sequence's step scaled by the
        // bytes read (weights + 64 × 1000 tokens of KV at 128 KiB), far less than 64×.
        let many: Vec<SeqWork> = (0..64)
            .map(|_| SeqWork {
                context: 1000,
                tokens: 1,
            })
            .collect();
        let t64 = c.iteration_seconds(&many, 64);
        let (w, kv) = (floor * 3.35e12, 64.0 * 1000.0 * 131_072.0);
        assert!(t64 < 1.15 * one * (w + kv) / w, "{t64} vs {one}");
        assert!(t64 > one, "{t64} vs {one}");
    }

    /// Prefill is compute-bound: 8192 tokens ≈ 2 · 8e9 · 8192 FLOPs at ~70 % of 989 TFLOP/s.
    #[test]
    fn prefill_is_compute_bound_and_standard_attention_costs_more() {
        let (m, flash) = cost("llama-3.1-8b", "h100-sxm", 1, AttentionKernel::Flash);
        let (_, std) = cost("llama-3.1-8b", "h100-sxm", 1, AttentionKernel::Standard);
        let w = [SeqWork {
            context: 0,
            tokens: 8192,
        }];
        let t = flash.iteration_seconds(&w, 1);
        let ideal = 2.0 * m.matmul_params_active() as f64 * 8192.0 / 989e12;
        assert!(t > ideal && t < 2.5 * ideal, "{t} vs ideal {ideal}");
        assert!(std.iteration_seconds(&w, 1) > t);
    }

    /// Tensor parallelism splits the work but adds all-reduces.
    #[test]
    fn tp_speeds_up_prefill() {
        let (_, one) = cost("llama-3.1-70b", "h100-sxm", 1, AttentionKernel::Flash);
        let (_, four) = cost("llama-3.1-70b", "h100-sxm", 4, AttentionKernel::Flash);
        let w = [SeqWork {
            context: 0,
            tokens: 4096,
        }];
        let (a, b) = (one.iteration_seconds(&w, 1), four.iteration_seconds(&w, 1));
        assert!(b < a / 2.5 && b > a / 4.5, "tp1 {a} tp4 {b}");
    }
}
