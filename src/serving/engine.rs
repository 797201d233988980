//! The event loop and the per-replica scheduler, in one place so the whole flow fits on a
//! screen: arrivals are routed to replicas; an idle replica forms a batch (running decodes
//! first, then waiting prefills within the token budget and the KV block pool, preempting
//! the newest sequence when blocks run out), the cost model prices it, and the iteration's
//! end emits tokens, frees blocks and finishes requests.
//!
//! Sequences in steady decode are kept in aggregate (a `Group`): one step of the group
//! costs O(1) plus the members that cross a block boundary or finish, so a million-request
//! run does not touch every sequence in every iteration. Whenever someone could be cut short
//! by the token budget or preempted for blocks, the group is dissolved and every sequence is
//! handled one by one, in order, exactly as vLLM's scheduler does; the two paths give the
//! same results.

use super::config::{EngineConfig, Preemption, Router, SchedulerKind};
use super::spec::SpecRun;
use crate::cost::iteration::{IterationCost, SeqWork};
use crate::kv::paged::BlockAllocator;
use crate::kv::prefix::{PrefixCache, chained};
use crate::sim::{EventQueue, Nanos};
use crate::workload::{Request, RequestSource};
use rand::rngs::StdRng;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

/// Events: plain data, handled in [`Simulation::run`]'s one `match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// The next request of the workload arrives.
    Arrival,
    /// A request that followed from an ended one (a conversation's next turn) arrives: its
    /// slot in `Simulation::follow_ups`.
    FollowUp(u32),
    /// A replica's iteration ends.
    IterationDone(u32),
}

/// Completions are handled before arrivals at the same instant.
const PHASE_DONE: u8 = 0;
const PHASE_ARRIVAL: u8 = 1;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// All output tokens produced.
    Finished,
    /// Refused at arrival: it can never fit in the replica's KV cache.
    RejectedTooLong,
    /// Refused at arrival: the waiting queue was full.
    RejectedQueueFull,
}

impl Outcome {
    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Finished => "finished",
            Outcome::RejectedTooLong => "rejected_exceeds_kv_capacity",
            Outcome::RejectedQueueFull => "rejected_queue_full",
        }
    }
}

/// One request's fate, emitted when it ends.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestDone {
    /// The request.
    pub req: Request,
    /// Replica that served it.
    pub replica: u32,
    /// How it ended.
    pub outcome: Outcome,
    /// First scheduled (NaN-free: equals arrival for rejected).
    pub first_scheduled: Nanos,
    /// First token.
    pub first_token: Nanos,
    /// Last token.
    pub last_token: Nanos,
    /// Times it was preempted.
    pub preemptions: u32,
    /// Prompt tokens found in the prefix cache when it was first scheduled.
    pub cached_tokens: u32,
}

/// One iteration of one replica.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IterationDone {
    /// Start time.
    pub start: Nanos,
    /// Duration.
    pub duration: Nanos,
    /// Replica.
    pub replica: u32,
    /// Sequences in the batch.
    pub batch_size: u32,
    /// Prompt tokens processed (including recomputation).
    pub prefill_tokens: u32,
    /// Decode tokens processed.
    pub decode_tokens: u32,
    /// KV blocks in use after scheduling.
    pub kv_blocks_used: u32,
    /// Allocated but unfilled KV token slots (internal fragmentation).
    pub kv_fragmentation_tokens: u64,
    /// Tokens a contiguous max-length reservation would have left unused for this batch.
    pub contiguous_waste_tokens: u64,
    /// Preemptions during scheduling.
    pub preemptions: u32,
    /// Prompt tokens admitted (first prefills and recomputes) and how many of them were
    /// found in the prefix cache.
    pub prefix_lookup_tokens: u32,
    /// See `prefix_lookup_tokens`.
    pub prefix_hit_tokens: u32,
    /// Requests waiting after scheduling.
    pub waiting: u32,
    /// Speculative decoding: draft tokens proposed in this iteration.
    pub spec_drafted: u32,
    /// Speculative decoding: draft tokens the target accepted.
    pub spec_accepted: u32,
    /// Speculative decoding: sequences verified (each yields accepted + 1 tokens).
    pub spec_verified: u32,
}

/// What the simulation reports as it goes; the metrics layer implements it.
pub trait Observer {
    /// A request ended.
    fn request(&mut self, done: &RequestDone);
    /// `count` tokens were emitted (none a request's first), each `gap` after its request's
    /// previous token. (Batched: in a decode iteration most sequences share one gap.)
    fn inter_token(&mut self, gap: Nanos, count: u32);
    /// An iteration was scheduled.
    fn iteration(&mut self, it: &IterationDone);
}

#[derive(Debug, Clone)]
struct Seq {
    req: Request,
    slot: u32,
    /// Order of entry into the running set (later = newer = preempted first).
    stamp: u64,
    /// Tokens of the (re)computed prefill done so far.
    prefilled: u32,
    /// Tokens the prefill must process: the prompt, or prompt + generated after a recompute.
    prefill_target: u32,
    generated: u32,
    scheduled: u32,
    first_scheduled: Option<Nanos>,
    first_token: Option<Nanos>,
    last_token: Nanos,
    preemptions: u32,
    /// Static batching: finished but kept in the batch as padding.
    done: bool,
    /// Swap mode: KV tokens held in host memory while swapped out.
    swapped_tokens: u32,
    /// In the decode group: `generated`, `last_token` and the KV tokens held are derived from
    /// the group's step count (see [`Group`]) and are stale in this struct.
    member: bool,
    /// Group step, tokens generated and KV tokens held when it joined.
    join_step: u64,
    join_generated: u32,
    join_held: u32,
    /// Speculative decoding: the request's own acceptance rate (Beta model), draft tokens
    /// in the iteration under way, and how many of them the target accepts.
    alpha: f64,
    drafted: u32,
    accepted: u32,
    /// Prefix caching: chained hashes of the full blocks of its tokens (prompt, then
    /// output), tokens it holds in cached blocks (a multiple of the block size, the leading
    /// blocks), and the hits found when it was first scheduled.
    hashes: Option<Arc<[u64]>>,
    shared: u32,
    first_hits: Option<u32>,
}

