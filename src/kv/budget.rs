//! The GPU memory budget for KV cache, by each engine's own rule ([`EngineKind`]):
//!
//! ```text
//! vLLM V1/V0   kv = total × gpu_memory_utilization − weights − activation peak − non-torch
//! SGLang       kv = (total − context/NCCL) × mem_fraction_static − weights
//! TensorRT-LLM kv = kv_cache_free_gpu_mem_fraction × (total − weights − activation peak − non-torch)
//! llama.cpp    kv = total − weights on the GPU − compute buffer − CUDA context (no fraction)
//! blocks       = floor(kv / (block_size × KV bytes per token per GPU))
//! ```
//!
//! Hybrid (linear-attention/Mamba) models also hold a fixed state per running sequence: the
//! budget sets aside `max_num_seqs` of them (llama.cpp: `-np`) before counting KV blocks, as
//! SGLang sizes its mamba pool; vLLM shares one pool between state pages and KV blocks, so
//! this is its capacity when `max_num_seqs` sequences run at once.
//!
//! The sources each rule follows are in [`super::engine`]'s table. vLLM measures the
//! activation peak by profiling a forward pass of `max_num_batched_tokens` tokens and a
//! sampler pass; a planner must estimate it ([`activation_peak_bytes`]). Checked against
//! `data/sizing_cases.md` (vLLM V0 on an RTX 3090, to the block) and
//! `data/serving/vllm_memory_h100.md` (llm-d's V1 breakdown on an H100) in the tests below.

use super::KvSpec;
use super::engine::{EngineKind, Offload};
use crate::model::{Model, MoeDims, Precision, Role, WeightDtype};
use crate::units::GIB;
use serde::Serialize;

/// vLLM V1's non-torch memory on one GPU (TP 1): llm-d's H100 breakdown
/// (`data/serving/vllm_memory_h100.md`, 0.13 GiB). From 0.9.2 the CUDA context is in the
/// start-up baseline and not charged (PR #19312); what remains is cuBLAS/NCCL set-up.
const VLLM_V1_NON_TORCH_TP1_GIB: f64 = 0.13;
/// vLLM V0's non-torch memory on one GPU: the RTX 3090 log of `data/sizing_cases.md`.
const VLLM_V0_NON_TORCH_TP1_GIB: f64 = 0.35;
/// What tensor parallelism adds per GPU (NCCL communicators, vLLM's custom all-reduce IPC
/// buffers): derived from llm-d's Llama-3.3-70B-FP8 TP 2 row (KV 32.0 GiB/GPU after 33.88 GiB
/// of weights, which leaves 0.56 GiB of non-torch memory beside the estimated activation
/// peak). One measured point, used for every TP > 1: no engine documents NCCL's buffer sizes.
const TP_NON_TORCH_GIB: f64 = 0.43;
/// A CUDA context with lazy module loading, charged by engines that measure free memory
/// after creating it (SGLang, TensorRT-LLM, llama.cpp). An estimate, not measured here.
const CUDA_CONTEXT_GIB: f64 = 0.5;
/// Bytes per (row × vocabulary entry) vLLM V1's profiling sampler pass holds at its peak:
/// fp32 logits (4) and, for the top-k/top-p pass it profiles with (`_dummy_sampler_run`,
/// `v1/sample/ops/topk_topp_sampler.py`, 0.10), the sorted values (4) and their int64
/// indices (8), softmax (4), cumulative sum (4), probabilities (4) and exponential noise
/// (4). An itemised estimate; llm-d's H100 breakdown checks the total (test below).
const VLLM_V1_SAMPLER_BYTES: f64 = 32.0;

/// Engine settings that decide the budget, each under its engine's own name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EngineMemory {
    /// Whose rules apply.
    pub kind: EngineKind,
    /// vLLM: fraction of total GPU memory the engine may use (default 0.9).
    pub gpu_memory_utilization: f64,
    /// SGLang: (weights + KV pool) / GPU memory; `None` = SGLang's default for the GPU's
    /// memory and TP ([`sglang_default_mem_fraction_static`]).
    pub mem_fraction_static: Option<f64>,
    /// TensorRT-LLM: fraction of the memory free after weights and activations that the KV
    /// cache takes (`--kv_cache_free_gpu_memory_fraction`, default 0.9).
    pub kv_cache_free_gpu_mem_fraction: f64,
    /// Tokens per KV block (vLLM 16, SGLang page 1, TensorRT-LLM 32, llama.cpp 1).
    pub block_size: u64,
    /// Tokens in the profiling forward pass (vLLM: `max_num_batched_tokens`; TensorRT-LLM:
    /// `max_num_tokens`); see [`default_batch`].
    pub max_num_batched_tokens: u64,
    /// Sequences the profiling pass samples (vLLM `max_num_seqs`).
    pub max_num_seqs: u64,
    /// Memory outside PyTorch's allocator charged to the budget, bytes; `None` = the
    /// engine's default for the TP degree ([`default_non_torch_bytes`]).
    pub non_torch_bytes: Option<f64>,
    /// How the weights are stored.
    pub weights: Precision,
    /// Bytes per activation value (2 for bf16/fp16 models).
    pub activation_bytes: f64,
    /// llama.cpp's placement (`-ngl`, `--n-cpu-moe`, `-ub`).
    pub offload: Offload,
}

impl Default for EngineMemory {
    fn default() -> Self {
        EngineMemory {
            kind: EngineKind::Vllm,
            gpu_memory_utilization: 0.9,
            mem_fraction_static: None,
            kv_cache_free_gpu_mem_fraction: 0.9,
            block_size: 16,
            max_num_batched_tokens: 8192,
            max_num_seqs: 256,
            non_torch_bytes: None,
            weights: Precision::uniform(WeightDtype::Bf16),
            activation_bytes: 2.0,
            offload: Offload::default(),
        }
    }
}

