//! Batch policies: how a replica forms its next batch. Each scheduler is one policy behind
//! [`BatchPolicy`]: it chooses who runs with how many tokens, admits, allocates KV blocks and
//! preempts as the engine it models does, writing the batch's work into the replica's work
//! lists and its counts into a [`Batch`]; the engine then prices the batch with the cost
//! model and applies its end ([`super::engine`]).
//!
//! - [`StaticBatch`]: a batch runs to completion before the next is admitted.
//! - [`Continuous`]: iteration-level batching, whole prefills (vLLM without chunking).
//! - [`ChunkedPrefill`]: decodes first, then prompt chunks in the token budget (vLLM V1;
//!   TensorRT-LLM's in-flight batching and llama-server's slots batch the same way, and
//!   differ in their admission rule, `iteration::AdmissionRule`).
//! - [`Sglang`]: prefill batches before decode batches, new-token-ratio admission,
//!   retraction.

mod iteration;
mod sglang;
mod static_batch;

pub(crate) use iteration::tenant_blocks;
pub use iteration::{ChunkedPrefill, Continuous};
pub use sglang::Sglang;
pub use static_batch::StaticBatch;

use super::config::{EngineConfig, SchedulerKind};
use super::replica::{Keep, PreemptRule, Replica};
use super::spec::SpecRun;
use crate::cost::iteration::IterationCost;
use crate::kv::EngineKind;
use crate::sim::Nanos;
use rand::rngs::StdRng;

/// The counts of the batch under way, as its policy forms it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Batch {
    /// Prompt tokens processed (first prefills and recomputes).
    pub prefill_tokens: u32,
    /// Decode tokens processed.
    pub decode_tokens: u32,
    /// Sequences whose logits are sampled (the LM head's rows).
    pub sampled: u32,
    /// Sequences preempted while forming it.
    pub preemptions: u32,
    /// Speculative decoding: draft tokens proposed, accepted, and sequences verified.
    pub spec_drafted: u32,
    /// See `spec_drafted`.
    pub spec_accepted: u32,
    /// See `spec_drafted`.
    pub spec_verified: u32,
    /// The most sequential draft steps any sequence takes.
    pub draft_steps: u32,
}

/// What a policy may use while forming a batch.
pub struct Env<'e, 'a> {
    /// The engine's settings.
    pub cfg: &'e EngineConfig,
    /// The cost model (preemption by swap is priced while scheduling).
    pub cost: &'e IterationCost,
    /// KV bytes per token per GPU.
    pub kv_bytes_per_token: f64,
    /// The model's context limit.
    pub max_len: u64,
    /// Decode steps may be priced in aggregate.
    pub aggregate: bool,
    /// Speculative decoding, if on.
    pub spec: Option<&'e SpecRun<'a>>,
    /// Its accept/reject draws, in scheduling order.
    pub accept_rng: Option<&'e mut StdRng>,
    /// Prefix caching is on.
    pub caching: bool,
    /// Scratch for block content ids.
    pub content: &'e mut Vec<u64>,
    /// The time the batch starts.
    pub now: Nanos,
    /// LoRA adapters, if any tenant has them.
    pub lora: Option<&'e crate::serving::lora::LoraRun>,
}

impl<'e> Env<'e, '_> {
    /// How this engine preempts: the configured mode, keeping in the prefix cache what the
    /// engine keeps of a preempted request's KV.
    pub fn preempt_rule(&self) -> PreemptRule<'e> {
        let keep = match self.cfg.kind {
            _ if !self.caching => Keep::Nothing,
            EngineKind::Vllm | EngineKind::VllmV0 | EngineKind::LlamaCpp => Keep::Computed,
            EngineKind::Sglang | EngineKind::Trtllm => Keep::Prompt,
        };
        PreemptRule {
            mode: self.cfg.preemption,
            keep,
            kv_bytes_per_token: self.kv_bytes_per_token,
            cost: self.cost,
            max_len: self.max_len,
            cfg: self.cfg,
        }
    }
}

/// How a replica forms its next batch.
pub trait BatchPolicy: Send + Sync {
    /// Form the next batch on an idle replica (its work lists are empty).
    fn form(&self, rep: &mut Replica, env: &mut Env, batch: &mut Batch);
}

/// The policy of an engine: its scheduler kind, and SGLang's own loop when the engine is
/// SGLang with chunked prefill (its default).
pub fn policy(cfg: &EngineConfig) -> Box<dyn BatchPolicy> {
    if cfg.kind == EngineKind::Sglang && cfg.scheduler == SchedulerKind::ChunkedPrefill {
        return Box::new(Sglang);
    }
    match cfg.scheduler {
        SchedulerKind::Static => Box::new(StaticBatch),
        SchedulerKind::Continuous => Box::new(Continuous),
        SchedulerKind::ChunkedPrefill => Box::new(ChunkedPrefill),
    }
}
