//! Iteration-level batching, as vLLM's scheduler does it (`vllm/v1/core/sched/scheduler.py`,
//! `schedule()`, v0.8–0.11): within a token budget of `max_num_batched_tokens`,
//! 1. running sequences first, oldest first: a decode step each (1 + γ tokens when
//!    speculating), a prefill its next chunk; when blocks run out, cached blocks nobody uses
//!    are evicted, then the newest running sequence is preempted (possibly the one asking);
//! 2. swapped-out sequences come back, before
//! 3. waiting requests, first come first served, while `max_num_seqs` allows: a request is
//!    admitted when the free blocks cover its next chunk (prefix-cache hits counted).
//!
//! [`Continuous`] runs a waiting prompt whole (vLLM without chunked prefill); [`ChunkedPrefill`]
//! cuts it to what is left of the budget (Sarathi-Serve, vLLM V1's default).

use super::{Batch, BatchPolicy, Env};
use crate::cost::iteration::SeqWork;
use crate::serving::group::{dissolve_group, group_fits, step_group};
use crate::serving::replica::{
    Replica, enter, make_newest, preempt, push_work, reclaim, take_slot,
};
use crate::serving::seq::{Seq, hash_blocks};
use crate::serving::tenancy::TenantScheduling;

/// Continuous (iteration-level) batching with whole prefills.
#[derive(Debug, Clone, Copy, Default)]
pub struct Continuous;

/// Chunked prefill: decodes first, then prompt chunks filling the budget.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChunkedPrefill;

impl BatchPolicy for Continuous {
    fn form(&self, rep: &mut Replica, env: &mut Env, batch: &mut Batch) {
        iteration_level(rep, env, batch, false);
    }
}

impl BatchPolicy for ChunkedPrefill {
    fn form(&self, rep: &mut Replica, env: &mut Env, batch: &mut Batch) {
        iteration_level(rep, env, batch, true);
    }
}

/// The three phases within one token budget (with priority scheduling, first the waiting
/// requests' preemption of worse-priority running ones).
fn iteration_level(rep: &mut Replica, env: &mut Env, batch: &mut Batch, chunked: bool) {
    let mut budget = env.cfg.max_num_batched_tokens;
    if env.cfg.tenancy.scheduling == TenantScheduling::Priority {
        priority_preemption(rep, env, batch, budget);
    }
    step_running(rep, env, batch, &mut budget, Phase::All);
    resume_swapped(rep, env, batch, &mut budget);
    admit_waiting(rep, env, batch, &mut budget, chunked);
}