impl Seq {
    fn new(req: Request, now: Nanos) -> Seq {
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
            last_token: now,
            preemptions: 0,
            done: false,
            swapped_tokens: 0,
            member: false,
            join_step: 0,
            join_generated: 0,
            join_held: 0,
            alpha: f64::NAN,
            drafted: 0,
            accepted: 0,
            hashes: None,
            shared: 0,
            first_hits: None,
        }
    }
}

/// The decode group: running sequences in steady decode, kept in aggregate so that a step
/// costs O(1) plus O(sequences that cross a block boundary or finish), not O(batch).
///
/// A member that joined at group step `j` holding `h` KV tokens after generating `g`, holds
/// `h + (step − j)` and has generated `g + (step − j)` now; it needs a new block in the step
/// where `h + step − j ≡ 0 (mod block_size)`, so members are bucketed by
/// `(h − j) mod block_size`, and it finishes at step `j + output − g` (a min-heap). The
/// allocator is told about a member's tokens only when it takes a block (so the block count is
/// exact and its token count lags by less than a block) or leaves the group.
#[derive(Debug, Default)]
struct Group {
    step: u64,
    members: u32,
    /// Σ KV tokens members hold (exact).
    held: u64,
    /// Σ KV tokens the allocator has recorded for members (lags `held`).
    recorded: u64,
    /// Σ tokens members hold in cached (shared) blocks, outside the allocator's slots.
    shared: u64,
    buckets: Vec<Vec<u32>>,
    /// (step at which it has generated its last token, stamp, slot).
    finish: BinaryHeap<Reverse<(u64, u64, u32)>>,
    /// The group advances in the iteration under way.
    scheduled: bool,
    /// When members last emitted a token.
    last_emit: Nanos,
}

struct Replica {
    id: u32,
    waiting: VecDeque<Seq>,
    swapped: VecDeque<Seq>,
    /// Running sequences by slot (valid for the slots in `running`).
    seqs: Vec<Seq>,
    /// Slots of the running sequences, in order of entry (oldest first).
    running: Vec<u32>,
    /// The running sequences not in the group, handled one by one, in order of entry. When
    /// the group is empty it equals `running`.
    solo: Vec<u32>,
    group: Group,
    alloc: BlockAllocator,
    free_slots: Vec<u32>,
    next_slot: u32,
    next_stamp: u64,
    busy: bool,
    started: Nanos,
    /// Prompt chunks (and, for windowed models, decode steps) of the iteration under way.
    work: Vec<SeqWork>,
    /// One-token steps of the iteration under way, in aggregate.
    decodes: u32,
    decode_context: u64,
    extra_seconds: f64,
    /// Σ over running sequences of min(prompt + generated, max_model_len).
    len_sum: u64,
    /// Scratch: sequences finished by an iteration (stamp, slot) and solos joining the group.
    done: Vec<(u64, u32)>,
    joiners: Vec<u32>,
    /// Speculative decoding: prompt chunks (for a draft model's prefill) and the contexts of
    /// the drafting sequences in the iteration under way.
    draft_chunks: Vec<SeqWork>,
    draft_contexts: Vec<u32>,
    /// Cached blocks; their KV lives in the allocator's slot [`CACHE_SLOT`].
    cache: PrefixCache,
    prefix_lookup: u32,
    prefix_hits: u32,
}

/// The allocator slot that holds the prefix cache's blocks (full blocks only, so its token
/// count is the cached block count × the block size).
const CACHE_SLOT: u32 = 0;

/// One simulation run over a stream of requests.
pub struct Simulation<'a> {
    cfg: EngineConfig,
    cost: &'a IterationCost,
    replicas: Vec<Replica>,
    queue: EventQueue<Event>,
    /// Requests that ended since the source last heard: (id, served).
    ended: Vec<(u64, bool)>,
    /// Requests that followed from ended ones, waiting for their arrival; free slots.
    follow_ups: Vec<Option<Request>>,
    free_follow_ups: Vec<u32>,
    next_rr: u32,
    kv_bytes_per_token: f64,
    max_model_len: u32,
    /// Decoding sequences may be kept in aggregate (not static batching, no sliding windows,
    /// no speculation).
    grouping: bool,
    spec: Option<SpecRun<'a>>,
    /// Speculative decoding's accept/reject draws, in scheduling order.
    accept_rng: Option<StdRng>,
    /// Prefix caching is on (not with static batching, which reserves whole sequences).
    caching: bool,
    /// Scratch for block content ids.
    content: Vec<u64>,
    router: Router,
}

