//! `planner`: a discrete-event simulator and capacity planner for LLM inference serving.
//!
//! ```text
//!  model  ──► model/      Hugging Face config → shape, params, weight bytes, FLOPs per token
//!  gpu    ──► hardware/   HBM GB/s and GiB, SRAM/SM, SMs, FLOP/s per dtype, links, $/h
//!  engine ──► kv/         bytes/token per K/V dtype, memory budget (vLLM), llama.cpp's cache
//!             cost/       roofline + attention IO model, efficiencies fitted by least squares
//!    ▼
//!  size       `planner size`: the KV / memory trade-off report
//!  validate   `planner validate`: cost model vs measured (our bench, Vidur)
//!  report/    PNG renderers (pure)
//!  bench/     measures real hardware (CUDA via cudarc + NVRTC; CPU) → hardware/measured/*.toml
//! ```
//!
//! The serving simulator: `scenario/` (validated TOML) → `workload/` (requests) → `serving/`
//! (scheduler + event loop on `sim/`) priced by `cost::iteration` → `metrics/` →
//! `simulate` (reports).
//!
//! Modules are declared in pipeline order; arrows point down the list only.
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

pub mod scenario;

pub mod serving;

pub mod metrics;

pub mod bench;

/// How well the cost model predicts measurements (`planner validate`).
pub mod fidelity;

pub mod simulate;

/// The sweep engine `plan` and `speculate` share: grids, journals, parallel runs.
pub mod sweep;

/// `planner plan`: capacity planning over a grid of configurations.
pub mod plan;
pub mod speculate;

pub mod size;

pub mod report;

pub mod cli;

/// The commands, wired to the library (only `main.rs` uses this).
pub mod commands;
