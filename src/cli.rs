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
    Size(Box<SizeArgs>),
    /// Time one engine iteration (a prefill chunk, a decode batch) with its parts and the
    /// math each GEMM runs in; side by side with 16-bit weights when quantized.
    Step(StepArgs),
    /// Measure the cost model's primitives on real hardware and write hardware/measured/<device>.toml.
    Bench(BenchArgs),
    /// Compare the cost model's predictions with a measured file and with the Vidur profiles.
    Validate(ValidateArgs),
    /// List the models and GPUs the catalogs know, and where each comes from.
    Catalog,
    /// Read an engine's command line (`vllm serve …`, `llama-server …`, `trtllm-serve …`,
    /// `python -m sglang.launch_server …`) into a scenario: every recognised flag mapped,
    /// every other one listed.
    Import(ImportArgs),
    /// Two simulation reports side by side: every metric's change, latency CDFs overlaid.
    Compare(CompareArgs),
}

/// `planner compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Report folder A (`reports/rag`).
    pub a: PathBuf,
    /// Report folder B.
    pub b: PathBuf,
    /// Folder for compare.csv, latency_cdf_compare.png and README.md (default: beside A,
    /// `compare-<A>-vs-<B>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the comparison as JSON (schema planner.compare, docs/json.md).
    #[arg(long)]
    pub json: bool,
}