impl EngineMemory {
    /// `kind`'s defaults on a GPU of `memory_bytes` called `gpu_name`, serving contexts of
    /// up to `max_model_len` tokens: block size, profiling batch ([`default_batch`]).
    pub fn defaults_for(
        kind: EngineKind,
        gpu_name: &str,
        memory_bytes: f64,
        max_model_len: u64,
    ) -> EngineMemory {
        let (tokens, seqs) = default_batch(kind, gpu_name, memory_bytes, max_model_len);
        EngineMemory {
            kind,
            block_size: kind.default_block_size(),
            max_num_batched_tokens: tokens,
            max_num_seqs: seqs,
            ..EngineMemory::default()
        }
    }
}

/// The profiling batch (tokens, sequences) an engine uses when the user sets neither:
///
/// * vLLM V1 `vllm serve` (`engine/arg_utils.py: _set_default_args`, 0.10/0.11): 8192 tokens
///   and 1024 sequences on GPUs of 70 GiB or more other than the A100, else 2048 and 256.
/// * vLLM V0 (`config.py: SchedulerConfig`, 0.6.6): 256 sequences; without chunked prefill
///   (on only past 32768 tokens of context) `max(max_model_len, 2048)` tokens, else 2048.
/// * TensorRT-LLM (`BuildConfig`): `max_num_tokens` 8192, `max_batch_size` 2048.
/// * SGLang, llama.cpp: not profiled (their budgets do not depend on it); 8192 and 256.
pub fn default_batch(
    kind: EngineKind,
    gpu_name: &str,
    memory_bytes: f64,
    max_model_len: u64,
) -> (u64, u64) {
    match kind {
        EngineKind::Vllm => {
            let big = memory_bytes >= 70.0 * GIB as f64
                && !gpu_name.to_ascii_lowercase().contains("a100");
            if big { (8192, 1024) } else { (2048, 256) }
        }
        EngineKind::VllmV0 if max_model_len > 32_768 => (2048, 256),
        EngineKind::VllmV0 => (max_model_len.max(2048), 256),
        EngineKind::Trtllm => (8192, 2048),
        EngineKind::Sglang | EngineKind::LlamaCpp => (8192, 256),
    }
}

/// Memory outside the engine's measured tensors on one GPU of a TP group, by engine:
/// vLLM's non-torch memory (V1 0.13 GiB, V0 0.35 GiB at TP 1), plus
/// [`TP_NON_TORCH_GIB`] when TP > 1; SGLang, TensorRT-LLM and llama.cpp also count the
/// CUDA context ([`CUDA_CONTEXT_GIB`]).
pub fn default_non_torch_bytes(kind: EngineKind, tp: u64) -> f64 {
    let tp_part = if tp > 1 { TP_NON_TORCH_GIB } else { 0.0 };
    let gib = match kind {
        EngineKind::Vllm => VLLM_V1_NON_TORCH_TP1_GIB + tp_part,
        EngineKind::VllmV0 => VLLM_V0_NON_TORCH_TP1_GIB + tp_part,
        EngineKind::Sglang | EngineKind::Trtllm => CUDA_CONTEXT_GIB + tp_part,
        EngineKind::LlamaCpp => CUDA_CONTEXT_GIB,
    };
    gib * GIB as f64
}

/// SGLang's default `mem_fraction_static` (`server_args.py`, 0.5.2):
/// `round((gpu_mem − reserved) / gpu_mem, 3)` with `reserved` by GPU memory and
/// `P = tp × pp`: under 35 GiB 2.8 + P/10 GiB; under 90 GiB 9.5 + P/2; under 160 GiB 12 + P/2;
/// else 32 GiB.
pub fn sglang_default_mem_fraction_static(memory_bytes: f64, ranks: u64) -> f64 {
    let gib = memory_bytes / GIB as f64;
    let p = ranks as f64;
    let reserved = if gib < 35.0 {
        2.8 + p / 10.0
    } else if gib < 90.0 {
        9.5 + p / 2.0
    } else if gib < 160.0 {
        12.0 + p / 2.0
    } else {
        32.0
    };
    (((gib - reserved) / gib) * 1000.0).round() / 1000.0
}

/// Where one GPU's memory goes, in bytes (f64: a budget can be negative).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Budget {
    /// Whose rule made it.
    pub kind: EngineKind,
    /// Device memory as the driver reports it.
    pub memory: f64,
    /// What the rule lets the engine use before weights: vLLM total × utilization; SGLang
    /// (total − context) × mem_fraction_static; TensorRT-LLM and llama.cpp the total.
    pub usable: f64,
    /// The fraction the rule applied (utilization, mem_fraction_static, free fraction; 1
    /// for llama.cpp).
    pub fraction: f64,
    /// This GPU's share of the weights.
    pub weights: f64,
    /// Weights left in host memory (llama.cpp `-ngl`, `--n-cpu-moe`).
    pub host_weights: f64,
    /// Estimated activation peak of the profiling pass (llama.cpp: the compute buffer).
    pub activations: f64,
    /// Memory outside the measured tensors (non-torch, CUDA context).
    pub reserve: f64,
    /// Linear-attention/Mamba state of every sequence the engine may run at once
    /// (`max_num_seqs`; llama.cpp: `-np`), taken from the KV share before blocks.
    pub state: f64,
    /// What is left for KV cache (negative: the model does not fit).
    pub kv: f64,
    /// KV bytes per token on this GPU (the layers it holds).
    pub kv_bytes_per_token: u64,
    /// Bytes of one KV block on this GPU.
    pub block_bytes: u64,
    /// Whole blocks that fit.
    pub blocks: u64,
    /// blocks × block_size.
    pub tokens: u64,
}