impl<'a> Simulation<'a> {
    /// `replicas` identical replicas of `num_blocks` KV blocks each.
    pub fn new(
        cfg: EngineConfig,
        cost: &'a IterationCost,
        replicas: u32,
        num_blocks: u32,
        kv_bytes_per_token: f64,
        max_model_len: u32,
    ) -> Self {
        let replicas = (0..replicas)
            .map(|id| Replica {
                id,
                waiting: VecDeque::new(),
                swapped: VecDeque::new(),
                seqs: Vec::new(),
                running: Vec::new(),
                solo: Vec::new(),
                group: Group {
                    buckets: vec![Vec::new(); cfg.block_size as usize],
                    ..Group::default()
                },
                alloc: BlockAllocator::new(num_blocks, cfg.block_size),
                free_slots: Vec::new(),
                next_slot: CACHE_SLOT + 1,
                next_stamp: 0,
                busy: false,
                started: Nanos::ZERO,
                work: Vec::new(),
                decodes: 0,
                decode_context: 0,
                extra_seconds: 0.0,
                len_sum: 0,
                done: Vec::new(),
                joiners: Vec::new(),
                draft_chunks: Vec::new(),
                draft_contexts: Vec::new(),
                cache: PrefixCache::new(),
                prefix_lookup: 0,
                prefix_hits: 0,
            })
            .collect();
        let grouping = cfg.scheduler != SchedulerKind::Static
            && cost.aggregates_decodes()
            && cfg.block_size.is_power_of_two();
        Simulation {
            cost,
            replicas,
            queue: EventQueue::new(),
            ended: Vec::new(),
            follow_ups: Vec::new(),
            free_follow_ups: Vec::new(),
            next_rr: 0,
            kv_bytes_per_token,
            max_model_len,
            grouping,
            spec: None,
            accept_rng: None,
            caching: cfg.prefix_caching && cfg.scheduler != SchedulerKind::Static,
            content: Vec::new(),
            router: Router::RoundRobin,
            cfg,
        }
    }

    /// Spread arrivals over the replicas with `router` (default round robin).
    pub fn with_router(mut self, router: Router) -> Self {
        self.router = router;
        self
    }

    /// Decode speculatively (continuous or chunked-prefill scheduling): each decoding
    /// sequence drafts up to γ tokens, is verified over γ + 1 positions and keeps the
    /// accepted ones plus one; the rejected positions' KV is rolled back.
    pub fn with_speculation(mut self, spec: SpecRun<'a>) -> Self {
        self.grouping = false;
        self.accept_rng = Some(spec.streams.stream("spec_accept"));
        self.spec = Some(spec);
        self
    }

    /// Handle every sequence one by one in every iteration, never in aggregate: the
    /// reference the aggregate path is tested against (same results, O(batch) per step).
    pub fn one_by_one(mut self) -> Self {
        self.grouping = false;
        self
    }

    /// KV blocks held by sequences across all replicas, not counting the prefix cache's (0
    /// after a complete run: nothing leaks).
    pub fn kv_blocks_in_use(&self) -> u64 {
        self.replicas
            .iter()
            .map(|r| {
                (r.alloc.used_blocks() - r.alloc.tokens(CACHE_SLOT) / r.alloc.block_size()) as u64
            })
            .sum()
    }

    /// Prefix cache totals over all replicas: (blocks evicted, blocks cached at the end).
    pub fn prefix_cache_stats(&self) -> (u64, u64) {
        self.replicas.iter().fold((0, 0), |(e, c), r| {
            (e + r.cache.evictions(), c + r.cache.cached_blocks() as u64)
        })
    }

    /// Requests still queued or running (0 after a complete run).
    pub fn unfinished(&self) -> usize {
        self.replicas
            .iter()
            .map(|r| r.waiting.len() + r.running.len() + r.swapped.len())
            .sum()
    }

    /// Run until every request has ended; returns the time of the last event.
    pub fn run(&mut self, requests: &mut dyn RequestSource, obs: &mut dyn Observer) -> Nanos {
        let mut pending = requests.next_request();
        if let Some(r) = &pending {
            self.queue.push(r.arrival, PHASE_ARRIVAL, Event::Arrival);
        }
        while let Some((now, ev)) = self.queue.pop() {
            match ev {
                Event::Arrival => {
                    let Some(req) = pending.take() else { continue };
                    self.admit(req, now, obs);
                    pending = requests.next_request();
                    if let Some(next) = &pending {
                        self.queue
                            .push(next.arrival.max(now), PHASE_ARRIVAL, Event::Arrival);
                    }
                }
                Event::FollowUp(k) => {
                    let req = self.follow_ups[k as usize]
                        .take()
                        .expect("a waiting follow-up");
                    self.free_follow_ups.push(k);
                    self.admit(req, now, obs);
                }
                Event::IterationDone(r) => {
                    self.complete(r, now, obs);
                    self.start_iteration(r, now, obs);
                }
            }
            // What follows from the requests that ended (closed-loop conversation turns).
            if !self.ended.is_empty() {
                let mut ended = std::mem::take(&mut self.ended);
                for &(id, served) in &ended {
                    if let Some(req) = requests.ended(id, now, served) {
                        let at = req.arrival.max(now);
                        let k = self.free_follow_ups.pop().unwrap_or_else(|| {
                            self.follow_ups.push(None);
                            (self.follow_ups.len() - 1) as u32
                        });
                        self.follow_ups[k as usize] = Some(req);
                        self.queue.push(at, PHASE_ARRIVAL, Event::FollowUp(k));
                    }
                }
                ended.clear();
                self.ended = ended;
            }
        }
        self.queue.now()
    }

    /// Route and enqueue an arriving request.
    fn admit(&mut self, req: Request, now: Nanos, obs: &mut dyn Observer) {
        let seq = self.new_seq(req, now);
        let r = self.route(&seq);
        self.arrive(r, seq, now, obs);
    }

    /// A new sequence for `req`. Its block hashes are computed when it is first scheduled
    /// (so a long waiting queue holds none), or now when the router needs them.
    fn new_seq(&mut self, req: Request, now: Nanos) -> Seq {
        let mut seq = Seq::new(req, now);
        if self.router == Router::PrefixAffinity {
            hash_blocks(&mut seq, self.caching, &self.cfg, &mut self.content);
        }
        if let Some(sp) = &self.spec {
            seq.alpha = sp
                .acceptance
                .request_alpha(&mut sp.streams.indexed("spec_alpha", seq.req.id));
        }
        seq
    }