/// Phase 1, running sequences, oldest first. The group steps at once when it and every solo
/// sequence fit whole in the budget and the free blocks (then no one is cut short or
/// preempted, so order does not matter); otherwise the group is dissolved and everyone is
/// handled one by one, in order.
pub(super) fn step_running(
    rep: &mut Replica,
    env: &mut Env,
    batch: &mut Batch,
    budget: &mut u32,
    phase: Phase,
) {
    let gamma = env.spec.map_or(0, |sp| sp.num_tokens);
    if phase != Phase::Prefill && rep.group.members > 0 && !group_fits(rep, *budget) {
        dissolve_group(rep);
    }
    if phase != Phase::Prefill && rep.group.members > 0 {
        step_group(rep);
        *budget -= rep.group.members;
        rep.decodes += rep.group.members;
        rep.decode_context += rep.group.held + rep.group.shared;
        batch.decode_tokens += rep.group.members;
        batch.sampled += rep.group.members;
    }
    let mut i = 0;
    while i < rep.solo.len() {
        let slot = rep.solo[i];
        let s = &rep.seqs[slot as usize];
        let remaining = s.prefill_target - s.prefilled;
        let need = if remaining > 0 {
            remaining
                .min(*budget)
                .min(rep.prefill_left_of(s.req.tenant))
        } else {
            (1 + gamma).min(*budget)
        };
        let skip = match phase {
            Phase::All => false,
            Phase::Prefill => remaining == 0,
            Phase::Decode => remaining > 0,
        };
        if need == 0 || skip {
            rep.seqs[slot as usize].scheduled = 0;
            i += 1;
            continue;
        }
        // A tenant at its KV block cap preempts its own newest sequence (possibly this one)
        // to grow; a prefill batch skips the sequence instead.
        if let Some(cap) = env.cfg.tenancy.max_kv_blocks(s.req.tenant) {
            let t = s.req.tenant;
            let add = rep.alloc.blocks_needed(rep.alloc.tokens(slot), need);
            let mut preempted_self = false;
            while tenant_blocks(rep, t) + add > cap {
                if phase == Phase::Prefill {
                    preempted_self = true;
                    rep.seqs[slot as usize].scheduled = 0;
                    i += 1;
                    break;
                }
                let k = (i..rep.solo.len())
                    .rev()
                    .find(|&k| rep.seqs[rep.solo[k] as usize].req.tenant == t)
                    .expect("this sequence is the tenant's");
                make_newest(rep, rep.solo[k]);
                preempt(rep, &env.preempt_rule(), env.content);
                batch.preemptions += 1;
                if k == i {
                    preempted_self = true;
                    break;
                }
            }
            if preempted_self {
                continue;
            }
        }
        let s = &rep.seqs[slot as usize];
        let context = s.cached.shared + rep.alloc.tokens(slot);
        // Append, evicting cached blocks nobody uses, or preempt the newest sequence
        // (possibly this one) until it fits; a failed append changes nothing. (Only without
        // a group: group_fits.)
        let mut self_preempted = false;
        let tenant = s.req.tenant;
        while let Err(e) = rep.alloc.append(slot, need) {
            if reclaim(rep, e.needed, tenant) {
                continue;
            }
            if phase == Phase::Prefill {
                // A prefill batch waits for memory rather than preempting anyone.
                self_preempted = true;
                rep.seqs[slot as usize].scheduled = 0;
                break;
            }
            let victim = victim_index(rep, env, i);
            make_newest(rep, rep.solo[victim]);
            preempt(rep, &env.preempt_rule(), env.content);
            batch.preemptions += 1;
            if victim == i {
                self_preempted = true;
                break;
            }
        }
        if self_preempted {
            break;
        }
        rep.seqs[slot as usize].scheduled = need;
        *budget -= need;
        push_work(rep, env.aggregate, context, need);
        if remaining > 0 {
            let t = rep.seqs[slot as usize].req.tenant;
            rep.take_prefill(t, need);
        }
        if env.cfg.tenancy.scheduling == TenantScheduling::Fair {
            let t = rep.seqs[slot as usize].req.tenant;
            let prefill = remaining > 0;
            rep.vtc_charge(t, env.cfg.tenancy.weight(t), need, prefill);
        }
        if remaining > 0 {
            batch.prefill_tokens += need;
            if need == remaining {
                batch.sampled += 1;
            }
            if env.spec.is_some() {
                rep.draft_chunks.push(SeqWork {
                    context,
                    tokens: need,
                });
            }
        } else {
            batch.decode_tokens += need;
            batch.sampled += need;
            if need > 1 {
                draw_acceptance(rep, env, batch, slot, need, context);
            }
        }
        i += 1;
    }
}

/// Which running sequences a pass over them schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Everyone (vLLM, TensorRT-LLM, llama.cpp: prefill chunks and decodes in one batch).
    All,
    /// Only prompt chunks (SGLang's prefill batch; decodes wait).
    Prefill,
    /// Only decode steps.
    Decode,
}

/// A decode step verifying `need − 1` draft tokens: how many the target accepts.
fn draw_acceptance(
    rep: &mut Replica,
    env: &mut Env,
    batch: &mut Batch,
    slot: u32,
    need: u32,
    context: u32,
) {
    let (Some(sp), Some(rng)) = (env.spec, env.accept_rng.as_deref_mut()) else {
        return;
    };
    let s = &mut rep.seqs[slot as usize];
    s.draft.drafted = need - 1;
    s.draft.accepted = sp.acceptance.accepted(s.draft.drafted, s.draft.alpha, rng);
    batch.spec_drafted += s.draft.drafted;
    batch.spec_accepted += s.draft.accepted;
    batch.spec_verified += 1;
    batch.draft_steps = batch.draft_steps.max(s.draft.drafted);
    rep.draft_contexts.push(context);
}