impl Budget {
    /// The budget for one GPU of a TP group under `engine`'s rule.
    pub fn new(model: &Model, kv: &KvSpec, memory_bytes: f64, engine: &EngineMemory) -> Budget {
        Budget::for_stage(model, kv, memory_bytes, engine, &Stage::whole(model), 1)
    }

    /// The budget for one GPU of pipeline stage `stage` (of `pp` stages), TP group
    /// `kv.tp`: the stage's layers' weights and KV, the embedding on the first stage, the
    /// lm_head and sampler on the last (vLLM's `PPMissingLayer` placement).
    pub fn for_stage(
        model: &Model,
        kv: &KvSpec,
        memory_bytes: f64,
        engine: &EngineMemory,
        stage: &Stage,
        pp: u64,
    ) -> Budget {
        let placed = placement(model, kv, engine, stage);
        let activations = forward_peak_bytes(model, kv.tp, engine)
            + if stage.last {
                sampler_peak_bytes(model, engine)
            } else {
                0.0
            };
        let reserve = engine
            .non_torch_bytes
            .unwrap_or_else(|| default_non_torch_bytes(engine.kind, kv.tp * pp));
        let mut b = Budget::assemble(
            engine,
            memory_bytes,
            placed.weights,
            activations,
            reserve,
            placed.kv_bytes_per_token,
            kv.tp * pp,
        );
        b.host_weights = placed.host_weights;
        // Hybrid models hold a fixed state per running sequence (vLLM's Mamba/GDN state
        // pages, SGLang's mamba pool, llama.cpp's recurrent cells), in this stage's share.
        let layers_here = stage.layers.len() as f64 / model.n_layers().max(1) as f64;
        let state = model.recurrent_state_bytes_per_seq() as f64 * layers_here / kv.tp as f64
            * engine.max_num_seqs as f64;
        if state > 0.0 {
            b.take_state(state, engine.block_size);
        }
        b
    }

    /// Take `state` bytes out of the KV share and recount the blocks.
    fn take_state(&mut self, state: f64, block_size: u64) {
        self.state = state;
        self.kv -= state;
        self.blocks = if self.kv > 0.0 && self.block_bytes > 0 {
            (self.kv / self.block_bytes as f64).floor() as u64
        } else {
            0
        };
        self.tokens = self.blocks * block_size;
    }

    /// The budget from its parts under `engine`'s rule (`ranks`: GPUs of the TP group, for
    /// SGLang's default fraction).
    pub fn assemble(
        engine: &EngineMemory,
        memory: f64,
        weights: f64,
        activations: f64,
        reserve: f64,
        kv_bytes_per_token: u64,
        ranks: u64,
    ) -> Budget {
        let (fraction, usable, kv) = match engine.kind {
            EngineKind::Vllm | EngineKind::VllmV0 => {
                let f = engine.gpu_memory_utilization;
                let usable = memory * f;
                (f, usable, usable - weights - activations - reserve)
            }
            EngineKind::Sglang => {
                let f = engine
                    .mem_fraction_static
                    .unwrap_or_else(|| sglang_default_mem_fraction_static(memory, ranks));
                let usable = (memory - reserve) * f;
                (f, usable, usable - weights)
            }
            EngineKind::Trtllm => {
                let f = engine.kv_cache_free_gpu_mem_fraction;
                let free = memory - weights - activations - reserve;
                (f, memory, if free > 0.0 { f * free } else { free })
            }
            EngineKind::LlamaCpp => (1.0, memory, memory - weights - activations - reserve),
        };
        let block_bytes = kv_bytes_per_token * engine.block_size;
        let blocks = if kv > 0.0 && block_bytes > 0 {
            (kv / block_bytes as f64).floor() as u64
        } else {
            0
        };
        Budget {
            kind: engine.kind,
            memory,
            usable,
            fraction,
            weights,
            host_weights: 0.0,
            activations,
            reserve,
            state: 0.0,
            kv,
            kv_bytes_per_token,
            block_bytes,
            blocks,
            tokens: blocks * engine.block_size,
        }
    }

    /// A vLLM budget from measured parts (e.g. a vLLM log's profiled peak).
    pub fn from_parts(
        memory: f64,
        usable: f64,
        weights: f64,
        activations: f64,
        reserve: f64,
        kv: &KvSpec,
        block_size: u64,
    ) -> Budget {
        let engine = EngineMemory {
            gpu_memory_utilization: if memory > 0.0 { usable / memory } else { 0.9 },
            block_size,
            ..EngineMemory::default()
        };
        let mut b = Budget::assemble(
            &engine,
            memory,
            weights,
            activations,
            reserve,
            kv.total_bytes_per_token(),
            kv.tp,
        );
        // Keep `usable` exactly as given (a log's figure), not memory × (usable / memory).
        b.usable = usable;
        b.kv = usable - weights - activations - reserve;
        b.blocks = if b.kv > 0.0 && b.block_bytes > 0 {
            (b.kv / b.block_bytes as f64).floor() as u64
        } else {
            0
        };
        b.tokens = b.blocks * block_size;
        b
    }

    /// Tokens per block of this budget.
    pub fn block_size(&self) -> u64 {
        self.block_bytes
            .checked_div(self.kv_bytes_per_token)
            .map_or(1, |b| b.max(1))
    }

    /// KV bytes usable by whole blocks (0 when nothing fits).
    pub fn kv_bytes(&self) -> u64 {
        self.blocks * self.block_bytes
    }