/// `planner import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The GPU it runs on (the command line does not say): a catalog name or a GPU .toml.
    #[arg(long, default_value = "h100-sxm")]
    pub gpu: String,
    /// Write the scenario here (default: print it).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// The scenario's name (default: the output file's stem, else "imported").
    #[arg(long)]
    pub name: Option<String>,
    /// The command line, after `--` (`planner import -- vllm serve MODEL --max-num-seqs 64`),
    /// or as one quoted word.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
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
    /// Whose memory rules: vllm (V1), vllm-v0, sglang, trtllm, llama.cpp.
    #[arg(long, default_value = "vllm")]
    pub engine: String,
    /// Tokens of context per sequence (vLLM's --max-model-len). Default 8192.
    #[arg(
        long,
        visible_alias = "max-model-len",
        allow_negative_numbers = true,
        conflicts_with = "ctx_size"
    )]
    pub ctx: Option<i64>,
    /// llama.cpp's -c: the TOTAL context, split over the -np slots (each slot gets
    /// pad256(c / np) tokens, as llama.cpp @63d93d173 pads them).
    #[arg(long = "ctx-size", short = 'c', allow_negative_numbers = true)]
    pub ctx_size: Option<i64>,
    /// Parallel sequences (llama.cpp -np; vLLM --max-num-seqs).
    #[arg(
        long,
        visible_alias = "max-num-seqs",
        default_value_t = 1,
        allow_negative_numbers = true
    )]
    pub parallel: i64,
    /// Tensor-parallel degree (vLLM's --tensor-parallel-size, -tp).
    #[arg(long, visible_alias = "tensor-parallel-size", default_value_t = 1)]
    pub tp: u64,
    /// Pipeline-parallel stages (layers split evenly unless --pp-layer-partition; vLLM's
    /// --pipeline-parallel-size, -pp).
    #[arg(long, visible_alias = "pipeline-parallel-size", default_value_t = 1)]
    pub pp: u64,
    /// Layers per stage, e.g. 14,18 (vLLM's VLLM_PP_LAYER_PARTITION).
    #[arg(long, value_delimiter = ',')]
    pub pp_layer_partition: Vec<u64>,
    /// GPU of each stage, e.g. rtx-4060-ti,rtx-5090 (default: --gpu for every stage).
    #[arg(long, value_delimiter = ',')]
    pub pp_gpus: Vec<String>,
    /// K cache type (llama.cpp -ctk): f16, bf16, f32, fp8, fp8_e5m2, q8_0, q5_1, q5_0, q4_1, q4_0.
    #[arg(long, default_value = "f16")]
    pub cache_type_k: String,
    /// V cache type (llama.cpp -ctv).
    #[arg(long, default_value = "f16")]
    pub cache_type_v: String,
    /// vLLM's kv_cache_dtype: sets both K and V (overrides --cache-type-k/-v).
    #[arg(long)]
    pub kv_cache_dtype: Option<String>,
    /// Tokens per KV block (vLLM --block-size; default: the engine's, vLLM 16, TensorRT-LLM
    /// 32, SGLang and llama.cpp 1).
    #[arg(long)]
    pub block_size: Option<u64>,
    /// vLLM: fraction of total GPU memory the engine may use.
    #[arg(long, default_value_t = 0.9, allow_negative_numbers = true)]
    pub gpu_memory_utilization: f64,
    /// SGLang: (weights + KV pool) / GPU memory (default: SGLang's rule for the GPU and TP).
    #[arg(long, allow_negative_numbers = true)]
    pub mem_fraction_static: Option<f64>,
    /// TensorRT-LLM: share of the memory free after weights and activations for KV.
    #[arg(
        long,
        visible_alias = "kv_cache_free_gpu_memory_fraction",
        default_value_t = 0.9,
        allow_negative_numbers = true
    )]
    pub kv_cache_free_gpu_memory_fraction: f64,
    /// Tokens of the profiling pass (default: the engine's for this GPU, e.g. vLLM V1 8192
    /// on 70 GiB and larger GPUs, 2048 below).
    #[arg(long)]
    pub max_num_batched_tokens: Option<u64>,
    /// Sequences the profiling pass samples (default: the engine's, e.g. vLLM V1 1024 on
    /// 70 GiB and larger GPUs, 256 below).
    #[arg(long)]
    pub max_num_seqs: Option<u64>,
    /// Weight type: bf16, fp16, fp8, int8, int4 (group 128), int4-g64, nvfp4, mxfp4, nf4,
    /// q4_k_m, q8_0, … (default: the checkpoint's quantization_config, else torch_dtype).
    #[arg(long)]
    pub weight_dtype: Option<String>,
    /// Memory outside the engine's tensors per GPU, GiB (vLLM's non-torch memory; default:
    /// the engine's for the TP degree).
    #[arg(long, visible_alias = "non-torch-gib")]
    pub runtime_reserve_gib: Option<f64>,
    /// llama.cpp -ngl: repeating layers on the GPU (default: all, and the output layer).
    #[arg(long = "n-gpu-layers")]
    pub n_gpu_layers: Option<u64>,
    /// llama.cpp --n-cpu-moe: keep the routed experts of the first N layers in host memory.
    #[arg(long, default_value_t = 0)]
    pub n_cpu_moe: u64,
    /// llama.cpp -ub: the physical batch its compute buffer is sized for.
    #[arg(long = "ubatch-size", default_value_t = 512)]
    pub ubatch_size: u64,
    /// llama.cpp --tensor-split proportions, e.g. 10,6 (per-device KV lines).
    #[arg(long, value_delimiter = ',')]
    pub tensor_split: Vec<f64>,
    /// Output format (json: schema planner.size, docs/json.md).
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Also write the trade-off chart (longest context vs parallel sequences per K/V type
    /// pair: kv_tradeoff.png, .csv and a README.md index) into this folder.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

/// `planner step`.
#[derive(Debug, clap::Args)]
pub struct StepArgs {
    /// Catalog model name or a path to a config.json.
    #[arg(long)]
    pub model: String,
    /// Catalog GPU name or a path to a GPU .toml.
    #[arg(long)]
    pub gpu: String,
    /// Tensor-parallel degree.
    #[arg(long, default_value_t = 1)]
    pub tp: u64,
    /// Whose kernels: vllm, vllm-v0, sglang, trtllm, llama.cpp.
    #[arg(long, default_value = "vllm")]
    pub engine: String,
    /// Weight type (default: the checkpoint's quantization_config, else torch_dtype).
    #[arg(long)]
    pub weight_dtype: Option<String>,
    /// KV cache type for K and V (bf16, fp8, …).
    #[arg(long, default_value = "bf16")]
    pub kv_cache_dtype: String,
    /// Prompt tokens of the prefill step (one sequence, empty cache).
    #[arg(long, default_value_t = 8192)]
    pub prefill: u32,
    /// Sequences in the decode step.
    #[arg(long, default_value_t = 64)]
    pub decode_batch: u32,
    /// Context of each decoding sequence.
    #[arg(long, default_value_t = 2048)]
    pub context: u32,
}

/// Rewrite llama.cpp-style short flags (`-ctk`, `-ctv`, `-np`, `-ts`) to their long forms,
/// which clap's single-character short options cannot express; vLLM's `-tp` and `-pp` to
/// `--tp` and `--pp`. Nothing after a bare `--` (an engine's command line for `import`).
pub fn normalize_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut rest = false;
    args.into_iter()
        .map(|a| match a.as_str() {
            _ if rest => a,
            "--" => {
                rest = true;
                a
            }
            "-tp" => "--tp".to_string(),
            "-pp" => "--pp".to_string(),
            "-ctk" => "--cache-type-k".to_string(),
            "-ctv" => "--cache-type-v".to_string(),
            "-np" => "--parallel".to_string(),
            "-ts" => "--tensor-split".to_string(),
            "-ngl" => "--n-gpu-layers".to_string(),
            "-ub" => "--ubatch-size".to_string(),
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
    /// Replay measured serving runs of real engines instead (a folder laid out as
    /// data/serving/: trtllm_*.csv offline throughput, llmservingsim/<run>/ per-request
    /// vLLM runs) and compare end-to-end figures; report in <out>/serving/.
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "data/serving")]
    pub serving: Option<PathBuf>,
    /// Print the result as JSON (schema planner.validate or planner.validate.serving,
    /// docs/json.md) instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// `planner simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Scenario file.
    pub scenario: PathBuf,
    /// Keys set on the command line.
    #[command(flatten)]
    pub set: SetArgs,
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
    /// Print the summary as JSON (schema `planner.simulate.summary`, version 1: every field
    /// of the run's summary, latencies in seconds) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Print every metric (the rows of summary.csv) instead of the one-screen digest.
    #[arg(long, conflicts_with = "json")]
    pub full: bool,
    /// Which tables the report writes: all (summary, one row per request and per iteration),
    /// summary, or none (charts and index only).
    #[arg(long, value_enum, default_value = "all")]
    pub tables: TablesArg,
    /// Replace the report folder even if it holds another scenario's report (two scenario
    /// files with the same `name`).
    #[arg(long)]
    pub force: bool,
    /// Also write the run's timeline as a Chrome/Perfetto trace (trace-event JSON: each
    /// replica's iterations with batch composition and cost breakdown, each request's
    /// queued/prefill/decode phases); open it in ui.perfetto.dev or chrome://tracing.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
}