    /// The replica an arrival goes to.
    fn route(&mut self, seq: &Seq) -> u32 {
        let n = self.replicas.len() as u32;
        let load = |r: &Replica| r.waiting.len() + r.running.len() + r.swapped.len();
        match self.router {
            Router::RoundRobin => {
                let r = self.next_rr % n;
                self.next_rr += 1;
                r
            }
            Router::LeastOutstanding => (0..n)
                .min_by_key(|&r| load(&self.replicas[r as usize]))
                .unwrap_or(0),
            Router::PrefixAffinity => {
                let least = self.replicas.iter().map(load).min().unwrap_or(0);
                let bound = least + (least / 4).max(4);
                let hits = |r: &Replica| match &seq.hashes {
                    Some(h) => r.cache.lookup(h),
                    None => 0,
                };
                // Most cached prefix; then least load; then lowest index.
                (0..n)
                    .filter(|&r| load(&self.replicas[r as usize]) <= bound)
                    .max_by_key(|&r| {
                        let rep = &self.replicas[r as usize];
                        (
                            hits(rep),
                            std::cmp::Reverse(load(rep)),
                            std::cmp::Reverse(r),
                        )
                    })
                    .unwrap_or(0)
            }
        }
    }

    fn arrive(&mut self, r: u32, seq: Seq, now: Nanos, obs: &mut dyn Observer) {
        let cfg = &self.cfg;
        let rep = &mut self.replicas[r as usize];
        let req = &seq.req;
        let need = req.prompt_tokens as u64 + req.output_tokens as u64;
        let capacity = rep.alloc.num_blocks() as u64 * cfg.block_size as u64;
        let reject = if need > capacity {
            Some(Outcome::RejectedTooLong)
        } else if cfg.max_queue > 0 && rep.waiting.len() >= cfg.max_queue as usize {
            Some(Outcome::RejectedQueueFull)
        } else {
            None
        };
        if let Some(outcome) = reject {
            self.ended.push((seq.req.id, false));
            obs.request(&RequestDone {
                req: seq.req,
                replica: r,
                outcome,
                first_scheduled: now,
                first_token: now,
                last_token: now,
                preemptions: 0,
                cached_tokens: 0,
            });
            return;
        }
        rep.waiting.push_back(seq);
        if !rep.busy {
            self.start_iteration(r, now, obs);
        }
    }