    /// vLLM's "Maximum concurrency for `context` tokens per request".
    pub fn max_concurrency(&self, context: u64) -> f64 {
        self.tokens as f64 / context as f64
    }

    /// The rule's arithmetic with this budget's figures, in GiB, e.g. `79.18 GiB × 0.9 −
    /// weights 14.99 − activations 4.69 − non-torch 0.13 = KV 51.40 GiB`.
    pub fn formula(&self) -> String {
        let g = |b: f64| b / GIB as f64;
        let rule = self.rule();
        if self.state > 0.0 {
            format!(
                "{rule}, of which {:.2} GiB is linear-attention/Mamba state for the sequences that may run at once",
                g(self.state)
            )
        } else {
            rule
        }
    }

    fn rule(&self) -> String {
        let g = |b: f64| b / GIB as f64;
        let kv = self.kv + self.state;
        match self.kind {
            EngineKind::Vllm | EngineKind::VllmV0 => format!(
                "{:.2} GiB × gpu_memory_utilization {} − weights {:.2} − activations {:.2} − non-torch {:.2} = KV {:.2} GiB",
                g(self.memory),
                self.fraction,
                g(self.weights),
                g(self.activations),
                g(self.reserve),
                g(kv)
            ),
            EngineKind::Sglang => format!(
                "({:.2} − CUDA context/NCCL {:.2}) GiB × mem_fraction_static {:.3} − weights {:.2} = KV {:.2} GiB (activations and CUDA graphs use the other {:.2} GiB)",
                g(self.memory),
                g(self.reserve),
                self.fraction,
                g(self.weights),
                g(kv),
                g(self.memory - self.reserve - self.usable)
            ),
            EngineKind::Trtllm => format!(
                "kv_cache_free_gpu_mem_fraction {} × ({:.2} GiB − weights {:.2} − activations {:.2} − context/NCCL {:.2}) = KV {:.2} GiB",
                self.fraction,
                g(self.memory),
                g(self.weights),
                g(self.activations),
                g(self.reserve),
                g(kv)
            ),
            EngineKind::LlamaCpp => format!(
                "{:.2} GiB − weights on the GPU {:.2} − compute buffer {:.2} − CUDA context {:.2} = room for KV {:.2} GiB; {:.2} GiB of weights in host memory",
                g(self.memory),
                g(self.weights),
                g(self.activations),
                g(self.reserve),
                g(kv),
                g(self.host_weights)
            ),
        }
    }

    /// The lines the engine itself logs at start-up for this budget (the same wording and
    /// units, so a user can compare them with a real log).
    pub fn engine_log(&self, block_size: u64, context: u64) -> Vec<String> {
        let gib = |b: f64| b / GIB as f64;
        match self.kind {
            EngineKind::Vllm => vec![
                // vLLM logs the whole pool; hybrid models' state pages come out of it.
                format!(
                    "Available KV cache memory: {:.2} GiB",
                    gib(self.kv + self.state)
                ),
                format!("GPU KV cache size: {} tokens", self.tokens),
                format!(
                    "Maximum concurrency for {context} tokens per request: {:.2}x",
                    self.blocks as f64 / context.div_ceil(block_size.max(1)) as f64
                ),
            ],
            EngineKind::VllmV0 => vec![
                format!(
                    "Memory profiling results: total_gpu_memory={:.2}GiB gpu_memory_utilization={:.2} kv_cache_size={:.2}GiB",
                    gib(self.memory),
                    self.fraction,
                    gib(self.kv)
                ),
                format!("# GPU blocks: {}", self.blocks),
                format!(
                    "Maximum concurrency for {context} tokens per request: {:.2}x",
                    self.max_concurrency(context)
                ),
            ],
            EngineKind::Sglang => {
                let half = self.kv_bytes() as f64 / 2.0;
                vec![format!(
                    "KV Cache is allocated. #tokens: {}, K size: {:.2} GB, V size: {:.2} GB (mem_fraction_static={:.3})",
                    self.tokens,
                    gib(half),
                    gib(half),
                    self.fraction
                )]
            }
            EngineKind::Trtllm => vec![
                format!(
                    "Memory usage when calculating max tokens in paged kv cache: total: {:.2} GiB, available: {:.2} GiB",
                    gib(self.memory),
                    gib(self.memory - self.weights - self.activations - self.reserve)
                ),
                format!(
                    "Allocated {:.2} GiB for max tokens in paged KV cache ({}).",
                    gib(self.kv_bytes() as f64),
                    self.tokens
                ),
            ],
            EngineKind::LlamaCpp => vec![format!(
                "room for KV on the GPU: {:.2} MiB ({} cells) after {:.2} MiB of weights and a {:.2} MiB compute buffer",
                self.kv / (1u64 << 20) as f64,
                self.tokens,
                self.weights / (1u64 << 20) as f64,
                self.activations / (1u64 << 20) as f64
            )],
        }
    }
}

/// What one GPU holds: its weights, the weights left in host memory, and its KV bytes per
/// token. Under TP every GPU holds a 1/TP share; under llama.cpp's `-ngl n` the last `n`
/// repeating layers (and the output layer when every layer is offloaded) are on the GPU,
/// the token embedding never is, and `--n-cpu-moe k` keeps the first `k` layers' routed
/// experts in host memory (`src/llama-model.cpp: load_tensors`, `common/arg.cpp`).
struct Placed {
    weights: f64,
    host_weights: f64,
    kv_bytes_per_token: u64,
}

/// A pipeline stage: its decoder layers, and whether it is the first (embedding) or the
/// last (final norm, lm_head, sampler).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stage {
    /// Decoder layers this stage runs.
    pub layers: std::ops::Range<usize>,
    /// Holds the token embedding.
    pub first: bool,
    /// Holds the lm_head and samples.
    pub last: bool,
}