/// Phase 2: swapped-out sequences come back before new ones (their KV copied back over PCIe).
fn resume_swapped(rep: &mut Replica, env: &mut Env, batch: &mut Batch, budget: &mut u32) {
    if env.lora.is_some() && !rep.swapped.is_empty() {
        running_adapters(rep);
    }
    while let Some(s) = rep.swapped.front() {
        if rep.running.len() >= env.cfg.max_num_seqs as usize || *budget == 0 {
            break;
        }
        if env
            .lora
            .is_some_and(|l| !rep.lora.admits(s.lora, l.engine.max_loras))
        {
            break;
        }
        let blocks = rep.alloc.blocks_needed(0, s.swapped_tokens + 1);
        if let Some(cap) = env.cfg.tenancy.max_kv_blocks(s.req.tenant)
            && tenant_blocks(rep, s.req.tenant) + blocks > cap
        {
            break;
        }
        let blocks = rep.alloc.blocks_needed(0, s.swapped_tokens + 1);
        if !reclaim(rep, blocks, s.req.tenant) {
            break;
        }
        let mut s = rep.swapped.pop_front().expect("front exists");
        if let Some(l) = env.lora {
            let bytes = rep.lora.take(s.lora, l);
            rep.lora_seconds += env.cost.swap_seconds(bytes);
        }
        let slot = take_slot(rep, s.req.tenant);
        let _ = rep.alloc.append(slot, s.swapped_tokens);
        rep.extra_seconds += env
            .cost
            .swap_seconds(s.swapped_tokens as f64 * env.kv_bytes_per_token);
        let context = s.swapped_tokens;
        s.swapped_tokens = 0;
        let _ = rep.alloc.append(slot, 1);
        s.scheduled = 1;
        *budget -= 1;
        push_work(rep, env.aggregate, context, 1);
        batch.decode_tokens += 1;
        batch.sampled += 1;
        enter(rep, s, slot, env.max_len);
    }
}

/// KV blocks tenant `t`'s running sequences hold: each its cached prefix blocks and its own.
pub(crate) fn tenant_blocks(rep: &Replica, t: u32) -> u32 {
    let bs = rep.alloc.block_size();
    rep.running
        .iter()
        .map(|&slot| (slot, &rep.seqs[slot as usize]))
        .filter(|(_, s)| s.req.tenant == t)
        .map(|(slot, s)| s.cached.shared / bs + rep.alloc.block_table(slot).len() as u32)
        .sum()
}

/// The running requests' adapters become the step's (vLLM's `scheduled_loras`).
fn running_adapters(rep: &mut Replica) {
    let (seqs, batch) = (&rep.seqs, &mut rep.lora.batch);
    batch.clear();
    for &slot in &rep.running {
        let a = seqs[slot as usize].lora;
        if a != 0 && !batch.contains(&a) {
            batch.push(a);
        }
    }
}

/// Phase 3: waiting requests, first come first served, each admitted when the free blocks
/// (and the cached blocks nobody uses) cover its next chunk.
pub(super) fn admit_waiting(
    rep: &mut Replica,
    env: &mut Env,
    batch: &mut Batch,
    budget: &mut u32,
    chunked: bool,
) {
    let cfg = env.cfg;
    let bs = cfg.block_size;
    let mut rule = AdmissionRule::new(rep, env);
    let mut running_of = running_per_tenant(rep, env);
    if env.lora.is_some() {
        running_adapters(rep);
    }
    // Tenants at their KV block cap in this step.
    let mut full: Vec<u32> = Vec::new();
    while rep.running.len() < cfg.max_num_seqs as usize && *budget > 0 && rep.swapped.is_empty() {
        let Some(at) = next_waiting(rep, env, &running_of, &full) else {
            break;
        };
        let tenant_left = rep.prefill_left_of(rep.waiting[at].req.tenant);
        let s = &mut rep.waiting[at];
        hash_blocks(s, env.caching, cfg, env.content);
        let s = &*s;
        // Prefix hits: the leading cached blocks of what it must prefill, leaving at least
        // one token to compute (its logits give the next token).
        let (mut hits, mut pinned) = (0u32, 0u32);
        if let Some(h) = &s.cached.hashes {
            let max = ((s.prefill_target - 1) / bs) as usize;
            let probe = rep.cache.probe(&h[..max.min(h.len())]);
            hits = probe.hits as u32;
            pinned = probe.unheld;
        }
        let remaining = s.prefill_target - s.prefilled - hits * bs;
        // Without chunking a prompt runs whole; one longer than the whole budget (a recompute
        // of prompt + output) is chunked anyway, or it could never run.
        let whole = !chunked && remaining <= cfg.max_num_batched_tokens;
        let chunk = if whole {
            remaining
        } else {
            remaining.min(*budget).min(tenant_left)
        };
        if chunk > *budget {
            break;
        }
        // The hit blocks that nobody else uses stop being evictable.
        let blocks = rep.alloc.blocks_needed(0, chunk);
        let available = rep.alloc.free_blocks() + rep.cache.evictable_blocks();
        if available < blocks + pinned || !rule.admits(s, available - pinned, hits * bs, bs) {
            break;
        }
        // A tenant at its KV block cap admits no more in this step; others may.
        let t = s.req.tenant;
        if let Some(cap) = cfg.tenancy.max_kv_blocks(t)
            && tenant_blocks(rep, t) + hits + blocks > cap
        {
            full.push(t);
            continue;
        }
        let mut s = rep.waiting.remove(at).expect("chosen exists");
        if let Some(h) = &s.cached.hashes {
            rep.cache.acquire(&h[..hits as usize]);
        }
        if let Some(l) = env.lora {
            let bytes = rep.lora.take(s.lora, l);
            rep.lora_seconds += env.cost.swap_seconds(bytes);
        }
        if let Some(n) = running_of.get_mut(s.req.tenant as usize) {
            *n += 1;
        }
        rep.take_prefill(s.req.tenant, chunk);
        if cfg.tenancy.scheduling == TenantScheduling::Fair {
            let t = s.req.tenant;
            rep.vtc_charge(t, cfg.tenancy.weight(t), chunk, true);
        }
        let cached = hits * bs;
        s.cached.shared = cached;
        s.prefilled = cached;
        s.cached.first_hits.get_or_insert(cached);
        // A preempted request's own blocks found again are not sharing: the hit rate counts
        // first admissions (vLLM counts preempted requests' queries apart, v0.10+).
        if s.preemptions == 0 {
            rep.prefix_lookup += s.prefill_target;
            rep.prefix_hits += cached;
        }
        reclaim(rep, blocks, s.req.tenant);
        let slot = take_slot(rep, s.req.tenant);
        let _ = rep.alloc.append(slot, chunk);
        s.first_scheduled.get_or_insert(env.now);
        s.scheduled = chunk;
        *budget -= chunk;
        push_work(rep, env.aggregate, cached, chunk);
        if env.spec.is_some() {
            rep.draft_chunks.push(SeqWork {
                context: cached,
                tokens: chunk,
            });
        }
        batch.prefill_tokens += chunk;
        if chunk == remaining {
            batch.sampled += 1;
        }
        enter(rep, s, slot, env.max_len);
    }
}