    /// Form a batch on an idle replica and schedule its end.
    fn start_iteration(&mut self, r: u32, now: Nanos, obs: &mut dyn Observer) {
        let cfg = &self.cfg;
        let kv_bpt = self.kv_bytes_per_token;
        let max_len = self.max_model_len as u64;
        let agg = self.cost.aggregates_decodes();
        let gamma = self.spec.as_ref().map_or(0, |sp| sp.num_tokens);
        let rep = &mut self.replicas[r as usize];
        rep.work.clear();
        rep.draft_chunks.clear();
        rep.draft_contexts.clear();
        rep.prefix_lookup = 0;
        rep.prefix_hits = 0;
        let bs = cfg.block_size;
        let (mut spec_drafted, mut spec_accepted, mut spec_verified) = (0u32, 0u32, 0u32);
        let mut draft_steps = 0u32;
        rep.decodes = 0;
        rep.decode_context = 0;
        rep.extra_seconds = 0.0;
        let mut preemptions = 0u32;
        let (mut prefill_tokens, mut decode_tokens, mut sampled) = (0u32, 0u32, 0u32);
        match cfg.scheduler {
            SchedulerKind::Static => {
                if rep.running.is_empty() {
                    // Admit a batch whose whole prompts and outputs fit, reserved up front.
                    while rep.running.len() < cfg.max_num_seqs as usize {
                        let Some(s) = rep.waiting.front() else { break };
                        let slot = rep.free_slots.last().copied().unwrap_or(rep.next_slot);
                        if !rep
                            .alloc
                            .can_append(slot, s.req.prompt_tokens + s.req.output_tokens)
                        {
                            break;
                        }
                        let mut s = rep.waiting.pop_front().expect("front exists");
                        let slot = take_slot(rep);
                        // Reservation: the full length; the reservation is the static baseline's cost.
                        let _ = rep
                            .alloc
                            .append(slot, s.req.prompt_tokens + s.req.output_tokens);
                        s.first_scheduled = Some(now);
                        s.scheduled = s.prefill_target;
                        push_work(rep, agg, 0, s.prefill_target);
                        prefill_tokens += s.prefill_target;
                        sampled += 1;
                        enter(rep, s, slot, max_len);
                    }
                } else {
                    // Every member decodes (finished ones as padding) until the longest ends.
                    for i in 0..rep.solo.len() {
                        let s = &mut rep.seqs[rep.solo[i] as usize];
                        s.scheduled = 1;
                        let ctx = s.req.prompt_tokens + s.generated.saturating_sub(1);
                        push_work(rep, agg, ctx, 1);
                        decode_tokens += 1;
                        sampled += 1;
                    }
                }
            }
            SchedulerKind::Continuous | SchedulerKind::ChunkedPrefill => {
                let chunked = cfg.scheduler == SchedulerKind::ChunkedPrefill;
                let mut budget = cfg.max_num_batched_tokens;
                // 1. Running sequences, oldest first. The group steps at once when it and
                // every solo sequence fit whole in the budget and the free blocks (then no one
                // is cut short or preempted, so order does not matter); otherwise the group is
                // dissolved and everyone is handled one by one, in order.
                if rep.group.members > 0 && !group_fits(rep, budget) {
                    dissolve_group(rep);
                }
                if rep.group.members > 0 {
                    step_group(rep);
                    budget -= rep.group.members;
                    rep.decodes += rep.group.members;
                    rep.decode_context += rep.group.held + rep.group.shared;
                    decode_tokens += rep.group.members;
                    sampled += rep.group.members;
                }
                let mut i = 0;
                while i < rep.solo.len() {
                    let slot = rep.solo[i];
                    let s = &rep.seqs[slot as usize];
                    let remaining = s.prefill_target - s.prefilled;
                    let need = if remaining > 0 {
                        remaining.min(budget)
                    } else {
                        (1 + gamma).min(budget)
                    };
                    if need == 0 {
                        rep.seqs[slot as usize].scheduled = 0;
                        i += 1;
                        continue;
                    }
                    let context = s.shared + rep.alloc.tokens(slot);
                    let mut self_preempted = false;
                    // Append, evicting cached blocks nobody uses, or preempt the newest
                    // sequence (possibly this one) until it fits; a failed append changes
                    // nothing. (Only without a group: group_fits.)
                    while let Err(e) = rep.alloc.append(slot, need) {
                        if reclaim(rep, e.needed) {
                            continue;
                        }
                        let victim = rep.solo.len() - 1;
                        preempt(rep, cfg.preemption, kv_bpt, self.cost, max_len);
                        preemptions += 1;
                        if victim == i {
                            self_preempted = true;
                            break;
                        }
                    }
                    if self_preempted {
                        break;
                    }
                    rep.seqs[slot as usize].scheduled = need;
                    budget -= need;
                    push_work(rep, agg, context, need);
                    if remaining > 0 {
                        prefill_tokens += need;
                        if need == remaining {
                            sampled += 1;
                        }
                        if self.spec.is_some() {
                            rep.draft_chunks.push(SeqWork {
                                context,
                                tokens: need,
                            });
                        }
                    } else {
                        // A decode step, verifying `need − 1` draft tokens when speculating.
                        decode_tokens += need;
                        sampled += need;
                        if let (Some(sp), Some(rng)) = (&self.spec, &mut self.accept_rng)
                            && need > 1
                        {
                            let s = &mut rep.seqs[slot as usize];
                            s.drafted = need - 1;
                            s.accepted = sp.acceptance.accepted(s.drafted, s.alpha, rng);
                            spec_drafted += s.drafted;
                            spec_accepted += s.accepted;
                            spec_verified += 1;
                            draft_steps = draft_steps.max(s.drafted);
                            rep.draft_contexts.push(context);
                        }
                    }
                    i += 1;
                }
                // 2. Swapped-out sequences come back before new ones.
                while let Some(s) = rep.swapped.front() {
                    if rep.running.len() >= cfg.max_num_seqs as usize || budget == 0 {
                        break;
                    }
                    let blocks = rep.alloc.blocks_needed(0, s.swapped_tokens + 1);
                    if !reclaim(rep, blocks) {
                        break;
                    }
                    let mut s = rep.swapped.pop_front().expect("front exists");
                    let slot = take_slot(rep);
                    let _ = rep.alloc.append(slot, s.swapped_tokens);
                    rep.extra_seconds += self.cost.swap_seconds(s.swapped_tokens as f64 * kv_bpt);
                    let context = s.swapped_tokens;
                    s.swapped_tokens = 0;
                    let _ = rep.alloc.append(slot, 1);
                    s.scheduled = 1;
                    budget -= 1;
                    push_work(rep, agg, context, 1);
                    decode_tokens += 1;
                    sampled += 1;
                    enter(rep, s, slot, max_len);
                }
                // 3. Waiting requests, first come first served.
                while rep.running.len() < cfg.max_num_seqs as usize
                    && budget > 0
                    && rep.swapped.is_empty()
                {
                    let Some(s) = rep.waiting.front_mut() else {
                        break;
                    };
                    hash_blocks(s, self.caching, cfg, &mut self.content);
                    let s = &*s;
                    // Prefix hits: the leading cached blocks of what it must prefill, leaving
                    // at least one token to compute (its logits give the next token).
                    let (mut hits, mut pinned) = (0u32, 0u32);
                    if let Some(h) = &s.hashes {
                        let max = ((s.prefill_target - 1) / bs) as usize;
                        let hs = &h[..max.min(h.len())];
                        let probe = rep.cache.probe(hs);
                        hits = probe.hits as u32;
                        pinned = probe.unheld;
                    }
                    let remaining = s.prefill_target - s.prefilled - hits * bs;
                    // Without chunking a prompt runs whole; one longer than the whole budget
                    // (a recompute of prompt + output) is chunked anyway, or it could never run.
                    let whole = !chunked && remaining <= cfg.max_num_batched_tokens;
                    let chunk = if whole {
                        remaining
                    } else {
                        remaining.min(budget)
                    };
                    if chunk > budget {
                        break;
                    }
                    // The hit blocks that nobody else uses stop being evictable.
                    let blocks = rep.alloc.blocks_needed(0, chunk);
                    if rep.alloc.free_blocks() + rep.cache.evictable_blocks() < blocks + pinned {
                        break;
                    }
                    let mut s = rep.waiting.pop_front().expect("front exists");
                    if let Some(h) = &s.hashes {
                        rep.cache.acquire(&h[..hits as usize]);
                    }
                    let cached = hits * bs;
                    s.shared = cached;
                    s.prefilled = cached;
                    s.first_hits.get_or_insert(cached);
                    rep.prefix_lookup += s.prefill_target;
                    rep.prefix_hits += cached;
                    reclaim(rep, blocks);
                    let slot = take_slot(rep);
                    let _ = rep.alloc.append(slot, chunk);
                    s.first_scheduled.get_or_insert(now);
                    s.scheduled = chunk;
                    budget -= chunk;
                    push_work(rep, agg, cached, chunk);
                    if self.spec.is_some() {
                        rep.draft_chunks.push(SeqWork {
                            context: cached,
                            tokens: chunk,
                        });
                    }
                    prefill_tokens += chunk;
                    if chunk == remaining {
                        sampled += 1;
                    }
                    enter(rep, s, slot, max_len);
                }
            }
        }
        if rep.work.is_empty() && rep.decodes == 0 {
            rep.busy = false;
            return;
        }
        let draft_seconds = match &self.spec {
            Some(sp) => sp.draft.seconds(
                self.cost,
                &rep.draft_chunks,
                &rep.draft_contexts,
                draft_steps,
            ),
            None => 0.0,
        };
        let seconds = self
            .cost
            .batch_seconds(&rep.work, rep.decodes, rep.decode_context, sampled)
            + draft_seconds
            + rep.extra_seconds;
        let duration = Nanos::from_secs_f64(seconds).max(Nanos(1));
        rep.busy = true;
        rep.started = now;
        let g = &rep.group;
        let batch = g.members
            + rep
                .solo
                .iter()
                .map(|&slot| u32::from(rep.seqs[slot as usize].scheduled > 0))
                .sum::<u32>();
        // Members hold one token more than `held` once this step's appends are counted.
        let lag = g.held + g.members as u64 - g.recorded;
        obs.iteration(&IterationDone {
            start: now,
            duration,
            replica: rep.id,
            batch_size: batch,
            prefill_tokens,
            decode_tokens,
            // Cached blocks nobody uses are reclaimable: not in use (as vLLM counts them).
            kv_blocks_used: rep.alloc.used_blocks() - rep.cache.evictable_blocks(),
            kv_fragmentation_tokens: rep.alloc.internal_fragmentation_tokens() - lag,
            contiguous_waste_tokens: rep.running.len() as u64 * max_len - rep.len_sum,
            preemptions,
            prefix_lookup_tokens: rep.prefix_lookup,
            prefix_hit_tokens: rep.prefix_hits,
            waiting: rep.waiting.len() as u32,
            spec_drafted,
            spec_accepted,
            spec_verified,
        });
        self.queue
            .push(now + duration, PHASE_DONE, Event::IterationDone(r));
    }