impl Stage {
    /// The whole model on one stage.
    pub fn whole(model: &Model) -> Stage {
        Stage {
            layers: 0..model.n_layers(),
            first: true,
            last: true,
        }
    }

    /// `n_layers` split into stages of `sizes` layers (vLLM's `VLLM_PP_LAYER_PARTITION`),
    /// or evenly when `sizes` is empty (vLLM's `get_pp_indices`: the remainder goes to the
    /// last stages). `None` when `sizes` does not sum to `n_layers` or a stage is empty.
    pub fn split(n_layers: usize, pp: usize, sizes: &[u64]) -> Option<Vec<Stage>> {
        let sizes: Vec<usize> = if sizes.is_empty() {
            let (base, extra) = (n_layers / pp.max(1), n_layers % pp.max(1));
            (0..pp)
                .map(|i| base + usize::from(i >= pp - extra))
                .collect()
        } else {
            sizes.iter().map(|&s| s as usize).collect()
        };
        if sizes.len() != pp || sizes.iter().sum::<usize>() != n_layers || sizes.contains(&0) {
            return None;
        }
        let mut start = 0;
        Some(
            sizes
                .iter()
                .enumerate()
                .map(|(i, &s)| {
                    start += s;
                    Stage {
                        layers: start - s..start,
                        first: i == 0,
                        last: i + 1 == pp,
                    }
                })
                .collect(),
        )
    }
}

/// The weights outside the decoder layers: (embedding, lm_head) bytes under `p` (a tied
/// lm_head is stored once, as the embedding, on a single stage).
fn ends_bytes(model: &Model, p: &Precision) -> (f64, f64) {
    let output = model.lm_head_params() as f64 * p.bytes_per_param(model, Role::LmHead);
    let embedding = if model.tie_word_embeddings {
        0.0
    } else {
        model.lm_head_params() as f64 * p.bytes_per_param(model, Role::Embedding)
    };
    (embedding, output)
}

fn placement(model: &Model, kv: &KvSpec, engine: &EngineMemory, stage: &Stage) -> Placed {
    // The text model; a multimodal model's vision tower sits with the embedding (vLLM loads
    // it on the first stage; llama.cpp keeps it in a separate --mmproj file, not counted).
    let total = model.text_weight_bytes(&engine.weights) as f64;
    let vision = (model.weight_bytes(&engine.weights) as f64 - total).max(0.0);
    if engine.kind != EngineKind::LlamaCpp {
        let whole = stage.first && stage.last;
        let weights = if whole {
            total + vision
        } else {
            // Layers share the decoder weights evenly (exact for uniform layers; a MoE model
            // with dense first layers is approximated by its mean layer).
            let (embedding, output) = ends_bytes(model, &engine.weights);
            let tied_output = if model.tie_word_embeddings {
                output
            } else {
                0.0
            };
            let per_layer = (total - embedding - output).max(0.0) / model.n_layers().max(1) as f64;
            per_layer * stage.layers.len() as f64
                + if stage.first {
                    embedding + tied_output + vision
                } else {
                    0.0
                }
                + if stage.last { output } else { 0.0 }
        };
        let kv_bytes_per_token = stage
            .layers
            .clone()
            .map(|l| {
                let (k, v) = kv.layer_bytes(l);
                k + v
            })
            .sum();
        return Placed {
            weights: weights / kv.tp as f64,
            host_weights: 0.0,
            kv_bytes_per_token,
        };
    }
    let n = model.n_layers();
    let on_gpu = engine
        .offload
        .n_gpu_layers
        .map_or(n, |g| (g as usize).min(n));
    let all = engine.offload.n_gpu_layers.is_none_or(|g| g as usize > n);
    let p = &engine.weights;
    let (embedding, output) = ends_bytes(model, p);
    let per_layer = (total - embedding - output).max(0.0) / n.max(1) as f64;
    let experts_per_layer = if model.moe_layer_count() > 0 {
        model.expert_params() as f64
            * model.moe.map_or(0, |m| m.num_experts) as f64
            * p.bytes_per_param(model, Role::Expert)
    } else {
        0.0
    };
    // This device's layers: the offloaded ones (the last `on_gpu`) within its stage (a
    // `-ts` split gives each device a stage).
    let mine = (n - on_gpu).max(stage.layers.start)..stage.layers.end;
    let cpu_moe = (engine.offload.n_cpu_moe as usize).min(n);
    let moe_kept_on_host = mine
        .clone()
        .filter(|&l| l < cpu_moe && model.mlp_layers[l] == crate::model::MlpKind::Moe)
        .count() as f64
        * experts_per_layer;
    let output_here = all && stage.last;
    let gpu =
        per_layer * mine.len() as f64 + if output_here { output } else { 0.0 } - moe_kept_on_host;
    let kv_bytes_per_token = mine
        .map(|l| {
            let (k, v) = kv.layer_bytes(l);
            k + v
        })
        .sum();
    Placed {
        weights: gpu,
        host_weights: total - gpu,
        kv_bytes_per_token,
    }
}

