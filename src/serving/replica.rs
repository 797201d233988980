//! One engine replica: its queues, running set, decode group, KV allocator and prefix cache,
//! and the operations every batch policy shares (slots, work, preemption, reclaiming cached
//! blocks).

use super::config::{EngineConfig, Preemption};
use super::group::Group;
use super::seq::{Seq, clamp_len, hash_all_blocks};
use crate::cost::iteration::{IterationCost, SeqWork};
use crate::kv::paged::BlockAllocator;
use crate::kv::prefix::PrefixCache;
use crate::sim::Nanos;
use std::collections::VecDeque;

/// A replica.
pub struct Replica {
    pub id: u32,
    pub waiting: VecDeque<Seq>,
    /// Async scheduling: arrivals (with their time) the scheduler has not seen yet, because
    /// the step under way was scheduled before they came.
    pub incoming: VecDeque<(Nanos, Seq)>,
    pub swapped: VecDeque<Seq>,
    /// Running sequences by slot (valid for the slots in `running`).
    pub seqs: Vec<Seq>,
    /// Slots of the running sequences, in order of entry (oldest first).
    pub running: Vec<u32>,
    /// The running sequences not in the group, handled one by one, in order of entry. When
    /// the group is empty it equals `running`.
    pub solo: Vec<u32>,
    pub group: Group,
    pub alloc: BlockAllocator,
    pub free_slots: Vec<u32>,
    pub next_slot: u32,
    pub next_stamp: u64,
    pub busy: bool,
    pub started: Nanos,
    /// Prompt chunks (and, for windowed models, decode steps) of the iteration under way.
    pub work: Vec<SeqWork>,
    /// One-token steps of the iteration under way, in aggregate.
    pub decodes: u32,
    pub decode_context: u64,
    pub extra_seconds: f64,
    /// Seconds of the iteration under way spent clearing blocks reused across tenants.
    pub scrub_seconds: f64,
    /// Blocks reused across tenants already charged a scrub.
    pub reused_charged: u64,
    /// Σ over running sequences of min(prompt + generated, max_model_len).
    pub len_sum: u64,
    /// Scratch: sequences finished by an iteration (stamp, slot) and solos joining the group.
    pub done: Vec<(u64, u32)>,
    pub joiners: Vec<u32>,
    /// Speculative decoding: prompt chunks (for a draft model's prefill) and the contexts of
    /// the drafting sequences in the iteration under way.
    pub draft_chunks: Vec<SeqWork>,
    pub draft_contexts: Vec<u32>,
    /// Cached blocks; their KV lives in the allocator's slot [`CACHE_SLOT`].
    pub cache: PrefixCache,
    pub prefix_lookup: u32,
    pub prefix_hits: u32,
    /// SGLang's new-token ratio: the share of running requests' remaining output its
    /// admission sets aside (see `batcher::sglang`).
    pub new_token_ratio: f64,
    /// Fair scheduling: each tenant's virtual token counter (see `serving::tenancy`).
    pub vtc: Vec<f64>,
    /// Each tenant's prompt tokens left in the step being formed (empty: no caps).
    pub prefill_left: Vec<u32>,
    /// LoRA adapters: resident, and this step's.
    pub lora: crate::serving::lora::Residency,
    /// Seconds of this step's LoRA kernels.
    pub lora_seconds: f64,
    /// The most KV blocks each capped tenant's running sequences held after a step formed.
    pub kv_peak: Vec<u32>,
}

/// The allocator slot that holds the prefix cache's blocks (full blocks only, so its token
/// count is the cached block count × the block size).
pub const CACHE_SLOT: u32 = 0;

impl Replica {
    /// Replica `id` with `num_blocks` KV blocks of `block_size` tokens.
    pub fn new(id: u32, num_blocks: u32, block_size: u32) -> Replica {
        Replica {
            id,
            waiting: VecDeque::new(),
            incoming: VecDeque::new(),
            swapped: VecDeque::new(),
            seqs: Vec::new(),
            running: Vec::new(),
            solo: Vec::new(),
            group: Group {
                buckets: vec![Vec::new(); block_size as usize],
                ..Group::default()
            },
            alloc: BlockAllocator::new(num_blocks, block_size),
            free_slots: Vec::new(),
            next_slot: CACHE_SLOT + 1,
            next_stamp: 0,
            busy: false,
            started: Nanos::ZERO,
            work: Vec::new(),
            decodes: 0,
            decode_context: 0,
            extra_seconds: 0.0,
            scrub_seconds: 0.0,
            reused_charged: 0,
            len_sum: 0,
            done: Vec::new(),
            joiners: Vec::new(),
            draft_chunks: Vec::new(),
            draft_contexts: Vec::new(),
            cache: PrefixCache::new(),
            prefix_lookup: 0,
            prefix_hits: 0,
            new_token_ratio: 0.7,
            vtc: Vec::new(),
            prefill_left: Vec::new(),
            lora: Default::default(),
            lora_seconds: 0.0,
            kv_peak: Vec::new(),
        }
    }