    /// Apply an iteration's results: emit tokens, finish requests, free their blocks.
    fn complete(&mut self, r: u32, now: Nanos, obs: &mut dyn Observer) {
        let is_static = self.cfg.scheduler == SchedulerKind::Static;
        let max_len = self.max_model_len as u64;
        let grouping = self.grouping;
        let bs = self.cfg.block_size;
        let rep = &mut self.replicas[r as usize];
        // Sequences that also emitted at the end of the previous iteration share its gap.
        let common_gap = now.saturating_sub(rep.started);
        let mut common = 0u32;
        rep.done.clear();
        rep.joiners.clear();
        for i in 0..rep.solo.len() {
            let slot = rep.solo[i];
            let s = &mut rep.seqs[slot as usize];
            if s.scheduled == 0 || s.done {
                s.scheduled = 0;
                continue;
            }
            let was_prefilling = s.prefilled < s.prefill_target;
            if was_prefilling {
                s.prefilled += s.scheduled;
            }
            let prefill_done = was_prefilling && s.prefilled == s.prefill_target;
            let emits = !was_prefilling || prefill_done;
            s.scheduled = 0;
            if !emits {
                continue;
            }
            // The prompt's full blocks go into the prefix cache (a block another sequence
            // cached meanwhile is used from there and this copy freed).
            if prefill_done && let Some(h) = s.hashes.clone() {
                let upto = ((s.prefill_target / bs) as usize).min(h.len());
                let from = ((s.shared / bs) as usize).min(upto);
                let new = rep.cache.insert(&h[..upto], from) as u32;
                let moved = (upto - from) as u32 * bs;
                rep.alloc.truncate(slot, moved);
                let _ = rep.alloc.append(CACHE_SLOT, new * bs);
                s.shared += moved;
            }
            // A verified speculative step keeps the accepted draft tokens plus one, and rolls
            // the rejected positions' KV back.
            let mut gained = 1;
            if s.drafted > 0 {
                gained += s.accepted;
                rep.alloc.truncate(slot, s.drafted - s.accepted);
                s.drafted = 0;
                s.accepted = 0;
            }
            let before = clamp_len(s, max_len);
            s.generated += gained.min(s.req.output_tokens - s.generated);
            rep.len_sum += clamp_len(s, max_len) - before;
            match s.first_token {
                None => s.first_token = Some(now),
                Some(_) => {
                    let gap = now.saturating_sub(s.last_token);
                    if gap == common_gap {
                        common += 1;
                    } else {
                        obs.inter_token(gap, 1);
                    }
                }
            }
            s.last_token = now;
            if s.generated >= s.req.output_tokens {
                s.done = true;
                if !is_static {
                    rep.done.push((s.stamp, slot));
                }
            } else if grouping && s.req.prompt_tokens as u64 + s.req.output_tokens as u64 <= max_len
            {
                rep.joiners.push(slot);
            }
        }
        let g = &mut rep.group;
        if g.scheduled {
            g.scheduled = false;
            g.step += 1;
            g.held += g.members as u64;
            g.last_emit = now;
            rep.len_sum += g.members as u64;
            common += g.members;
            while let Some(&Reverse((step, stamp, slot))) = g.finish.peek() {
                debug_assert!(step >= g.step, "a member outlived its output");
                if step != g.step {
                    break;
                }
                g.finish.pop();
                leave_group(
                    g,
                    &mut rep.seqs[slot as usize],
                    &rep.alloc,
                    rep.alloc.block_size(),
                );
                rep.seqs[slot as usize].done = true;
                rep.done.push((stamp, slot));
            }
        }
        if common > 0 {
            obs.inter_token(common_gap, common);
        }
        // Finished sequences leave (static batching: only when the whole batch is done),
        // reported in order of entry.
        if is_static && !rep.running.is_empty() {
            if rep.running.iter().all(|&slot| rep.seqs[slot as usize].done) {
                let seqs = &rep.seqs;
                rep.done.extend(
                    rep.running
                        .iter()
                        .map(|&slot| (seqs[slot as usize].stamp, slot)),
                );
            }
        } else {
            rep.done.sort_unstable();
        }
        if !rep.done.is_empty() {
            for &(_, slot) in &rep.done {
                let s = &mut rep.seqs[slot as usize];
                rep.alloc.free(slot);
                // Its full blocks beyond the prompt's (the answer: the next turn of a
                // conversation starts with it) join the cache too, as vLLM caches every full
                // block. It holds KV for all its tokens but the last one generated.
                if let Some(h) = s.hashes.clone() {
                    let held = s.req.prompt_tokens + s.req.output_tokens - 1;
                    let upto = ((held / bs) as usize).min(h.len());
                    let from = (s.shared / bs) as usize;
                    if upto > from {
                        let new = rep.cache.insert(&h[..upto], from) as u32;
                        let _ = rep.alloc.append(CACHE_SLOT, new * bs);
                        s.shared = upto as u32 * bs;
                    }
                }
                release_cached(&mut rep.cache, s, bs);
                rep.free_slots.push(slot);
                rep.len_sum -= clamp_len(s, max_len);
                self.ended.push((s.req.id, true));
                obs.request(&RequestDone {
                    req: s.req.clone(),
                    replica: r,
                    outcome: Outcome::Finished,
                    first_scheduled: s.first_scheduled.unwrap_or(s.req.arrival),
                    first_token: s.first_token.unwrap_or(now),
                    last_token: s.last_token,
                    preemptions: s.preemptions,
                    cached_tokens: s.first_hits.unwrap_or(0),
                });
            }
            let seqs = &rep.seqs;
            rep.running.retain(|&slot| !seqs[slot as usize].done);
            rep.solo.retain(|&slot| !seqs[slot as usize].done);
        }
        // Solo sequences that just emitted a decode token join the group.
        if !rep.joiners.is_empty() {
            for i in 0..rep.joiners.len() {
                let slot = rep.joiners[i];
                join_group(rep, slot);
            }
            let seqs = &rep.seqs;
            rep.solo.retain(|&slot| !seqs[slot as usize].member);
            rep.group.last_emit = now;
        }
        rep.busy = false;
    }
}