/// Estimated activation peak of the engine's profiling pass on one GPU of a TP group, with
/// `e` bytes per activation, over `T = max_num_batched_tokens` tokens:
///
/// * forward, MLP phase: `T·e·(3·I/tp + 2·H)` — the gate/up output (2·I), the activated
///   product (I) and two hidden-size buffers (residual, MLP input) live at once. For MoE
///   layers `I` is `top_k × expert_intermediate + shared_intermediate`.
/// * forward, attention phase: `T·e·((q_heads + 2·kv_heads)·head_dim/tp + 2·H)`.
/// * sampler: vLLM V1 profiles `min(T, max_num_seqs)` rows of the full vocabulary through a
///   top-k/top-p pass ([`VLLM_V1_SAMPLER_BYTES`] per element); vLLM V0 holds the fp32
///   logits of its `max_num_seqs` rows; TensorRT-LLM's dummy requests sample one token each
///   from a handful of rows (negligible).
///
/// The peak is the larger forward phase plus the sampler. SGLang's activations and CUDA
/// graphs come out of the `1 − mem_fraction_static` share, so its budget ignores them.
/// llama.cpp's compute buffer: the larger of the output phase `ub·(vocab + H)` and the MLP
/// phase `ub·(3·I + 2·H)`, in f32, for `ub = -ub` tokens (ggml-alloc reuses buffers between
/// phases). Not modelled: CUDA graphs (captured after the KV allocation by vLLM ≤ 0.16),
/// allocator fragmentation. Checks: RTX 3090 V0 log (2.03 GiB estimated vs 2.07 profiled)
/// and llm-d's H100 V1 breakdown (4.69 GiB vs 4.76) in the tests below.
pub fn activation_peak_bytes(model: &Model, tp: u64, engine: &EngineMemory) -> f64 {
    forward_peak_bytes(model, tp, engine) + sampler_peak_bytes(model, engine)
}

/// The forward part of [`activation_peak_bytes`] (llama.cpp: the compute buffer).
pub fn forward_peak_bytes(model: &Model, tp: u64, engine: &EngineMemory) -> f64 {
    let h = model.hidden_size as f64;
    let tpf = tp as f64;
    let dense_i = model.intermediate_size as f64;
    let moe_i = model.moe.as_ref().map_or(0.0, |m: &MoeDims| {
        (m.experts_per_token * m.expert_intermediate_size + m.shared_intermediate_size) as f64
    });
    let i = dense_i.max(moe_i);
    let vocab = model.vocab_size as f64;
    if engine.kind == EngineKind::LlamaCpp {
        let ub = engine.offload.n_ubatch as f64;
        return 4.0 * ub * (vocab + h).max(3.0 * i + 2.0 * h);
    }
    if engine.kind == EngineKind::Sglang {
        return 0.0;
    }
    let t = engine.max_num_batched_tokens as f64;
    let e = engine.activation_bytes;
    let mlp = t * e * (3.0 * i / tpf + 2.0 * h);
    let qkv = (model.num_attention_heads + 2 * model.kv_heads()) as f64 * model.head_dim as f64;
    let attn = t * e * (qkv / tpf + 2.0 * h);
    mlp.max(attn)
}

