//! Command-line interface (clap derive). `main.rs` only parses and dispatches.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Capacity planner and serving simulator for LLM inference.
#[derive(Debug, Parser)]
#[command(name = "planner", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure the cost model's primitives on real hardware and write hardware/measured/<device>.toml.
    Bench(BenchArgs),
}

/// Which bench backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// NVIDIA GPU through cudarc (libcuda, libnvrtc, libcublas loaded at run time).
    Cuda,
    /// The host CPU.
    Cpu,
}

/// `planner bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Backend to measure.
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: BackendKind,
    /// Only these primitives (stream, gemm, attention, paged_decode, kv_quantize), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Only cases whose shape contains this text (e.g. "N=4096 d=128").
    #[arg(long)]
    pub filter: Option<String>,
    /// Folder for <device>.toml and <device>.csv.
    #[arg(long, default_value = "hardware/measured")]
    pub out: PathBuf,
    /// File stem instead of the device-name slug.
    #[arg(long)]
    pub name: Option<String>,
    /// Compile the CUDA kernels with NVRTC for this architecture (e.g. compute_90) and exit: no GPU needed.
    #[arg(long)]
    pub compile_only: Option<String>,
}