/// Scenario keys set on the command line instead of in the file.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SetArgs {
    /// Set a scenario key, as the file would (repeatable): a dotted key and a TOML value, e.g.
    /// --set engine.max_num_seqs=64 --set hardware.gpu=h100-sxm --set 'slo.ttft_ms={ p90 = 300 }'
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_override)]
    pub set: Vec<crate::scenario::overrides::Override>,
    /// Requests per second: --set workload.rate=R.
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,
    /// How many requests: --set workload.num_requests=N.
    #[arg(long, value_name = "N")]
    pub requests: Option<u64>,
}

impl SetArgs {
    /// Every override, `--rate` and `--requests` after the `--set`s.
    pub fn overrides(&self) -> Vec<crate::scenario::overrides::Override> {
        use crate::scenario::overrides::Override;
        let mut all = self.set.clone();
        all.extend(self.rate.map(Override::rate));
        all.extend(self.requests.map(Override::requests));
        all
    }
}

/// Scenario and plan keys set on `plan`'s command line.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PlanSetArgs {
    /// Set a scenario or [plan] key, as the file would (repeatable), e.g.
    /// --set plan.target_rate=20 --set 'plan.axes."hardware.tp"=[1, 2, 4]'
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_override)]
    pub set: Vec<crate::scenario::overrides::Override>,
    /// The load to sustain, requests per second: --set plan.target_rate=R.
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,
    /// Requests per simulation: --set plan.requests=N.
    #[arg(long, value_name = "N")]
    pub requests: Option<u64>,
    /// A GPU's price per hour in USD, instead of the catalog's (repeatable):
    /// --price h100-sxm=2.1 --price l40s=0.79
    #[arg(long = "price", value_name = "GPU=USD")]
    pub price: Vec<String>,
    /// A TOML file of prices, one `gpu = usd` line each (`h100-sxm = 2.1`); --price wins.
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
}

