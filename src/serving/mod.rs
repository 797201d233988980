//! The serving model: per replica, a vLLM-like scheduler forms batches under a token budget
//! and the KV block pool, the cost model prices each iteration, and the event loop advances
//! time.

pub mod config;
pub mod engine;
pub mod spec;