/// Name the full blocks of `seq`'s tokens (prompt, then output) by their chained hashes, when
/// prefix caching is on and the request says what its tokens share; once.
fn hash_blocks(seq: &mut Seq, caching: bool, cfg: &EngineConfig, content: &mut Vec<u64>) {
    if !caching || seq.hashes.is_some() {
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
        seq.hashes = Some(chained(content, r.tenant, cfg.prefix_isolation).collect());
    }
}

/// The request's length so far, as a contiguous reservation of `max_len` would see it.
fn clamp_len(s: &Seq, max_len: u64) -> u64 {
    (s.req.prompt_tokens as u64 + s.generated as u64).min(max_len)
}

/// Make `blocks` blocks free, evicting least recently used cached blocks that no sequence
/// uses if the free list is short; false (and nothing evicted) if even that is not enough.
fn reclaim(rep: &mut Replica, blocks: u32) -> bool {
    let free = rep.alloc.free_blocks();
    if free >= blocks {
        return true;
    }
    if free + rep.cache.evictable_blocks() < blocks {
        return false;
    }
    let evicted = rep.cache.evict(blocks - free);
    rep.alloc
        .truncate(CACHE_SLOT, evicted * rep.alloc.block_size());
    true
}

/// Give back a sequence's hold on its cached blocks (they stay cached, evictable when no
/// one else holds them).
fn release_cached(cache: &mut PrefixCache, s: &mut Seq, block_size: u32) {
    if s.shared > 0
        && let Some(h) = &s.hashes
    {
        let released = cache.release(&h[..(s.shared / block_size) as usize]);
        debug_assert!(released.is_ok(), "a sequence releases only blocks it holds");
    }
    s.shared = 0;
}

fn take_slot(rep: &mut Replica) -> u32 {
    rep.free_slots.pop().unwrap_or_else(|| {
        rep.next_slot += 1;
        rep.next_slot - 1
    })
}

/// A one-token step goes into the aggregate where the cost model allows it.
fn push_work(rep: &mut Replica, agg: bool, context: u32, tokens: u32) {
    if agg && tokens == 1 {
        rep.decodes += 1;
        rep.decode_context += context as u64;
    } else {
        rep.work.push(SeqWork { context, tokens });
    }
}

