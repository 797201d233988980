//! Events and what the simulation reports: plain data. [`Event`] drives the loop (one `match`
//! in [`super::engine::Simulation::run`]); [`RequestDone`] and [`IterationDone`] are what an
//! [`Observer`] (the metrics layer) hears.

use crate::cost::iteration::BatchCost;
use crate::sim::{Nanos, Ranked};
use crate::workload::Request;
use serde::Serialize;

/// What happens next in the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Event {
    /// The next request of the workload arrives.
    Arrival,
    /// A request that followed from an ended one (a conversation's next turn) arrives: its
    /// slot in the simulation's follow-ups.
    FollowUp(u32),
    /// A replica's iteration ends.
    IterationDone(u32),
    /// A request a tenant's rate limit held back passes the gateway: its slot in the
    /// simulation's follow-ups.
    Released(u32),
}

/// Which of two simultaneous kinds of event goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Phase {
    /// Completions first: a replica frees its blocks and emits its tokens before …
    Completion = 0,
    /// … arrivals at the same instant are queued.
    Arrival = 1,
}

impl Event {
    /// The event's phase.
    pub fn phase(self) -> Phase {
        match self {
            Event::IterationDone(_) => Phase::Completion,
            Event::Arrival | Event::FollowUp(_) | Event::Released(_) => Phase::Arrival,
        }
    }
}

impl Ranked for Event {
    fn rank(&self) -> u8 {
        self.phase() as u8
    }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// All output tokens produced.
    Finished,
    /// Refused at arrival: it can never fit in the replica's KV cache.
    RejectedTooLong,
    /// Refused at arrival: the waiting queue was full.
    RejectedQueueFull,
    /// Refused at the gateway: over its tenant's rate limit (HTTP 429).
    RejectedRateLimit,
    /// Refused at arrival: its tenant's share of the queue was full.
    RejectedTenantQueueFull,
    /// Shed by the server: not scheduled within `engine.max_queue_wait_ms`.
    RejectedQueueTimeout,
    /// Cancelled by its client: not scheduled within the client's patience.
    Cancelled,
    /// Its client gave up waiting for the whole answer (`workload.timeout_s`) and
    /// disconnected; the server aborted it, queued or running, and freed its KV.
    TimedOut,
}

impl Outcome {
    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Finished => "finished",
            Outcome::RejectedTooLong => "rejected_exceeds_kv_capacity",
            Outcome::RejectedQueueFull => "rejected_queue_full",
            Outcome::RejectedRateLimit => "rejected_rate_limit",
            Outcome::RejectedTenantQueueFull => "rejected_tenant_queue_full",
            Outcome::RejectedQueueTimeout => "rejected_queue_timeout",
            Outcome::Cancelled => "cancelled_by_client",
            Outcome::TimedOut => "timed_out_by_client",
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

/// A finished request's latencies, seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latencies {
    /// Arrival to first scheduled.
    pub queue: f64,
    /// Arrival to first token.
    pub ttft: f64,
    /// Per output token after the first ((e2e − ttft) / (output − 1)); 0 with one token.
    pub tpot: f64,
    /// Arrival to last token.
    pub e2e: f64,
}

impl RequestDone {
    /// Its latencies, if it finished.
    pub fn latencies(&self) -> Option<Latencies> {
        if self.outcome != Outcome::Finished {
            return None;
        }
        let r = &self.req;
        let secs = |t: Nanos| t.saturating_sub(r.arrival).as_secs_f64();
        let (ttft, e2e) = (secs(self.first_token), secs(self.last_token));
        let tpot = if r.output_tokens > 1 {
            (e2e - ttft) / (r.output_tokens - 1) as f64
        } else {
            0.0
        };
        Some(Latencies {
            queue: secs(self.first_scheduled),
            ttft,
            tpot,
            e2e,
        })
    }
}

/// One iteration of one replica.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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
    /// The target model's forward pass and its parts.
    pub cost: BatchCost,
    /// Seconds of drafting (speculative decoding with a draft model or head).
    pub draft_s: f64,
    /// Seconds of KV swapped over PCIe (preemption by swap).
    pub swap_s: f64,
    /// Seconds clearing KV blocks reused across tenants (`engine.scrub_freed_blocks`).
    pub scrub_s: f64,
    /// Seconds of LoRA work in it: adapters copied into GPU slots, and the kernels.
    pub lora_s: f64,
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