/// Running sequences per tenant (empty when the tenancy puts no cap on them and orders
/// nothing: then nobody is counted).
fn running_per_tenant(rep: &Replica, env: &Env) -> Vec<u32> {
    let t = &env.cfg.tenancy;
    if !t.orders() {
        return Vec::new();
    }
    let mut n = vec![0u32; t.tenants.len()];
    for &slot in &rep.running {
        if let Some(c) = n.get_mut(rep.seqs[slot as usize].req.tenant as usize) {
            *c += 1;
        }
    }
    n
}

/// The waiting request to admit next (an index into `rep.waiting`): the oldest, or as the
/// tenant scheduling orders them ([`crate::serving::tenancy`]), skipping tenants at their
/// `max_num_seqs`, those `full` (at their KV block cap) and requests whose LoRA adapter
/// would be one too many.
fn next_waiting(rep: &Replica, env: &Env, running_of: &[u32], full: &[u32]) -> Option<usize> {
    let t = &env.cfg.tenancy;
    if !t.orders() && env.lora.is_none() {
        return (!rep.waiting.is_empty()).then_some(0);
    }
    // A request whose adapter would be one too many waits, keeping its place.
    let lora_ok = |s: &Seq| {
        env.lora
            .is_none_or(|l| rep.lora.admits(s.lora, l.engine.max_loras))
    };
    let eligible = |tenant: u32| {
        let seqs = match (
            t.policy(tenant).and_then(|p| p.max_num_seqs),
            running_of.get(tenant as usize),
        ) {
            (Some(max), Some(&n)) => n < max,
            _ => true,
        };
        seqs && rep.prefill_left_of(tenant) > 0 && !full.contains(&tenant)
    };
    let candidates = rep
        .waiting
        .iter()
        .enumerate()
        .filter(|(_, s)| eligible(s.req.tenant) && lora_ok(s));
    match t.scheduling {
        TenantScheduling::Fifo => candidates.map(|(i, _)| i).next(),
        TenantScheduling::Priority => candidates
            .min_by_key(|(i, s)| (t.priority(s.req.tenant), *i))
            .map(|(i, _)| i),
        TenantScheduling::Fair => {
            // Each tenant's oldest request; the least served tenant's goes first.
            let mut best: Option<(f64, usize)> = None;
            let mut seen = Vec::new();
            for (i, s) in candidates {
                let tenant = s.req.tenant;
                if seen.contains(&tenant) {
                    continue;
                }
                seen.push(tenant);
                let c = rep.vtc_of(tenant);
                if best.is_none_or(|(b, _)| c < b) {
                    best = Some((c, i));
                }
            }
            best.map(|(_, i)| i)
        }
    }
}

