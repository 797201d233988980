//! SGLang's scheduler (`python/sglang/srt/managers/scheduler.py`, `get_next_batch_to_run`,
//! and `schedule_policy.py`'s `PrefillAdder`, v0.4–0.5):
//! 1. a **prefill batch** first: the request whose prompt is being chunked continues, then
//!    waiting requests are admitted by the new-token-ratio rule
//!    ([`super::iteration`]'s `AdmissionRule::NewTokenRatio`) within `chunked_prefill_size`
//!    tokens (here `max_num_batched_tokens`); while there is one, decodes wait (no mixed
//!    batches, SGLang's default);
//! 2. otherwise a **decode batch** of every running request. Before it, when the free and
//!    evictable tokens cannot hold one more token per request, requests are **retracted**
//!    (the fewest tokens decoded first, the longest prompt among equals) until they can hold
//!    `SGLANG_RETRACT_DECODE_STEPS` = 20 more each, their
//!    prompts kept in the radix cache, and the new-token ratio jumps to
//!    (Σ decoded + 20 × requests) / Σ max new tokens of those left (at most 1). Each decode
//!    batch without a retraction lowers the ratio by (init − min) / 600, down to
//!    min = 0.14 × init; init = min(0.7 × `schedule_conservativeness`, 1), and the ratio goes
//!    back to init when nothing runs.

use super::iteration::{Phase, admit_waiting, step_running};
use super::{Batch, BatchPolicy, Env};
use crate::serving::group::dissolve_group;
use crate::serving::replica::{Replica, preempt};

/// SGLang's `SGLANG_RETRACT_DECODE_STEPS`.
const RETRACT_DECODE_STEPS: u64 = 20;

/// SGLang: prefill batches first, then decode batches, with retraction.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sglang;

impl BatchPolicy for Sglang {
    fn form(&self, rep: &mut Replica, env: &mut Env, batch: &mut Batch) {
        let init = (0.7 * env.cfg.schedule_conservativeness).min(1.0);
        let min = init * 0.14;
        if rep.running.is_empty() {
            rep.new_token_ratio = init;
        }
        let mut budget = env.cfg.max_num_batched_tokens;
        step_running(rep, env, batch, &mut budget, Phase::Prefill);
        admit_waiting(rep, env, batch, &mut budget, true);
        if batch.prefill_tokens > 0 || rep.running.is_empty() {
            return;
        }
        if retract(rep, env, batch) {
            rep.new_token_ratio = ratio_after_retract(rep);
        } else {
            rep.new_token_ratio = (rep.new_token_ratio - (init - min) / 600.0).max(min);
        }
        let mut budget = u32::MAX;
        step_running(rep, env, batch, &mut budget, Phase::Decode);
    }
}

/// Retract the newest requests while the free and evictable tokens cannot hold one more
/// token for each running request, until they hold 20 more each; whether any was.
fn retract(rep: &mut Replica, env: &mut Env, batch: &mut Batch) -> bool {
    let bs = rep.alloc.block_size() as u64;
    let room = |rep: &Replica| (rep.alloc.free_blocks() + rep.cache.evictable_blocks()) as u64 * bs;
    let n = rep.running.len() as u64;
    if room(rep) >= n {
        return false;
    }
    dissolve_group(rep);
    let rule = env.preempt_rule();
    while rep.running.len() > 1 && room(rep) < RETRACT_DECODE_STEPS * rep.running.len() as u64 {
        // SGLang's order (`ScheduleBatch.retract_decode`): the fewest tokens decoded first,
        // the longest prompt among those. Moved last (the others keep their order), then
        // preempted as the newest would be.
        let seqs = &rep.seqs;
        let i = (0..rep.running.len())
            .min_by_key(|&i| {
                let s = &seqs[rep.running[i] as usize];
                (
                    s.generated,
                    std::cmp::Reverse(s.req.prompt_tokens),
                    std::cmp::Reverse(i),
                )
            })
            .expect("a running request");
        let slot = rep.running.remove(i);
        rep.running.push(slot);
        rep.solo.clear();
        rep.solo.extend_from_slice(&rep.running);
        preempt(rep, &rule, env.content);
        batch.preemptions += 1;
    }
    true
}

/// (Σ decoded + 20 × requests) / Σ max new tokens over the running requests, at most 1
/// (`ScheduleBatch.retract_decode`). The group was dissolved, so every field is current.
fn ratio_after_retract(rep: &Replica) -> f64 {
    let (mut decoded, mut max_new) = (0u64, 0u64);
    for &slot in &rep.running {
        let s = &rep.seqs[slot as usize];
        decoded += s.generated as u64;
        max_new += s.req.output_tokens as u64;
    }
    let n = rep.running.len() as u64;
    ((decoded + RETRACT_DECODE_STEPS * n) as f64 / max_new.max(1) as f64).min(1.0)
}