    /// Requests waiting (seen by the scheduler or not yet), running or swapped out.
    pub fn load(&self) -> usize {
        self.queued() + self.running.len() + self.swapped.len()
    }

    /// Requests waiting, seen by the scheduler or not yet.
    pub fn queued(&self) -> usize {
        self.waiting.len() + self.incoming.len()
    }

    /// Requests of `tenant` waiting, seen by the scheduler or not yet.
    pub fn queued_of(&self, tenant: u32) -> usize {
        self.waiting
            .iter()
            .filter(|s| s.req.tenant == tenant)
            .count()
            + self
                .incoming
                .iter()
                .filter(|(_, s)| s.req.tenant == tenant)
                .count()
    }

    /// Tenant `t`'s prompt tokens left in this step.
    pub fn prefill_left_of(&self, t: u32) -> u32 {
        self.prefill_left
            .get(t as usize)
            .copied()
            .unwrap_or(u32::MAX)
    }

    /// Tenant `t` takes `tokens` prompt tokens of this step.
    pub fn take_prefill(&mut self, t: u32, tokens: u32) {
        if let Some(left) = self.prefill_left.get_mut(t as usize) {
            *left = left.saturating_sub(tokens);
        }
    }

    /// Tenant `t`'s virtual token counter.
    pub fn vtc_of(&self, t: u32) -> f64 {
        self.vtc.get(t as usize).copied().unwrap_or(0.0)
    }

    /// VTC's counter lift: a tenant with nothing queued that sends a request starts from the
    /// smallest counter among the tenants that have requests queued (if above its own), so
    /// time away banks no credit.
    pub fn vtc_arrive(&mut self, t: u32) {
        if self.vtc.len() <= t as usize {
            self.vtc.resize(t as usize + 1, 0.0);
        }
        if self.queued_of(t) > 0 {
            return;
        }
        let queued = self
            .waiting
            .iter()
            .map(|s| s.req.tenant)
            .chain(self.incoming.iter().map(|(_, s)| s.req.tenant));
        let floor = queued.map(|u| self.vtc_of(u)).fold(f64::INFINITY, f64::min);
        if floor.is_finite() {
            self.vtc[t as usize] = self.vtc[t as usize].max(floor);
        }
    }

    /// Charge `tokens` served to tenant `t` of fair-share `weight`: prompt tokens (prefill)
    /// at VTC's weight 1, output tokens at 2.
    pub fn vtc_charge(&mut self, t: u32, weight: f64, tokens: u32, prefill: bool) {
        if self.vtc.len() <= t as usize {
            self.vtc.resize(t as usize + 1, 0.0);
        }
        let w = if prefill {
            crate::serving::tenancy::VTC_PROMPT_WEIGHT
        } else {
            crate::serving::tenancy::VTC_OUTPUT_WEIGHT
        };
        self.vtc[t as usize] += w * tokens as f64 / weight;
    }

    /// Async scheduling, as a step ends: the arrivals the next step's scheduler saw (those
    /// that came before the ending step started, when the next one was scheduled) join the
    /// waiting queue; all of them if nothing else is left to run (an idle scheduler takes
    /// new requests at once).
    pub fn take_incoming(&mut self) {
        let idle = self.running.is_empty() && self.waiting.is_empty() && self.swapped.is_empty();
        self.take_incoming_until(idle);
    }

    /// Every arrival not yet seen joins the waiting queue (nothing else to run: an idle
    /// scheduler takes new requests at once); with `all` false only those that came before
    /// the step under way started.
    pub fn take_incoming_until(&mut self, all: bool) {
        while let Some((t, _)) = self.incoming.front() {
            if !all && *t > self.started {
                break;
            }
            let (_, seq) = self.incoming.pop_front().expect("a front");
            self.waiting.push_back(seq);
        }
    }
}

/// Make `blocks` blocks free, evicting least recently used cached blocks that no sequence
/// uses if the free list is short (for `tenant`: see [`PrefixCache::evict_for`]); false (and
/// nothing evicted) if even that is not enough.
pub fn reclaim(rep: &mut Replica, blocks: u32, tenant: u32) -> bool {
    let free = rep.alloc.free_blocks();
    if free >= blocks {
        return true;
    }
    if free + rep.cache.evictable_blocks() < blocks {
        return false;
    }
    let evicted = rep.cache.evict_for(blocks - free, tenant);
    rep.alloc
        .truncate(CACHE_SLOT, evicted * rep.alloc.block_size());
    true
}

/// The full blocks among the first `tokens` of `s` (whose own blocks were just freed) join
/// the prefix cache, held by `s` (those another sequence cached meanwhile are used from
/// there): vLLM caches every full block it computed.
pub fn cache_full_blocks(
    cache: &mut PrefixCache,
    alloc: &mut BlockAllocator,
    s: &mut Seq,
    tokens: u32,
) {
    let bs = alloc.block_size();
    if let Some(h) = s.cached.hashes.clone() {
        let upto = ((tokens / bs) as usize).min(h.len());
        let from = (s.cached.shared / bs) as usize;
        if upto > from {
            let new = cache.insert_by(&h[..upto], from, s.req.tenant) as u32;
            alloc.set_owner(CACHE_SLOT, s.req.tenant);
            let _ = alloc.append(CACHE_SLOT, new * bs);
            s.cached.shared = upto as u32 * bs;
        }
    }
}

