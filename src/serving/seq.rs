//! A request inside a replica: what it has prefilled and generated, its KV slot, and its
//! group, speculative and prefix-cache state.

use super::config::EngineConfig;
use crate::kv::prefix::chained;
use crate::sim::Nanos;
use crate::workload::Request;
use std::sync::Arc;

/// A request being served.
#[derive(Debug, Clone)]
pub struct Seq {
    pub req: Request,
    pub slot: u32,
    /// Order of entry into the running set (later = newer = preempted first).
    pub stamp: u64,
    /// Tokens of the (re)computed prefill done so far.
    pub prefilled: u32,
    /// Tokens the prefill must process: the prompt, or prompt + generated after a recompute.
    pub prefill_target: u32,
    pub generated: u32,
    pub scheduled: u32,
    pub first_scheduled: Option<Nanos>,
    pub first_token: Option<Nanos>,
    pub last_token: Nanos,
    pub preemptions: u32,
    /// Static batching: finished but kept in the batch as padding.
    pub done: bool,
    /// Swap mode: KV tokens held in host memory while swapped out.
    pub swapped_tokens: u32,
    /// Its membership of the decode group.
    pub join: Join,
    /// Speculative decoding state.
    pub draft: Draft,
    /// Prefix-cache state.
    pub cached: Cached,
    /// Unless scheduled by then, it leaves at this time, so (a client's patience, the
    /// server's queue timeout).
    pub deadline: Option<(Nanos, super::Outcome)>,
    /// Its LoRA adapter (0: the base model).
    pub lora: u32,
    /// When its client gives up on the whole answer (`Nanos(u64::MAX)`: never).
    pub timeout_at: Nanos,
}

/// A sequence's membership of the decode group ([`super::group::Group`]).
#[derive(Debug, Clone, Default)]
pub struct Join {
    /// In the group: the sequence's `generated`, `last_token` and KV tokens held are derived
    /// from the group's step count and are stale in [`Seq`].
    pub member: bool,
    /// Group step when it joined.
    pub step: u64,
    /// Tokens generated when it joined.
    pub generated: u32,
    /// KV tokens held when it joined.
    pub held: u32,
}

/// Speculative decoding: the request's own acceptance rate (Beta model), draft tokens in the
/// iteration under way, and how many of them the target accepts.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The request's α.
    pub alpha: f64,
    /// Draft tokens proposed in the iteration under way.
    pub drafted: u32,
    /// Of those, accepted.
    pub accepted: u32,
}

/// Prefix caching: chained hashes of the full blocks of its tokens (prompt, then output),
/// tokens it holds in cached blocks (a multiple of the block size, the leading blocks), and
/// the hits found when it was first scheduled.
#[derive(Debug, Clone, Default)]
pub struct Cached {
    /// Block hashes, computed when first scheduled.
    pub hashes: Option<Arc<[u64]>>,
    /// Tokens held in cached blocks.
    pub shared: u32,
    /// Hits at first scheduling.
    pub first_hits: Option<u32>,
}

impl Seq {
    /// A sequence for a request arriving `now`.
    pub fn new(req: Request, now: Nanos) -> Seq {
        Seq {
            slot: u32::MAX,
            stamp: 0,
            prefilled: 0,
            prefill_target: req.prompt_tokens,
            req,
            generated: 0,
            scheduled: 0,
            first_scheduled: None,
            first_token: None,
            deadline: None,
            lora: 0,
            timeout_at: Nanos(u64::MAX),
            last_token: now,
            preemptions: 0,
            done: false,
            swapped_tokens: 0,
            join: Join::default(),
            draft: Draft {
                alpha: f64::NAN,
                drafted: 0,
                accepted: 0,
            },
            cached: Cached::default(),
        }
    }
}

/// Name the full blocks of `seq`'s tokens (prompt, then output) by their chained hashes, when
/// prefix caching is on and the request says what its tokens share; once.
pub fn hash_blocks(seq: &mut Seq, caching: bool, cfg: &EngineConfig, content: &mut Vec<u64>) {
    if !caching || seq.cached.hashes.is_some() {
        return;
    }
    let r = &seq.req;
    if let Some(segments) = &r.prefix {
        crate::workload::content_ids(
            segments,
            cfg.block_size,
            r.prompt_tokens + r.output_tokens,
            content,
        );
        seq.cached.hashes = Some(chained(content, r.tenant, cfg.prefix_isolation).collect());
    }
}

/// Name every full block of `seq`'s tokens, also those its workload does not describe (they
/// are its own: a unique id per request and block), so that the blocks it has computed can
/// stay in the prefix cache when it is preempted, as vLLM caches every full block
/// (`vllm/v1/core/kv_cache_manager.py`, v0.8–0.11). Once.
pub fn hash_all_blocks(seq: &mut Seq, cfg: &EngineConfig, content: &mut Vec<u64>) {
    let r = &seq.req;
    let total = (r.prompt_tokens + r.output_tokens) / cfg.block_size;
    if seq
        .cached
        .hashes
        .as_ref()
        .is_some_and(|h| h.len() as u32 >= total)
    {
        return;
    }
    match &r.prefix {
        Some(segments) => crate::workload::content_ids(
            segments,
            cfg.block_size,
            r.prompt_tokens + r.output_tokens,
            content,
        ),
        None => content.clear(),
    }
    let own = crate::hash::mix64(r.id ^ 0x5851_f42d_4c95_7f2d);
    let described = content.len() as u64;
    content.extend((described..total as u64).map(|j| crate::hash::mix64(own ^ j)));
    seq.cached.hashes = Some(chained(content, r.tenant, cfg.prefix_isolation).collect());
}

/// The request's length so far, as a contiguous reservation of `max_len` would see it.
pub fn clamp_len(s: &Seq, max_len: u64) -> u64 {
    (s.req.prompt_tokens as u64 + s.generated as u64).min(max_len)
}