/// `s` enters the running set (newest) in `slot`, as a solo sequence.
fn enter(rep: &mut Replica, mut s: Seq, slot: u32, max_len: u64) {
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

/// Whether the group and every solo sequence fit whole in `budget` tokens and the free
/// blocks, so that the group can step in aggregate.
fn group_fits(rep: &Replica, budget: u32) -> bool {
    let g = &rep.group;
    let mask = rep.alloc.block_size() as u64 - 1;
    let mut tokens = g.members as u64;
    let mut blocks = g.buckets[(g.step.wrapping_neg() & mask) as usize].len() as u64;
    for &slot in &rep.solo {
        let s = &rep.seqs[slot as usize];
        let need = (s.prefill_target - s.prefilled).max(1);
        tokens += need as u64;
        blocks += rep.alloc.blocks_needed(rep.alloc.tokens(slot), need) as u64;
    }
    tokens <= budget as u64
        && blocks <= rep.alloc.free_blocks() as u64 + rep.cache.evictable_blocks() as u64
}

/// Append this step's token for the members that cross into a new block (the others' tokens
/// fit in blocks they hold). `group_fits` has checked the blocks are there.
fn step_group(rep: &mut Replica) {
    let g = &mut rep.group;
    g.scheduled = true;
    let mask = rep.alloc.block_size() as u64 - 1;
    let key = (g.step.wrapping_neg() & mask) as usize;
    let crossing = g.buckets[key].len() as u32;
    let reclaimed = reclaim(rep, crossing);
    debug_assert!(reclaimed, "group_fits checked the blocks");
    let g = &mut rep.group;
    for &slot in &g.buckets[key] {
        let s = &rep.seqs[slot as usize];
        let held = s.join_held as u64 + (g.step - s.join_step);
        let add = (held + 1 - rep.alloc.tokens(slot) as u64) as u32;
        let appended = rep.alloc.append(slot, add);
        debug_assert!(appended.is_ok(), "group_fits checked the free blocks");
        g.recorded += add as u64;
    }
}

fn join_group(rep: &mut Replica, slot: u32) {
    let g = &mut rep.group;
    let s = &mut rep.seqs[slot as usize];
    let held = rep.alloc.tokens(slot);
    s.member = true;
    s.join_step = g.step;
    s.join_generated = s.generated;
    s.join_held = held;
    let mask = rep.alloc.block_size() as u64 - 1;
    g.buckets[((held as u64).wrapping_sub(g.step) & mask) as usize].push(slot);
    let last = g.step + (s.req.output_tokens - s.generated) as u64;
    g.finish.push(Reverse((last, s.stamp, slot)));
    g.members += 1;
    g.held += held as u64;
    g.recorded += held as u64;
    g.shared += s.shared as u64;
}

/// Take a member out of the group, bringing its own fields up to date (the allocator's
/// record of its tokens may still lag; the caller frees or syncs it).
fn leave_group(g: &mut Group, s: &mut Seq, alloc: &BlockAllocator, block_size: u32) {
    let advanced = g.step - s.join_step;
    let held = s.join_held as u64 + advanced;
    s.generated = s.join_generated + advanced as u32;
    s.last_token = g.last_emit;
    s.member = false;
    let mask = block_size as u64 - 1;
    let bucket = &mut g.buckets[((s.join_held as u64).wrapping_sub(s.join_step) & mask) as usize];
    if let Some(p) = bucket.iter().position(|&x| x == s.slot) {
        bucket.swap_remove(p);
    }
    g.members -= 1;
    g.held -= held;
    g.recorded -= alloc.tokens(s.slot) as u64;
    g.shared -= s.shared as u64;
}

/// Hand every member back to one-by-one handling (before a step in which someone may be cut
/// short or preempted), with its tokens written to the allocator.
fn dissolve_group(rep: &mut Replica) {
    let g = &mut rep.group;
    for &slot in &rep.running {
        let s = &mut rep.seqs[slot as usize];
        if !s.member {
            continue;
        }
        let held = s.join_held + (g.step - s.join_step) as u32;
        // Within the last block it holds: no new block.
        let synced = rep.alloc.append(slot, held - rep.alloc.tokens(slot));
        debug_assert!(synced.is_ok());
        s.generated = s.join_generated + (g.step - s.join_step) as u32;
        s.last_token = g.last_emit;
        s.member = false;
    }
    for b in &mut g.buckets {
        b.clear();
    }
    g.finish.clear();
    g.members = 0;
    g.held = 0;
    g.recorded = 0;
    g.shared = 0;
    rep.solo.clear();
    rep.solo.extend_from_slice(&rep.running);
}

/// Preempt the newest running sequence (the group is empty, so `solo` is `running`):
/// recompute frees its blocks and requeues it at the front with a prefill of everything it
/// had; swap copies its KV to host memory (PCIe time charged to this iteration) and parks it
/// until blocks free up.
fn preempt(rep: &mut Replica, mode: Preemption, kv_bpt: f64, cost: &IterationCost, max_len: u64) {
    debug_assert_eq!(rep.group.members, 0);
    let slot = rep.running.pop().expect("a running sequence to preempt");
    rep.solo.pop();
    let mut s = rep.seqs[slot as usize].clone();
    rep.len_sum -= clamp_len(&s, max_len);
    let held = s.shared + rep.alloc.tokens(slot);
    rep.alloc.free(slot);
    release_cached(&mut rep.cache, &mut s, rep.alloc.block_size());
    rep.free_slots.push(slot);
    s.slot = u32::MAX;
    s.scheduled = 0;
    s.preemptions += 1;
    let in_prefill = s.prefilled < s.prefill_target;
    match mode {
        Preemption::Swap if !in_prefill => {
            rep.extra_seconds += cost.swap_seconds(held as f64 * kv_bpt);
            s.swapped_tokens = held;
            rep.swapped.push_back(s);
        }
        _ => {
            s.prefilled = 0;
            s.prefill_target = s.req.prompt_tokens + s.generated;
            rep.waiting.push_front(s);
        }
    }
}
