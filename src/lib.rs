//! `planner`: a discrete-event simulator and capacity planner for LLM inference serving.
//!
//! ```text
//! scenario.toml ──► config (validated, errors point at file:line:key)
//!    │  model  ──► model/      shape → params, weight bytes, FLOPs and bytes per token
//!    │  gpu    ──► hardware/   HBM GB/s, HBM GiB, SRAM/SM, SMs, FLOP/s per dtype, links, $/h
//!    │  engine ──► kv/         bytes/token per K/V dtype, paged blocks, memory budget
//!    ▼
//!  report/  tables, CSV, JSON
//!  bench/ measures real hardware (CUDA via cudarc+NVRTC; CPU fallback) → hardware/measured/*.toml
//! ```
//!
//! Modules are declared in pipeline order; arrows point down the list only.
#![warn(missing_docs)]
pub mod hardware;
pub mod kv;
pub mod model;
pub mod size;

pub mod bench;
pub mod cli;
pub mod util;