/// Give back a sequence's hold on its cached blocks (they stay cached, evictable when no
/// one else holds them).
pub fn release_cached(cache: &mut PrefixCache, s: &mut Seq, block_size: u32) {
    if s.cached.shared > 0
        && let Some(h) = &s.cached.hashes
    {
        let released = cache.release(&h[..(s.cached.shared / block_size) as usize]);
        debug_assert!(released.is_ok(), "a sequence releases only blocks it holds");
    }
    s.cached.shared = 0;
}

/// A free sequence slot, recorded as holding `tenant`'s KV.
pub fn take_slot(rep: &mut Replica, tenant: u32) -> u32 {
    let slot = rep.free_slots.pop().unwrap_or_else(|| {
        rep.next_slot += 1;
        rep.next_slot - 1
    });
    rep.alloc.set_owner(slot, tenant);
    slot
}

/// A one-token step goes into the aggregate where the cost model allows it.
pub fn push_work(rep: &mut Replica, agg: bool, context: u32, tokens: u32) {
    if agg && tokens == 1 {
        rep.decodes += 1;
        rep.decode_context += context as u64;
    } else {
        rep.work.push(SeqWork { context, tokens });
    }
}

/// `s` enters the running set (newest) in `slot`, as a solo sequence.
pub fn enter(rep: &mut Replica, mut s: Seq, slot: u32, max_len: u64) {
    s.slot = slot;
    s.stamp = rep.next_stamp;
    rep.next_stamp += 1;
    rep.len_sum += clamp_len(&s, max_len);
    if rep.seqs.len() <= slot as usize {
        rep.seqs.resize(slot as usize + 1, s.clone());
    }
    rep.seqs[slot as usize] = s;
    rep.running.push(slot);
    rep.solo.push(slot);
}

/// Make running sequence `slot` the newest (the one [`preempt`] takes); the group must be
/// empty.
pub fn make_newest(rep: &mut Replica, slot: u32) {
    for list in [&mut rep.running, &mut rep.solo] {
        if let Some(k) = list.iter().position(|&s| s == slot) {
            list.remove(k);
            list.push(slot);
        }
    }
}

/// What a preemption keeps of the victim's KV in the prefix cache (when caching is on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Nothing beyond the cached blocks it held.
    Nothing,
    /// Its prompt's full blocks (SGLang puts a prompt in the radix tree once prefilled and
    /// frees only the decoded tokens of a retracted request; TensorRT-LLM stores context
    /// blocks for reuse).
    Prompt,
    /// Every full block it computed (vLLM frees a preempted request's blocks to the free
    /// queue with their hashes, so re-admission hits them unless they were reused).
    Computed,
}

/// How a policy preempts.
pub struct PreemptRule<'e> {
    pub mode: Preemption,
    pub keep: Keep,
    pub kv_bytes_per_token: f64,
    pub cost: &'e IterationCost,
    pub max_len: u64,
    pub cfg: &'e EngineConfig,
}

/// Preempt the newest running sequence (the group is empty, so `solo` is `running`):
/// recompute frees its blocks (keeping what `rule.keep` says in the prefix cache) and
/// requeues it at the front with a prefill of everything it had; swap copies its KV to host
/// memory (PCIe time charged to this iteration) and parks it until blocks free up.
pub fn preempt(rep: &mut Replica, rule: &PreemptRule, content: &mut Vec<u64>) {
    debug_assert_eq!(rep.group.members, 0);
    let slot = rep.running.pop().expect("a running sequence to preempt");
    rep.solo.pop();
    let mut s = rep.seqs[slot as usize].clone();
    rep.len_sum -= clamp_len(&s, rule.max_len);
    let held = s.cached.shared + rep.alloc.tokens(slot);
    rep.alloc.free(slot);
    let in_prefill = s.prefilled < s.prefill_target;
    let swap = rule.mode == Preemption::Swap && !in_prefill;
    if !swap && rule.keep != Keep::Nothing {
        let keep = match rule.keep {
            Keep::Prompt => held.min(s.req.prompt_tokens),
            _ => held,
        };
        hash_all_blocks(&mut s, rule.cfg, content);
        cache_full_blocks(&mut rep.cache, &mut rep.alloc, &mut s, keep);
    }
    release_cached(&mut rep.cache, &mut s, rep.alloc.block_size());
    rep.free_slots.push(slot);
    s.slot = u32::MAX;
    s.scheduled = 0;
    s.preemptions += 1;
    if swap {
        rep.extra_seconds += rule
            .cost
            .swap_seconds(held as f64 * rule.kv_bytes_per_token);
        s.swapped_tokens = held;
        rep.swapped.push_back(s);
    } else {
        s.prefilled = 0;
        s.prefill_target = s.req.prompt_tokens + s.generated;
        rep.waiting.push_front(s);
    }
}
