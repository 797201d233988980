//! `planner`: a discrete-event simulator and capacity planner for LLM inference serving.
//!
//! ```text
//! scenario.toml ─► scenario/   raw (serde mirror, spans) ─lower─► Scenario (file:line:key errors)
//!   model   ─► model/      Hugging Face config → shape, params, weight bytes, FLOPs per token
//!   gpu     ─► hardware/   HBM, SRAM, SMs, FLOP/s per dtype, links, $/h   (catalog: built in
//!                          + --models-dir/--hardware-dir)
//!   engine  ─► kv/         bytes/token per K/V dtype, memory budget, paged blocks, prefix cache
//!              cost/       roofline + attention IO, efficiencies fitted by least squares
//!   load    ─► workload/   arrivals, lengths, tenants, shared prefixes, traces
//!      ▼
//! sim/      generic event kernel: integer time, ordered queue, seeded streams (no LLM words)
//! serving/  event · engine (the loop, pricing) · router · replica · batcher (BatchPolicy:
//!           static, continuous, chunked prefill) · group (aggregate decode) · seq · spec
//!      ▼
//! metrics/  Recorder (observer) → RunSummary (typed: latencies, SLO verdicts, cache, tenants)
//! report/   pure renderers: CSV/Parquet tables, PNG charts, trace-event JSON, report folders
//! simulate  wiring: workload + engine + metrics + report writers
//! sweep/    grid over scenario keys, load knob, journal (resume, shards), parallel in order
//! plan/     capacity search per configuration, typed results, the answer and its report
//! speculate, size, fidelity (validate), bench/ (CUDA and CPU micro-benchmarks)
//! commands/ one file per subcommand: wiring only; main.rs parses and maps the exit code
//! ```
//!
//! Modules are declared in pipeline order; a module imports only modules above it.
#![warn(missing_docs)]
// Modules in pipeline order (blank lines keep rustfmt from sorting them).
pub mod util;

/// Byte multiples (GiB, GB, MiB) written out once.
pub mod units;

/// Stable hashing: FNV-1a and the splitmix64 mixer.
pub mod hash;

pub mod model;

pub mod hardware;

/// Model and GPU catalogs: built in, extended or overridden by user folders.
pub mod catalog;

pub mod kv;

pub mod cost;

pub mod sim;

pub mod workload;

pub mod serving;

pub mod scenario;

pub mod metrics;

pub mod report;

pub mod bench;

/// How well the cost model predicts measurements (`planner validate`).
pub mod fidelity;

pub mod simulate;

/// Measured serving runs of real engines, replayed (`planner validate --serving`).
pub mod serving_runs;

/// The engines' command lines, read into scenarios and written from them.
pub mod engine_cli;

/// The sweep engine `plan` and `speculate` share: grids, journals, parallel runs.
pub mod sweep;

/// `planner plan`: capacity planning over a grid of configurations.
pub mod plan;
pub mod speculate;

/// `planner compare`: two simulation reports side by side.
pub mod compare;

pub mod size;

pub mod cli;

/// The commands, wired to the library (only `main.rs` uses this).
pub mod commands;
