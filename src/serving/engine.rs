//! The event loop and the per-replica scheduler, in one place so the whole flow fits on a
//! screen: arrivals are routed to replicas; an idle replica forms a batch (running decodes
//! first, then waiting prefills within the token budget and the KV block pool, preempting
//! the newest sequence when blocks run out), the cost model prices it, and the iteration's
//! end emits tokens, frees blocks and finishes requests.

use super::config::{EngineConfig, Preemption, SchedulerKind};
use crate::cost::iteration::{IterationCost, SeqWork};
use crate::kv::paged::BlockAllocator;
use crate::sim::{EventQueue, Nanos};
use crate::workload::Request;
use std::collections::VecDeque;

/// Events: plain data, handled in [`Simulation::run`]'s one `match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// The next request of the workload arrives.
    Arrival,
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
#[derive(Debug, Clone, Copy, PartialEq)]
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
    /// Requests waiting after scheduling.
    pub waiting: u32,
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
}

struct Replica {
    id: u32,
    waiting: VecDeque<Seq>,
    running: Vec<Seq>,
    swapped: VecDeque<Seq>,
    alloc: BlockAllocator,
    free_slots: Vec<u32>,
    next_slot: u32,
    busy: bool,
    started: Nanos,
    work: Vec<SeqWork>,
    extra_seconds: f64,
}