/// The sampler part of [`activation_peak_bytes`] (on the last pipeline stage only).
pub fn sampler_peak_bytes(model: &Model, engine: &EngineMemory) -> f64 {
    let vocab = model.vocab_size as f64;
    match engine.kind {
        EngineKind::Vllm => {
            let rows = engine.max_num_seqs.min(engine.max_num_batched_tokens) as f64;
            rows * vocab * VLLM_V1_SAMPLER_BYTES
        }
        EngineKind::VllmV0 => engine.max_num_seqs as f64 * vocab * 4.0,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::kv::CacheDtype;

    /// data/sizing_cases.md, vLLM on an RTX 3090 (total 23.58 GiB, utilization
    /// 0.90, weights + activation peak 17.06 GiB, non-torch 0.35 GiB, block 16): "GPU blocks:
    /// 1952", "Maximum concurrency for 20000 tokens per request: 1.56x". The log rounds each
    /// figure to 0.01 GiB, so the test evaluates the budget at both ends of that rounding and
    /// requires 1952 to lie between.
    #[test]
    fn vllm_rtx3090_budget_to_the_block() {
        let m = Catalog::builtin().model("llama-3.1-8b").unwrap();
        let kv = KvSpec::new(&m, CacheDtype::Bf16, CacheDtype::Bf16, 1).unwrap();
        assert_eq!(kv.total_bytes_per_token(), 128 * 1024);
        let blocks = |total: f64, peak: f64, non_torch: f64| {
            Budget::from_parts(
                total * GIB as f64,
                total * GIB as f64 * 0.9,
                peak * GIB as f64,
                0.0,
                non_torch * GIB as f64,
                &kv,
                16,
            )
            .blocks
        };
        let r = 0.005;
        let lo = blocks(23.58 - r, 17.06 + r, 0.35 + r);
        let hi = blocks(23.58 + r, 17.06 - r, 0.35 - r);
        assert!(lo <= 1952 && 1952 <= hi, "1952 not in [{lo}, {hi}]");
        let mid = Budget::from_parts(
            0.0,
            23.58 * GIB as f64 * 0.9,
            17.06 * GIB as f64,
            0.0,
            0.35 * GIB as f64,
            &kv,
            16,
        );
        assert!(
            (mid.kv / GIB as f64 - 3.81).abs() < 0.005,
            "kv_cache_size=3.81GiB, got {}",
            mid.kv / GIB as f64
        );
        // 1952 blocks × 16 = 31,232 tokens; / 20,000 = 1.56x.
        let logged = Budget {
            blocks: 1952,
            tokens: 1952 * 16,
            ..mid
        };
        assert_eq!(format!("{:.2}", logged.max_concurrency(20_000)), "1.56");
    }

    /// The same case with the planner's own estimates (weights from the parameter count,
    /// activation peak from the formula, V0's defaults for a 20000-token max_model_len: the
    /// profiling batch is max_model_len tokens, as chunked prefill is off below 32768):
    /// within a few percent of the logged figures.
    #[test]
    fn vllm_rtx3090_estimate_within_a_few_percent() {
        let m = Catalog::builtin().model("llama-3.1-8b").unwrap();
        let kv = KvSpec::new(&m, CacheDtype::Bf16, CacheDtype::Bf16, 1).unwrap();
        let engine =
            EngineMemory::defaults_for(EngineKind::VllmV0, "rtx-3090", 23.58 * GIB as f64, 20_000);
        assert_eq!(
            (engine.max_num_batched_tokens, engine.max_num_seqs),
            (20_000, 256)
        );
        let b = Budget::new(&m, &kv, 23.58 * GIB as f64, &engine);
        let weights_gib = b.weights / GIB as f64;
        assert!(
            (weights_gib - 14.9888).abs() / 14.9888 < 0.01,
            "weights {weights_gib} GiB vs 14.99 logged"
        );
        let act_gib = b.activations / GIB as f64;
        assert!(
            (act_gib - (17.06 - 14.9888)).abs() / 2.07 < 0.05,
            "activations {act_gib} GiB vs 2.07 profiled"
        );
        let err = (b.blocks as f64 - 1952.0).abs() / 1952.0;
        assert!(
            err < 0.03,
            "estimated {} blocks vs 1952 logged ({:.1}%)",
            b.blocks,
            err * 100.0
        );
    }

    /// vLLM V0 profiles `max_model_len` tokens without chunked prefill: a longer
    /// max_model_len leaves less KV (issue #14's first example).
    #[test]
    fn vllm_v0_longer_max_model_len_leaves_less_kv() {
        let m = Catalog::builtin().model("llama-3.1-8b").unwrap();
        let kv = KvSpec::new(&m, CacheDtype::Bf16, CacheDtype::Bf16, 1).unwrap();
        let mem = 79.18 * GIB as f64;
        let at = |len| {
            let e = EngineMemory::defaults_for(EngineKind::VllmV0, "h100-sxm", mem, len);
            Budget::new(&m, &kv, mem, &e).tokens
        };
        assert!(at(32_000) < at(8_000), "{} vs {}", at(32_000), at(8_000));
    }

    /// llm-d's measured V1 start-up on one H100 (`data/serving/vllm_memory_h100.md`):
    /// Llama-3.1-8B-Instruct, TP 1, utilization 0.9: weights 14.99 GiB, activation peak 4.76,
    /// non-torch 0.13, KV 51.38 GiB per GPU; `vllm serve`'s defaults on an 80 GB GPU
    /// (8192 tokens, 1024 sequences). Each line within 3 %.
    #[test]
    fn llm_d_h100_breakdown_line_by_line() {
        let m = Catalog::builtin().model("llama-3.1-8b").unwrap();
        let kv = KvSpec::new(&m, CacheDtype::Bf16, CacheDtype::Bf16, 1).unwrap();
        let mem = 79.18 * GIB as f64;
        let e = EngineMemory::defaults_for(EngineKind::Vllm, "h100-sxm", mem, 16_000);
        let b = Budget::new(&m, &kv, mem, &e);
        let gib = |x: f64| x / GIB as f64;
        for (what, got, measured) in [
            ("weights", gib(b.weights), 14.99),
            ("activation peak", gib(b.activations), 4.76),
            ("non-torch", gib(b.reserve), 0.13),
            ("KV", gib(b.kv), 51.38),
        ] {
            let err = (got / measured - 1.0).abs();
            assert!(err < 0.03, "{what}: {got:.2} GiB vs {measured} measured");
        }
    }

    /// llm-d's Llama-3.3-70B-Instruct-FP8 rows: TP 2 leaves 32.0 GiB of KV per GPU after
    /// 33.88 GiB of weights; TP 1 does not fit (−1.44 GiB). The FP8 checkpoint keeps its
    /// embeddings and lm_head in bf16 (2 × 128256 × 8192 × 2 bytes = 3.9 GiB).
    #[test]
    fn llm_d_h100_fp8_70b_rows() {
        let m = Catalog::builtin().model("llama-3.1-70b").unwrap();
        let mem = 79.18 * GIB as f64;
        let e = EngineMemory {
            weights: Precision::uniform(WeightDtype::Fp8),
            ..EngineMemory::defaults_for(EngineKind::Vllm, "h100-sxm", mem, 16_000)
        };
        let kv2 = KvSpec::new(&m, CacheDtype::Bf16, CacheDtype::Bf16, 2).unwrap();
        let b2 = Budget::new(&m, &kv2, mem, &e);
        let gib = |x: f64| x / GIB as f64;
        assert!(
            (gib(b2.weights) / 33.88 - 1.0).abs() < 0.03,
            "{}",
            gib(b2.weights)
        );
        assert!((gib(b2.kv) / 32.0 - 1.0).abs() < 0.03, "{}", gib(b2.kv));
        let kv1 = KvSpec::new(&m, CacheDtype::Bf16, CacheDtype::Bf16, 1).unwrap();
        let b1 = Budget::new(&m, &kv1, mem, &e);
        assert!(b1.kv < 0.0 && b1.blocks == 0, "{}", gib(b1.kv));
        assert!((gib(b1.kv) - -1.44).abs() < 0.05 * 71.3, "{}", gib(b1.kv));
    }

    /// SGLang: `mem_fraction_static` of what is free after start-up, minus weights; its
    /// default on an 80 GB GPU at TP 1 is round((79.18 − 10) / 79.18, 3) = 0.874.
    #[test]
    fn sglang_rule_and_default_fraction() {
        let mem = 79.18 * GIB as f64;
        assert_eq!(sglang_default_mem_fraction_static(mem, 1), 0.874);
        assert_eq!(
            sglang_default_mem_fraction_static(143.0 * GIB as f64, 8),
            0.888
        );
        assert_eq!(
            sglang_default_mem_fraction_static(23.58 * GIB as f64, 1),
            0.877
        );
        let m = Catalog::builtin().model("llama-3.1-8b").unwrap();
        let kv = KvSpec::new(&m, CacheDtype::Bf16, CacheDtype::Bf16, 1).unwrap();
        let e = EngineMemory::defaults_for(EngineKind::Sglang, "h100-sxm", mem, 8192);
        let b = Budget::new(&m, &kv, mem, &e);
        let expect = (mem - 0.5 * GIB as f64) * 0.874 - b.weights;
        assert!((b.kv - expect).abs() < 1.0, "{} vs {expect}", b.kv);
        assert_eq!(b.tokens, (b.kv / (128.0 * 1024.0)).floor() as u64);
    }

    /// TensorRT-LLM: the free fraction of what is left after weights, activations and
    /// non-torch memory, in blocks of 32 tokens.
    #[test]
    fn trtllm_takes_a_fraction_of_the_free_memory() {
        let mem = 79.18 * GIB as f64;
        let m = Catalog::builtin().model("llama-3.1-8b").unwrap();
        let kv = KvSpec::new(&m, CacheDtype::Bf16, CacheDtype::Bf16, 1).unwrap();
        let e = EngineMemory::defaults_for(EngineKind::Trtllm, "h100-sxm", mem, 8192);
        let b = Budget::new(&m, &kv, mem, &e);
        let free = mem - b.weights - b.activations - b.reserve;
        assert!((b.kv - 0.9 * free).abs() < 1.0);
        assert_eq!(b.tokens % 32, 0);
    }

    /// llama.cpp: no fraction, and `-ngl` keeps the other layers' weights and KV in host
    /// memory; `--n-cpu-moe` moves experts out.
    #[test]
    fn llama_cpp_offload_moves_weights_and_kv_to_the_host() {
        let mem = 23.58 * GIB as f64;
        let m = Catalog::builtin().model("llama-3.1-8b").unwrap();
        let kv = KvSpec::new(&m, CacheDtype::F16, CacheDtype::F16, 1).unwrap();
        let all = EngineMemory::defaults_for(EngineKind::LlamaCpp, "rtx-3090", mem, 8192);
        let full = Budget::new(&m, &kv, mem, &all);
        assert_eq!(full.fraction, 1.0);
        assert_eq!(full.kv_bytes_per_token, kv.total_bytes_per_token());
        // The token embedding never goes to the GPU.
        let emb = m.lm_head_params() as f64 * 2.0;
        assert!(
            (full.host_weights - emb).abs() < 1.0,
            "{}",
            full.host_weights
        );
        let half = EngineMemory {
            offload: Offload {
                n_gpu_layers: Some(16),
                ..Offload::default()
            },
            ..all.clone()
        };
        let b = Budget::new(&m, &kv, mem, &half);
        assert_eq!(b.kv_bytes_per_token * 2, kv.total_bytes_per_token());
        assert!(b.weights < full.weights / 2.0 && b.host_weights > full.host_weights);
        let moe = Catalog::builtin().model("qwen3-30b-a3b").unwrap();
        let kvm = KvSpec::new(&moe, CacheDtype::F16, CacheDtype::F16, 1).unwrap();
        let cpu_moe = EngineMemory {
            offload: Offload {
                n_cpu_moe: 48,
                ..Offload::default()
            },
            ..all
        };
        let on = Budget::new(&moe, &kvm, mem, &cpu_moe);
        // Every expert in host memory: a few GiB of attention and embeddings remain.
        assert!(on.weights < 3.0 * GIB as f64, "{}", on.weights / GIB as f64);
    }

    /// Pipeline stages: even or explicit splits, the embedding on the first, the lm_head and
    /// sampler on the last; the capacity is the smallest stage's.
    #[test]
    fn pipeline_stages_split_layers_and_ends() {
        let even = Stage::split(32, 2, &[]).unwrap();
        assert_eq!(
            (even[0].layers.clone(), even[1].layers.clone()),
            (0..16, 16..32)
        );
        assert_eq!(Stage::split(30, 4, &[]).unwrap()[3].layers, 22..30);
        assert!(Stage::split(32, 2, &[10, 20]).is_none());
        let m = Catalog::builtin().model("llama-3.1-8b").unwrap();
        let kv = KvSpec::new(&m, CacheDtype::Bf16, CacheDtype::Bf16, 1).unwrap();
        let e = EngineMemory::defaults_for(EngineKind::Vllm, "rtx-4090", 23.5 * GIB as f64, 8192);
        let s = Stage::split(32, 2, &[14, 18]).unwrap();
        let b0 = Budget::for_stage(&m, &kv, 15.6 * GIB as f64, &e, &s[0], 2);
        let b1 = Budget::for_stage(&m, &kv, 31.3 * GIB as f64, &e, &s[1], 2);
        let whole = Budget::new(&m, &kv, 80.0 * GIB as f64, &e);
        assert!((b0.weights + b1.weights - whole.weights).abs() < 1e6);
        assert_eq!(b0.kv_bytes_per_token, 14 * 4096);
        assert!(
            b1.activations > b0.activations,
            "the sampler is on the last stage"
        );
    }

    #[test]
    fn model_too_large_leaves_no_blocks() {
        let m = Catalog::builtin().model("llama-3.1-70b").unwrap();
        let kv = KvSpec::new(&m, CacheDtype::Bf16, CacheDtype::Bf16, 1).unwrap();
        let b = Budget::new(&m, &kv, 79.18 * GIB as f64, &EngineMemory::default());
        assert!(b.kv < 0.0 && b.blocks == 0 && b.tokens == 0);
    }
}