/// Index in `rep.solo` (from `from` on: those not yet scheduled in this step) of the
/// sequence to preempt: the newest, or with priority scheduling the worst priority's
/// newest (vLLM's `max(running, key=(priority, arrival))`).
fn victim_index(rep: &Replica, env: &Env, from: usize) -> usize {
    let t = &env.cfg.tenancy;
    let last = rep.solo.len() - 1;
    if t.scheduling != TenantScheduling::Priority {
        return last;
    }
    (from..=last)
        .max_by_key(|&k| {
            let s = &rep.seqs[rep.solo[k] as usize];
            (t.priority(s.req.tenant), s.stamp)
        })
        .unwrap_or(last)
}

/// vLLM V0's priority preemption (`_schedule_priority_preemption`): while the best waiting
/// request cannot be admitted (no sequence slot, or too few blocks for its next chunk), the
/// running request of the worst priority, if strictly worse than its own, is preempted.
fn priority_preemption(rep: &mut Replica, env: &mut Env, batch: &mut Batch, budget: u32) {
    let running_of = running_per_tenant(rep, env);
    let t = &env.cfg.tenancy;
    while let Some(at) = next_waiting(rep, env, &running_of, &[]) {
        let w = &rep.waiting[at];
        let want = t.priority(w.req.tenant);
        let chunk = (w.prefill_target - w.prefilled).clamp(1, budget.max(1));
        let blocks = rep.alloc.blocks_needed(0, chunk);
        let fits = rep.running.len() < env.cfg.max_num_seqs as usize
            && rep.alloc.free_blocks() + rep.cache.evictable_blocks() >= blocks;
        if fits || rep.running.is_empty() {
            return;
        }
        if rep.group.members > 0 {
            dissolve_group(rep);
        }
        let v = victim_index(rep, env, 0);
        let victim = &rep.seqs[rep.solo[v] as usize];
        if t.priority(victim.req.tenant) <= want {
            return;
        }
        make_newest(rep, rep.solo[v]);
        preempt(rep, &env.preempt_rule(), env.content);
        batch.preemptions += 1;
    }
}

/// The engine's admission rule beyond "the free blocks cover the next chunk" (vLLM's, and
/// TensorRT-LLM's `MAX_UTILIZATION`): what the running requests still need is set aside
/// first.
enum AdmissionRule {
    /// Admit on the next chunk alone.
    Chunk,
    /// TensorRT-LLM's default `GUARANTEED_NO_EVICT`
    /// (`cpp/tensorrt_llm/batch_manager/capacityScheduler.cpp`, v0.17–1.0): the free blocks
    /// must cover every running request's blocks to completion (prompt + max output) and then
    /// the new request's whole need. `reserved`: blocks the running still need, grown by each
    /// request admitted in this pass.
    Reserve { reserved: u64 },
    /// SGLang's `PrefillAdder` (`python/sglang/srt/managers/schedule_policy.py`, v0.4–0.5):
    /// from the free and evictable tokens, each running request's remaining output
    /// (clipped at 4096) × the new-token ratio is set aside, and each request admitted in
    /// this pass its prompt + whole (clipped) output; a request is admitted while its prompt
    /// + clipped output stays below what is left. `offset`: tokens set aside so far.
    NewTokenRatio { offset: f64 },
}

/// SGLang's `SGLANG_CLIP_MAX_NEW_TOKENS_ESTIMATION` (default 4096).
pub const SGLANG_CLIP_MAX_NEW_TOKENS: u32 = 4096;