impl PlanSetArgs {
    /// The prices given: (GPU, USD per GPU-hour, where from), the file's first.
    pub fn price_list(&self) -> anyhow::Result<Vec<(String, f64, String)>> {
        let mut out = Vec::new();
        if let Some(path) = &self.prices {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("--prices {}: cannot read: {e}", path.display()))?;
            let table: toml::Table = toml::from_str(&text)
                .map_err(|e| anyhow::anyhow!("--prices {}: {e}", path.display()))?;
            for (gpu, v) in table {
                let usd = v.as_float().or(v.as_integer().map(|i| i as f64)).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--prices {}: {gpu} = {v}: give a number of USD per GPU-hour, e.g. {gpu} = 2.1",
                        path.display()
                    )
                })?;
                out.push((gpu, usd, format!("--prices {}", path.display())));
            }
        }
        for p in &self.price {
            let (gpu, usd) = p
                .split_once('=')
                .and_then(|(g, u)| Some((g.trim().to_string(), u.trim().parse::<f64>().ok()?)))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--price {p}: give GPU=USD per GPU-hour, e.g. --price h100-sxm=2.1"
                    )
                })?;
            out.push((gpu, usd, "--price".to_string()));
        }
        Ok(out)
    }

    /// Every override, `--rate` and `--requests` after the `--set`s.
    pub fn overrides(&self) -> Vec<crate::scenario::overrides::Override> {
        use crate::scenario::overrides::Override;
        let mut all = self.set.clone();
        all.extend(self.rate.map(|r| Override {
            key: "plan.target_rate".into(),
            value: toml::Value::Float(r),
        }));
        all.extend(self.requests.map(|n| Override {
            key: "plan.requests".into(),
            value: toml::Value::Integer(n.min(i64::MAX as u64) as i64),
        }));
        all
    }
}

fn parse_override(s: &str) -> Result<crate::scenario::overrides::Override, String> {
    crate::scenario::overrides::Override::parse(s)
}

/// `planner plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Scenario file with a [plan] table.
    pub scenario: PathBuf,
    /// Keys set on the command line.
    #[command(flatten)]
    pub set: PlanSetArgs,
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
    /// Print the answer as JSON (schema planner.plan, docs/json.md) instead of answer.md.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `planner merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The scenario file the shards ran (unchanged since).
    pub scenario: PathBuf,
    /// The keys the shards were run with (the same --set, --rate, --requests).
    #[command(flatten)]
    pub set: PlanSetArgs,
    /// The shard files (plan.shard-I-of-N.jsonl), every one of them.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Report folder (default: <output_dir>/<name>/plan from the scenario).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the answer as JSON (schema planner.plan) instead of answer.md.
    #[arg(long)]
    pub json: bool,
}

/// `planner speculate`.
#[derive(Debug, clap::Args)]
pub struct SpeculateArgs {
    /// Scenario file with an [engine.speculative] table.
    pub scenario: PathBuf,
    /// Keys set on the command line.
    #[command(flatten)]
    pub set: SetArgs,
    /// Loads to sweep, requests/s, comma-separated (default: the scenario's × 1/4 … 32).
    #[arg(long, value_delimiter = ',')]
    pub rates: Vec<f64>,
    /// Draft lengths γ to sweep, comma-separated (default: 1, 2, 4, 8 and the scenario's).
    #[arg(long, value_delimiter = ',')]
    pub gammas: Vec<u32>,
    /// Print the sweep as JSON (schema planner.speculate, docs/json.md) instead of the table.
    #[arg(long)]
    pub json: bool,
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

/// `--tables`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TablesArg {
    /// Summary, requests and iterations.
    All,
    /// The summary only.
    Summary,
    /// None (charts and index).
    None,
}

impl From<TablesArg> for crate::report::run_tables::Tables {
    fn from(t: TablesArg) -> Self {
        match t {
            TablesArg::All => Self::All,
            TablesArg::Summary => Self::Summary,
            TablesArg::None => Self::None,
        }
    }
}

impl From<TableFormatArg> for crate::report::table::TableFormat {
    fn from(f: TableFormatArg) -> Self {
        match f {
            TableFormatArg::Csv => Self::Csv,
            TableFormatArg::Parquet => Self::Parquet,
        }
    }
}
