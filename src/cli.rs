//! Command-line interface (clap derive). `main.rs` only parses and dispatches.
//!
//! The doc comments here are the `--help` text, written for a terminal (`[plan]`,
//! `<device>.toml`), not for rustdoc.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Capacity planner and serving simulator for LLM inference.
#[derive(Debug, Parser)]
#[command(name = "planner", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Folder of model files (<name>.toml) that extend the built-in catalog and override
    /// built-ins of the same name [env: PLANNER_MODELS_DIR].
    #[arg(long, global = true, value_name = "DIR")]
    pub models_dir: Option<PathBuf>,
    /// Folder of GPU files (<name>.toml) that extend the built-in catalog and override
    /// built-ins of the same name [env: PLANNER_HARDWARE_DIR].
    #[arg(long, global = true, value_name = "DIR")]
    pub hardware_dir: Option<PathBuf>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Simulate a serving scenario (scenarios/*.toml) and write its report.
    Simulate(SimulateArgs),
    /// Sweep load and draft length γ of a speculative-decoding scenario: where it stops paying.
    Speculate(SpeculateArgs),
    /// Search a scenario's [plan] grid for the cheapest configuration that meets its SLOs.
    Plan(PlanArgs),
    /// Combine the shard files of a sharded plan into its report.
    Merge(MergeArgs),
    /// KV cache bytes per token, the GPU memory budget, and what quantizing the cache buys.
    Size(SizeArgs),
    /// Measure the cost model's primitives on real hardware and write hardware/measured/<device>.toml.
    Bench(BenchArgs),
    /// Compare the cost model's predictions with a measured file and with the Vidur profiles.
    Validate(ValidateArgs),
    /// List the models and GPUs the catalogs know, and where each comes from.
    Catalog,
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

/// Output format of tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Table,
    /// Comma-separated values.
    Csv,
    /// JSON.
    Json,
}

/// `planner size`. llama.cpp's short flags `-c`, `-np`, `-ctk`, `-ctv`, `-ts` work too.
#[derive(Debug, clap::Args)]
pub struct SizeArgs {
    /// Catalog model name (`planner catalog` lists them) or a path to a Hugging Face
    /// config.json (relative to the working folder).
    #[arg(long)]
    pub model: String,
    /// Catalog GPU name (`planner catalog`) or a path to a GPU .toml.
    #[arg(long)]
    pub gpu: String,
    /// Tokens of context per sequence.
    #[arg(
        long,
        short = 'c',
        default_value_t = 8192,
        allow_negative_numbers = true
    )]
    pub ctx: i64,
    /// Parallel sequences.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub parallel: i64,
    /// Tensor-parallel degree.
    #[arg(long, default_value_t = 1)]
    pub tp: u64,
    /// K cache type (llama.cpp -ctk): f16, bf16, f32, fp8, fp8_e5m2, q8_0, q5_1, q5_0, q4_1, q4_0.
    #[arg(long, default_value = "f16")]
    pub cache_type_k: String,
    /// V cache type (llama.cpp -ctv).
    #[arg(long, default_value = "f16")]
    pub cache_type_v: String,
    /// vLLM's kv_cache_dtype: sets both K and V (overrides --cache-type-k/-v).
    #[arg(long)]
    pub kv_cache_dtype: Option<String>,
    /// Tokens per KV block (vLLM --block-size).
    #[arg(long, default_value_t = 16)]
    pub block_size: u64,
    /// Fraction of GPU memory the engine may use.
    #[arg(long, default_value_t = 0.9, allow_negative_numbers = true)]
    pub gpu_memory_utilization: f64,
    /// Tokens of vLLM's profiling pass (sets the activation-peak estimate).
    #[arg(long, default_value_t = 8192)]
    pub max_num_batched_tokens: u64,
    /// Sequences in vLLM's profiling pass (sampler logits).
    #[arg(long, default_value_t = 256)]
    pub max_num_seqs: u64,
    /// Weight type: bf16, fp16, fp8, int8, int4 (group 128), int4-g64, …
    #[arg(long, default_value = "bf16")]
    pub weight_dtype: String,
    /// Memory outside PyTorch (CUDA context, NCCL), GiB.
    #[arg(long, default_value_t = 0.35)]
    pub runtime_reserve_gib: f64,
    /// llama.cpp --tensor-split proportions, e.g. 10,6 (per-device KV lines).
    #[arg(long, value_delimiter = ',')]
    pub tensor_split: Vec<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Also write the trade-off chart (longest context vs parallel sequences per K/V type
    /// pair: kv_tradeoff.png, .csv and a README.md index) into this folder.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

/// Rewrite llama.cpp-style short flags (`-ctk`, `-ctv`, `-np`, `-ts`) to their long forms,
/// which clap's single-character short options cannot express.
pub fn normalize_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .map(|a| match a.as_str() {
            "-ctk" => "--cache-type-k".to_string(),
            "-ctv" => "--cache-type-v".to_string(),
            "-np" => "--parallel".to_string(),
            "-ts" => "--tensor-split".to_string(),
            _ => a,
        })
        .collect()
}

/// `planner validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// A file written by `planner bench` (hardware/measured/<device>.toml); without it only
    /// the Vidur profiles are validated.
    #[arg(long)]
    pub measured: Option<PathBuf>,
    /// Catalog GPU whose datasheet prices the ops (default: matched from the device name).
    #[arg(long)]
    pub gpu: Option<String>,
    /// Folder of Vidur-format operator profiles: one subfolder per GPU (mapped to a catalog
    /// GPU by its gpus.toml, or by name) [env: PLANNER_VIDUR_DIR] [default: data/vidur].
    #[arg(long, value_name = "DIR")]
    pub vidur_dir: Option<PathBuf>,
    /// Skip the Vidur reference profiles.
    #[arg(long)]
    pub no_vidur: bool,
    /// Report folder; the report goes to <out>/<measured file stem>/ (<out>/vidur/ without
    /// --measured).
    #[arg(long, default_value = "reports/validate")]
    pub out: PathBuf,
    /// Fail (exit 1) if the median errors exceed the bar in <measured stem>.bar.toml beside the file.
    #[arg(long)]
    pub check: bool,
}

/// `planner simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Scenario file.
    pub scenario: PathBuf,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Report folder (default: <output_dir>/<name> from the scenario).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Format of the report tables (summary, requests, iterations).
    #[arg(long, value_enum, default_value = "csv")]
    pub format: TableFormatArg,
    /// Turn automatic prefix caching off (to see what it buys: compare TTFT with a run
    /// without this flag).
    #[arg(long)]
    pub no_prefix_caching: bool,
    /// Trace replay: skip malformed lines (the summary counts them and names the first)
    /// instead of refusing the trace.
    #[arg(long)]
    pub lenient: bool,
    /// Also write the run's timeline as a Chrome/Perfetto trace (trace-event JSON: each
    /// replica's iterations with batch composition and cost breakdown, each request's
    /// queued/prefill/decode phases); open it in ui.perfetto.dev or chrome://tracing.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
}

/// `planner plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Scenario file with a [plan] table.
    pub scenario: PathBuf,
    /// Report folder (default: <output_dir>/<name>/plan from the scenario).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Evaluate only the configurations whose index is I mod N (0-based I), into
    /// plan.shard-I-of-N.jsonl; combine the shards with `planner merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Skip configurations an interrupted run already finished (its journal in the folder).
    #[arg(long)]
    pub resume: bool,
    /// Worker threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `planner merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The scenario file the shards ran (unchanged since).
    pub scenario: PathBuf,
    /// The shard files (plan.shard-I-of-N.jsonl), every one of them.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Report folder (default: <output_dir>/<name>/plan from the scenario).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `planner speculate`.
#[derive(Debug, clap::Args)]
pub struct SpeculateArgs {
    /// Scenario file with an [engine.speculative] table.
    pub scenario: PathBuf,
    /// Loads to sweep, requests/s, comma-separated (default: the scenario's × 1/4 … 32).
    #[arg(long, value_delimiter = ',')]
    pub rates: Vec<f64>,
    /// Draft lengths γ to sweep, comma-separated (default: 1, 2, 4, 8 and the scenario's).
    #[arg(long, value_delimiter = ',')]
    pub gammas: Vec<u32>,
    /// Report folder (default: <output_dir>/<name>/speculate from the scenario).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `simulate --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormatArg {
    /// CSV files.
    Csv,
    /// Apache Parquet files (zstd), for polars, pandas, DuckDB.
    Parquet,
}

impl From<TableFormatArg> for crate::report::table::TableFormat {
    fn from(f: TableFormatArg) -> Self {
        match f {
            TableFormatArg::Csv => Self::Csv,
            TableFormatArg::Parquet => Self::Parquet,
        }
    }
}