impl AdmissionRule {
    fn new(rep: &Replica, env: &Env) -> AdmissionRule {
        use crate::kv::EngineKind;
        use crate::serving::config::CapacityPolicy;
        let bs = env.cfg.block_size;
        match env.cfg.kind {
            EngineKind::Trtllm
                if env.cfg.capacity_scheduler_policy == CapacityPolicy::GuaranteedNoEvict =>
            {
                let reserved = running_seqs(rep)
                    .map(|(s, _, own)| {
                        let whole = (s.req.prompt_tokens + s.req.output_tokens).div_ceil(bs);
                        let held = own.div_ceil(bs) + s.cached.shared / bs;
                        whole.saturating_sub(held) as u64
                    })
                    .sum();
                AdmissionRule::Reserve { reserved }
            }
            EngineKind::Sglang => {
                let left: u64 = running_seqs(rep)
                    .map(|(s, generated, _)| {
                        (s.req.output_tokens - generated).min(SGLANG_CLIP_MAX_NEW_TOKENS) as u64
                    })
                    .sum();
                AdmissionRule::NewTokenRatio {
                    offset: left as f64 * rep.new_token_ratio,
                }
            }
            _ => AdmissionRule::Chunk,
        }
    }

    /// Whether `s` may be admitted with `available` blocks free or evictable (its own cached
    /// hits already set aside) and `cached` of its prompt tokens found in the cache; if so,
    /// what it needs is set aside for the next one.
    fn admits(&mut self, s: &Seq, available: u32, cached: u32, bs: u32) -> bool {
        let prompt = s.prefill_target - cached;
        match self {
            AdmissionRule::Chunk => true,
            AdmissionRule::Reserve { reserved } => {
                let whole = (s.prefill_target + s.req.output_tokens - s.generated).div_ceil(bs)
                    - cached / bs;
                let ok = *reserved + whole as u64 <= available as u64;
                if ok {
                    *reserved += whole as u64;
                }
                ok
            }
            AdmissionRule::NewTokenRatio { offset } => {
                let out = (s.req.output_tokens - s.generated).min(SGLANG_CLIP_MAX_NEW_TOKENS);
                let total = (prompt + out) as f64;
                let ok = total < available as f64 * bs as f64 - *offset;
                if ok {
                    *offset += total;
                }
                ok
            }
        }
    }
}

/// Each running sequence with its tokens generated and the KV tokens it holds in its own
/// blocks (a group member's brought up to date from the group's step count).
fn running_seqs(rep: &Replica) -> impl Iterator<Item = (&Seq, u32, u32)> + '_ {
    let g = &rep.group;
    rep.running.iter().map(move |&slot| {
        let s = &rep.seqs[slot as usize];
        if s.join.member {
            let advanced = (g.step - s.join.step) as u32;
            (s, s.join.generated + advanced, s.join.held + advanced)
        } else {
            (s, s.generated, rep.alloc.tokens(slot))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Nanos;
    use crate::workload::Request;

    fn seq(prompt: u32, output: u32) -> Seq {
        let req = Request {
            prompt_tokens: prompt,
            output_tokens: output,
            ..Request::default()
        };
        Seq::new(req, Nanos::ZERO)
    }

    /// SGLang: a request is admitted while its prompt + clipped output is under what is
    /// left of the free tokens once the running requests' share is set aside; each one
    /// admitted sets aside its own prompt + clipped output.
    #[test]
    fn sglang_admits_while_prompt_and_output_fit_what_is_left() {
        // 100 blocks of 16 = 1600 tokens; the running set aside 200.
        let mut r = AdmissionRule::NewTokenRatio { offset: 200.0 };
        assert!(r.admits(&seq(1000, 300), 100, 0, 16)); // 1300 < 1400
        assert!(!r.admits(&seq(50, 60), 100, 0, 16)); // 110 ≥ 1600 − 1500
        assert!(r.admits(&seq(50, 49), 100, 0, 16)); // 99 < 100
        // Outputs are clipped at 4096 in the estimate: 100 + 4096 < 300 × 16.
        let mut r = AdmissionRule::NewTokenRatio { offset: 0.0 };
        assert!(r.admits(&seq(100, 100_000), 300, 0, 16));
    }

    /// TensorRT-LLM: the free blocks must cover what the running still need plus the new
    /// request's whole prompt + output, less its cached blocks.
    #[test]
    fn trtllm_reserves_prompt_and_max_output() {
        // 22000 tokens in 32-token blocks: 688 blocks.
        let mut r = AdmissionRule::Reserve { reserved: 50 };
        assert!(r.admits(&seq(20_000, 2_000), 738, 0, 32));
        assert!(!r.admits(&seq(1, 1), 738, 0, 32));
        // 320 cached prompt tokens are 10 blocks it need not reserve.
        let mut r = AdmissionRule::Reserve { reserved: 0 };
        assert!(r.admits(&seq(20_000, 2_000), 678, 320, 32));
        assert!(!AdmissionRule::Reserve { reserved: 0 }.admits(&seq(20_000, 2_000), 677, 320, 32));
    }
}