/// One simulation run over a stream of requests.
pub struct Simulation<'a> {
    cfg: EngineConfig,
    cost: &'a IterationCost,
    replicas: Vec<Replica>,
    queue: EventQueue<Event>,
    next_rr: u32,
    kv_bytes_per_token: f64,
    max_model_len: u32,
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
                running: Vec::new(),
                swapped: VecDeque::new(),
                alloc: BlockAllocator::new(num_blocks, cfg.block_size),
                free_slots: Vec::new(),
                next_slot: 0,
                busy: false,
                started: Nanos::ZERO,
                work: Vec::new(),
                extra_seconds: 0.0,
            })
            .collect();
        Simulation {
            cfg,
            cost,
            replicas,
            queue: EventQueue::new(),
            next_rr: 0,
            kv_bytes_per_token,
            max_model_len,
        }
    }

    /// Requests still queued or running (0 after a complete run).
    pub fn unfinished(&self) -> usize {
        self.replicas
            .iter()
            .map(|r| r.waiting.len() + r.running.len() + r.swapped.len())
            .sum()
    }

    /// Run until every request has ended; returns the time of the last event.
    pub fn run(
        &mut self,
        requests: &mut dyn Iterator<Item = Request>,
        obs: &mut dyn Observer,
    ) -> Nanos {
        let mut pending = requests.next();
        if let Some(r) = &pending {
            self.queue.push(r.arrival, PHASE_ARRIVAL, Event::Arrival);
        }
        while let Some((now, ev)) = self.queue.pop() {
            match ev {
                Event::Arrival => {
                    let Some(req) = pending.take() else { continue };
                    let r = self.next_rr % self.replicas.len() as u32;
                    self.next_rr += 1;
                    self.arrive(r, req, now, obs);
                    pending = requests.next();
                    if let Some(next) = &pending {
                        self.queue
                            .push(next.arrival.max(now), PHASE_ARRIVAL, Event::Arrival);
                    }
                }
                Event::IterationDone(r) => {
                    self.complete(r, now, obs);
                    self.start_iteration(r, now, obs);
                }
            }
        }
        self.queue.now()
    }

    fn arrive(&mut self, r: u32, req: Request, now: Nanos, obs: &mut dyn Observer) {
        let cfg = &self.cfg;
        let rep = &mut self.replicas[r as usize];
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
            obs.request(&RequestDone {
                req,
                replica: r,
                outcome,
                first_scheduled: now,
                first_token: now,
                last_token: now,
                preemptions: 0,
            });
            return;
        }
        rep.waiting.push_back(Seq {
            req,
            slot: u32::MAX,
            prefilled: 0,
            prefill_target: req.prompt_tokens,
            generated: 0,
            scheduled: 0,
            first_scheduled: None,
            first_token: None,
            last_token: now,
            preemptions: 0,
            done: false,
            swapped_tokens: 0,
        });
        if !rep.busy {
            self.start_iteration(r, now, obs);
        }
    }

    /// Form a batch on an idle replica and schedule its end.
    fn start_iteration(&mut self, r: u32, now: Nanos, obs: &mut dyn Observer) {
        let cfg = &self.cfg;
        let kv_bpt = self.kv_bytes_per_token;
        let max_len = self.max_model_len as u64;
        let rep = &mut self.replicas[r as usize];
        rep.work.clear();
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
                        s.slot = take_slot(rep);
                        // Reservation: the full length; the reservation is the static baseline's cost.
                        let _ = rep
                            .alloc
                            .append(s.slot, s.req.prompt_tokens + s.req.output_tokens);
                        s.first_scheduled = Some(now);
                        s.scheduled = s.prefill_target;
                        rep.work.push(SeqWork {
                            context: 0,
                            tokens: s.prefill_target,
                        });
                        prefill_tokens += s.prefill_target;
                        sampled += 1;
                        rep.running.push(s);
                    }
                } else {
                    // Every member decodes (finished ones as padding) until the longest ends.
                    for s in rep.running.iter_mut() {
                        s.scheduled = 1;
                        let ctx = s.req.prompt_tokens + s.generated.saturating_sub(1);
                        rep.work.push(SeqWork {
                            context: ctx,
                            tokens: 1,
                        });
                        decode_tokens += 1;
                        sampled += 1;
                    }
                }
            }
            SchedulerKind::Continuous | SchedulerKind::ChunkedPrefill => {
                let chunked = cfg.scheduler == SchedulerKind::ChunkedPrefill;
                let mut budget = cfg.max_num_batched_tokens;
                // 1. Running sequences, oldest first.
                let mut i = 0;
                while i < rep.running.len() {
                    let s = &rep.running[i];
                    let remaining = s.prefill_target - s.prefilled;
                    let need = if remaining > 0 {
                        remaining.min(budget)
                    } else {
                        1.min(budget)
                    };
                    if need == 0 {
                        rep.running[i].scheduled = 0;
                        i += 1;
                        continue;
                    }
                    let slot = s.slot;
                    let context = rep.alloc.tokens(slot);
                    let mut self_preempted = false;
                    // Append, or preempt the newest sequence (possibly this one) until it fits;
                    // a failed append changes nothing.
                    while rep.alloc.append(slot, need).is_err() {
                        let victim = rep.running.len() - 1;
                        preempt(rep, victim, cfg.preemption, kv_bpt, self.cost);
                        preemptions += 1;
                        if victim == i {
                            self_preempted = true;
                            break;
                        }
                    }
                    if self_preempted {
                        break;
                    }
                    let s = &mut rep.running[i];
                    s.scheduled = need;
                    budget -= need;
                    rep.work.push(SeqWork {
                        context,
                        tokens: need,
                    });
                    if remaining > 0 {
                        prefill_tokens += need;
                        if need == remaining {
                            sampled += 1;
                        }
                    } else {
                        decode_tokens += 1;
                        sampled += 1;
                    }
                    i += 1;
                }
                // 2. Swapped-out sequences come back before new ones.
                while let Some(s) = rep.swapped.front() {
                    if rep.running.len() >= cfg.max_num_seqs as usize || budget == 0 {
                        break;
                    }
                    let slot = rep.free_slots.last().copied().unwrap_or(rep.next_slot);
                    if !rep.alloc.can_append(slot, s.swapped_tokens + 1) {
                        break;
                    }
                    let mut s = rep.swapped.pop_front().expect("front exists");
                    s.slot = take_slot(rep);
                    let _ = rep.alloc.append(s.slot, s.swapped_tokens);
                    rep.extra_seconds += self.cost.swap_seconds(s.swapped_tokens as f64 * kv_bpt);
                    let context = s.swapped_tokens;
                    s.swapped_tokens = 0;
                    let _ = rep.alloc.append(s.slot, 1);
                    s.scheduled = 1;
                    budget -= 1;
                    rep.work.push(SeqWork { context, tokens: 1 });
                    decode_tokens += 1;
                    sampled += 1;
                    rep.running.push(s);
                }
                // 3. Waiting requests, first come first served.
                while rep.running.len() < cfg.max_num_seqs as usize
                    && budget > 0
                    && rep.swapped.is_empty()
                {
                    let Some(s) = rep.waiting.front() else { break };
                    let remaining = s.prefill_target - s.prefilled;
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
                    let slot = rep.free_slots.last().copied().unwrap_or(rep.next_slot);
                    if !rep.alloc.can_append(slot, chunk) {
                        break;
                    }
                    let mut s = rep.waiting.pop_front().expect("front exists");
                    s.slot = take_slot(rep);
                    let _ = rep.alloc.append(s.slot, chunk);
                    s.first_scheduled.get_or_insert(now);
                    s.scheduled = chunk;
                    budget -= chunk;
                    rep.work.push(SeqWork {
                        context: 0,
                        tokens: chunk,
                    });
                    prefill_tokens += chunk;
                    if chunk == remaining {
                        sampled += 1;
                    }
                    rep.running.push(s);
                }
            }
        }
        if rep.work.is_empty() {
            rep.busy = false;
            return;
        }
        let seconds = self.cost.iteration_seconds(&rep.work, sampled) + rep.extra_seconds;
        let duration = Nanos::from_secs_f64(seconds).max(Nanos(1));
        rep.busy = true;
        rep.started = now;
        let (mut batch, mut contiguous) = (0u32, 0u64);
        for s in &rep.running {
            batch += u32::from(s.scheduled > 0);
            contiguous += max_len.saturating_sub(s.req.prompt_tokens as u64 + s.generated as u64);
        }
        obs.iteration(&IterationDone {
            start: now,
            duration,
            replica: rep.id,
            batch_size: batch,
            prefill_tokens,
            decode_tokens,
            kv_blocks_used: rep.alloc.used_blocks(),
            kv_fragmentation_tokens: rep.alloc.internal_fragmentation_tokens(),
            contiguous_waste_tokens: contiguous,
            preemptions,
            waiting: rep.waiting.len() as u32,
        });
        self.queue
            .push(now + duration, PHASE_DONE, Event::IterationDone(r));
    }

    /// Apply an iteration's results: emit tokens, finish requests, free their blocks.
    fn complete(&mut self, r: u32, now: Nanos, obs: &mut dyn Observer) {
        let is_static = self.cfg.scheduler == SchedulerKind::Static;
        let rep = &mut self.replicas[r as usize];
        // Sequences that also emitted at the end of the previous iteration share its gap.
        let common_gap = now.saturating_sub(rep.started);
        let mut common = 0u32;
        for s in rep.running.iter_mut() {
            if s.scheduled == 0 || s.done {
                s.scheduled = 0;
                continue;
            }
            let emits = if s.prefilled < s.prefill_target {
                s.prefilled += s.scheduled;
                s.prefilled == s.prefill_target
            } else {
                true
            };
            s.scheduled = 0;
            if !emits {
                continue;
            }
            s.generated += 1;
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
            }
        }
        if common > 0 {
            obs.inter_token(common_gap, common);
        }
        // Finished sequences leave (static batching: only when the whole batch is done).
        let all_done = rep.running.iter().all(|s| s.done);
        if (!is_static || all_done) && rep.running.iter().any(|s| s.done) {
            // One pass keeps the survivors in admission order (the newest is preempted first).
            let (alloc, free_slots) = (&mut rep.alloc, &mut rep.free_slots);
            rep.running.retain(|s| {
                if !s.done {
                    return true;
                }
                alloc.free(s.slot);
                free_slots.push(s.slot);
                obs.request(&RequestDone {
                    req: s.req,
                    replica: r,
                    outcome: Outcome::Finished,
                    first_scheduled: s.first_scheduled.unwrap_or(s.req.arrival),
                    first_token: s.first_token.unwrap_or(now),
                    last_token: s.last_token,
                    preemptions: s.preemptions,
                });
                false
            });
        }
        rep.busy = false;
    }
}

fn take_slot(rep: &mut Replica) -> u32 {
    rep.free_slots.pop().unwrap_or_else(|| {
        rep.next_slot += 1;
        rep.next_slot - 1
    })
}

/// Preempt `running[victim]`: recompute frees its blocks and requeues it at the front with a
/// prefill of everything it had; swap copies its KV to host memory (PCIe time charged to
/// this iteration) and parks it until blocks free up.
fn preempt(rep: &mut Replica, victim: usize, mode: Preemption, kv_bpt: f64, cost: &IterationCost) {
    let mut s = rep.running.remove(victim);
    let held = rep.alloc.tokens(s.slot);
    rep.alloc.free(s.slot);
    rep.free_slots.push(s.slot);
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
