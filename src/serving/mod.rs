//! The serving model. Per replica, a batch policy (one per engine scheduler) forms batches
//! under a token budget and the KV block pool, the cost model prices each iteration, and the
//! event loop advances time.
//!
//! ```text
//! event     Event (Arrival, FollowUp, IterationDone, Released) and what observers hear
//! engine    Simulation: the event loop, pricing, applying an iteration's end
//! router    which replica an arrival goes to
//! replica   queues, running set, allocator, prefix cache; preemption
//! batcher   BatchPolicy: static, continuous, chunked prefill
//! group     sequences in steady decode, stepped in aggregate
//! seq       one request inside a replica
//! spec      speculative decoding: drafting cost, acceptance
//! tenancy   tenants' limits (gateway buckets, caps) and order (fifo, fair, priority)
//! lora      per-tenant LoRA adapters: slots, residency, the batch rule, kernel cost
//! ```

pub(crate) mod batcher;
pub mod config;
pub mod engine;
pub mod event;
mod group;
pub mod lora;
mod replica;
mod router;
mod seq;
pub mod spec;
pub mod tenancy;

pub use event::{IterationDone, Observer, Outcome, RequestDone};
