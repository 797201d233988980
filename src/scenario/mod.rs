//! Scenarios: one TOML file says what to simulate.
//!
//! ```text
//! text ──toml──► raw::RawScenario (serde mirror: enums, dist-tagged lengths, spans)
//!      ──lower::Files::read──► the files it names (empirical lengths; does the trace exist?)
//!      ──lower::lower(raw, &Catalog, &Files)──► Scenario (names resolved, units, rules)
//! ```
//!
//! Lowering is pure but for catalog lookups. Errors name the file, the line, the dotted key,
//! the value and the fix: `scenarios/x.toml:12: engine.block_size = 0: must be a power of
//! two in 1..=256`; the toml crate's own errors (unknown keys, wrong types, unknown names)
//! are put in the same form ([`ScenarioError::from_toml`]).
//!
//! Paths: every path-valued key (`model.name`, `hardware.gpu` and `draft_model` when they are
//! paths, `hardware.measured`, `trace`, an empirical length `file`) is relative to the
//! scenario file's folder, or absolute. Names resolve in the catalogs
//! ([`crate::catalog::Catalog`]: `--models-dir`/`--hardware-dir`, then the built-ins).
//!
//! Every key, with its default:
//!
//! ```toml
//! name = "rag"              # report folder name (default: the file stem)
//! seed = 42                 # seeds every random stream (default 0)
//! output_dir = "reports"    # report root (default "reports")
//!
//! [model]
//! name = "llama-3.1-8b"     # catalog name (`planner catalog`) or a path to a config.json
//! weight_dtype = "bf16"     # bf16 | fp16 | fp8 | int8 | int4 | int4-g64 | nvfp4 | mxfp4 | nf4 |
//!                           # a GGUF type (q4_k_m, q8_0, …). Default: the checkpoint's
//!                           # quantization_config, else its torch_dtype (fp16 or bf16)
//!
//! [hardware]
//! gpu = "h100-sxm"          # catalog name (`planner catalog`) or a path to a GPU .toml
//! tp = 1                    # tensor-parallel degree; must divide the attention and KV heads
//! replicas = 1              # engine replicas, 1..=4096
//! measured = "../hardware/measured/nvidia-h100-80gb-hbm3.toml"   # optional `planner bench` file
//! router = "round_robin"    # round_robin | least_outstanding | prefix_affinity (replicas > 1)
//! usd_per_hour = 2.1        # the GPU's price per hour (default: its catalog file's assumption;
//!                           # `plan --price h100-sxm=2.1` or `--prices FILE` override both)
//!
//! [engine]                  # every key optional; defaults are EngineConfig::default() (vLLM's)
//! kind = "vllm"                   # vllm | vllm-v0 | sglang | trtllm | llama.cpp: whose memory
//!                                 # rules size the KV cache, whose admission and preemption
//!                                 # rules schedule (src/serving/batcher/), and whose kernels
//!                                 # price FP8 attention and weight-only fallbacks
//! mem_fraction_static = 0.88      # sglang only; default: SGLang's rule for the GPU and TP
//! schedule_conservativeness = 1.0 # sglang only: scales its initial new-token ratio (0.7)
//! kv_cache_free_gpu_mem_fraction = 0.9   # trtllm only
//! capacity_scheduler_policy = "guaranteed_no_evict"   # trtllm only: | max_utilization
//! scheduler = "chunked_prefill"   # static | continuous | chunked_prefill
//! max_num_seqs = 256              # 1..=65536 (trtllm: 2048; llama.cpp: -np, 1)
//! max_num_batched_tokens = 8192   # token budget per iteration (llama.cpp: -b, 2048; sglang:
//!                                 # chunked_prefill_size); static and continuous need
//!                                 # at least workload.max_prompt_tokens (no chunking)
//! block_size = 16                 # tokens per KV block: a power of two in 1..=256
//! gpu_memory_utilization = 0.9    # in (0, 1]
//! kv_cache_dtype = "auto"         # K and V alike; auto = the model's torch_dtype (fp16 if
//!                                 # float16, else bf16). Or set cache_type_k / cache_type_v
//!                                 # separately (llama.cpp names: f16, q8_0, q4_0, …), not both:
//! # cache_type_k = "q8_0"         # K only (llama.cpp --cache-type-k)
//! # cache_type_v = "q4_0"         # V only (llama.cpp --cache-type-v)
//! preemption = "recompute"        # recompute | swap
//! attention = "flash"             # flash | standard (prefill kernel)
//! max_queue = 0                   # waiting requests beyond this are rejected; 0 = unbounded
//! max_model_len = 32768           # longest prompt + output served; longer requests are refused
//!                                 # (vLLM --max-model-len: vLLM refuses to start when one
//!                                 # request this long cannot fit in its KV cache; llama.cpp -c,
//!                                 # its whole KV cache over the -np slots). Default: the
//!                                 # model's maximum
//! scrub_freed_blocks = false      # clear a KV block before another tenant gets it (a memset
//!                                 # at memory bandwidth, charged to the step)
//! max_queue_wait_ms = 30000       # optional: shed a request not scheduled this long after it
//!                                 # reached the scheduler (rejected_queue_timeout)
//! enable_prefix_caching = true    # reuse cached KV blocks of shared prefixes (vLLM V1 default)
//! prefix_cache_isolation = "per_tenant"   # per_tenant (cache_salt per tenant) | shared
//! async_scheduling = true         # schedule step N+1 while step N runs (a new request joins
//!                                 # a step later): vLLM ≥ 0.14, SGLang's overlap scheduler,
//!                                 # TensorRT-LLM 1.x default; false for vllm-v0, llama.cpp
//! tenant_scheduling = "fifo"      # order across tenants: fifo | fair (VTC, by weight) |
//!                                 # priority (vLLM's, preempting worse priorities)
//! api_in_ms = 1.85                # API server before the scheduler sees a request (HTTP,
//!                                 # tokenization, IPC); in the client's TTFT and E2E
//! api_out_ms = 1.85               # API server after a token is sampled (detokenize, stream)
//! enable_lora = true              # LoRA adapters (vLLM --enable-lora); on when a tenant has lora
//! max_loras = 1                   # adapter slots on the GPU = most distinct adapters in a batch
//! max_lora_rank = 16              # the slots' rank: 1, 8, 16, 32, 64, 128, 256, 320 or 512
//! max_cpu_loras = 1               # adapters kept in host memory (≥ max_loras; default max_loras)
//!
//! [engine.speculative]            # optional: speculative decoding (not with static batching)
//! method = "draft_model"          # draft_model | ngram | head
//! draft_model = "llama-3.2-1b"    # draft_model only: smaller, same vocabulary
//! head_layer_fraction = 1.0       # head only: one draft step's cost in target layers
//! num_speculative_tokens = 4      # γ, 1..=16
//! acceptance = 0.7                # α in [0, 1]; or [0.9, 0.8, 0.6] per position; or
//!                                 # { beta = [7, 3] }: each request draws α ~ Beta(7, 3)
//!
//! [workload]
//! arrival = "poisson"       # poisson | gamma | constant | offline (all at t = 0, like
//!                           # trtllm-bench) | concurrency (closed loop) | trace
//! rate = 10.0               # requests per second (poisson, gamma, constant)
//! concurrency = 16          # concurrency only: clients, each sending its next request
//!                           # when its previous one ends (vllm bench --max-concurrency)
//! stages = [{ rate = 5, duration_s = 600 }, { rate = 10, duration_s = 600 }]
//!                           # multi-stage load (poisson or constant within each stage),
//!                           # instead of rate; the run lasts their total duration
//! cv = 2.0                  # gamma only: coefficient of variation of the gaps (default 1)
//! num_requests = 1000       # stop after this many (≤ MAX_REQUESTS) …
//! duration_s = 60.0         # … and/or at the first arrival at or after this; synthetic
//!                           # workloads need at least one, a trace ends by itself
//! trace = "../data/traces/mooncake_conversation_trace.jsonl"   # arrival = "trace"
//! trace_format = "mooncake" # mooncake (JSONL) | azure (CSV) | requests (a measured run's
//!                           # per-request JSONL: input_toks, output_toks, queued_ts in s);
//!                           # default mooncake
//! time_scale = 1.0          # > 1 replays the trace faster
//! lenient = false           # true: skip malformed trace lines (counted in the summary)
//! patience_s = { mean = 20 }   # optional: a client cancels a request not scheduled within
//!                           # its patience (cancelled_by_client): a number of seconds for
//!                           # every client, or { mean = s } exponential per request
//! timeout_s = 60            # optional: a client disconnects from a request not answered
//!                           # in full this long after sending it; the server aborts it,
//!                           # queued or running, and frees its KV (timed_out_by_client)
//! max_prompt_tokens = 32768 # prompts are clamped to this (default: the model's
//!                           # max_position_embeddings − max_output_tokens); the summary
//!                           # counts the clamped ones (prompts_clamped)
//! max_output_tokens = 4096  # outputs are clamped to this (default: 4096, or less so that
//!                           # prompt + output fit max_position_embeddings, which they must;
//!                           # counted as outputs_clamped)
//! prompt = { dist = "lognormal", median = 2000, sigma = 0.6 }
//! output = { dist = "fixed", value = 128 }
//! # dist: fixed{value} | uniform{min, max} | normal{mean, std} | lognormal{median, sigma}
//! #       | zipf{min, max, exponent} | empirical{file, column}: one number per line, or the
//! #       CSV column named `column` (a header row), path relative like `trace`, e.g.
//! # prompt = { dist = "normal", mean = 800, std = 200 }
//! # prompt = { dist = "zipf", min = 16, max = 8192, exponent = 1.2 }
//! # prompt = { dist = "empirical", file = "../data/lengths.csv", column = "input_tokens" }
//! # Prefix sharing (synthetic workloads; `prompt` is then the length of each new question):
//!
//! [[workload.tenants]]      # one table per tenant; requests pick a tenant by share
//! name = "acme"
//! share = 0.6
//! system_prompt_tokens = 1200   # default 0
//! system_prompts = 2            # distinct system prompts, picked uniformly (default 1)
//! # Or every tenant its own traffic (instead of share and workload.rate; not with sessions):
//! # rate = 2.0                  # its requests/s, in the workload's arrival kind
//! # cv = 4.0                    # its own burstiness (gamma gaps)
//! # prompt = { dist = ... }     # its own question / output lengths (default: the workload's)
//! # output = { dist = ... }
//!
//! [workload.few_shot]       # prompt templates shared by everyone
//! templates = 4
//! template_tokens = 800
//!
//! [workload.rag]            # retrieved documents, after the system prompt and template
//! documents = 20000         # corpus size
//! zipf = 1.1                # popularity exponent (default 1)
//! per_request = 3           # distinct documents per prompt
//! document_tokens = { dist = "lognormal", median = 500, sigma = 0.4 }
//!
//! [workload.sessions]       # multi-turn: the arrival process starts conversations, each
//! turns = { dist = "uniform", min = 1, max = 8 }   # turn's prompt the conversation so far
//! think_time_s = 30.0       # mean (exponential) gap between a turn and the next
//! think_from = "answer"     # answer (closed loop: the gap starts when the previous answer
//!                           # ends; default) | arrival (open loop: when the previous turn came)
//!
//! [tenants.acme]            # optional, per tenant of [[workload.tenants]] (src/serving/tenancy.rs)
//! weight = 2.0              # fair share (engine.tenant_scheduling = "fair"), default 1
//! priority = 0              # lower runs first ("priority"), default 0
//! rate_limit = { rate = 2.0, burst = 4 }          # requests/s at the gateway
//! token_rate_limit = { rate = 20000, burst = 40000 }   # prompt + output tokens/s
//! on_limit = "reject"       # over a rate limit: reject (HTTP 429) | delay (held until it fits)
//! max_num_seqs = 32         # most of its sequences running at once
//! max_queue = 100           # most of its requests waiting; more are refused
//! max_prefill_tokens = 2048 # most of its prompt tokens in one step (chunked prefill)
//! max_kv_blocks = 4000      # most KV blocks its running sequences hold (it preempts its own
//!                           # newest to grow; its requests wait)
//! prefix_cache_share = 0.25 # its cached prefixes beyond this share of the KV blocks are the
//!                           # first evicted (per_tenant isolation only)
//! lora = { rank = 16, targets = ["q_proj", "v_proj"], adapters = 8 }
//!                           # its fine-tunes as LoRA adapters (targets: PEFT module names or
//!                           # "all-linear"; default q/k/v/o_proj), its requests spread evenly
//!                           # over `adapters` of them (src/serving/lora.rs)
//!
//! [slo]                     # optional; each metric a table of percentile = milliseconds
//! ttft_ms = { p90 = 500 }   # percentiles: p50, p90, p99
//! tpot_ms = { p90 = 50 }
//! e2e_ms = { p99 = 20000 }
//! [slo.tenants.chat]        # optional: targets for one tenant's requests (a name from
//! ttft_ms = { p90 = 300 }   # [[workload.tenants]]; an unknown name is refused)
//!
//! [plan]                    # `planner plan` only (src/plan/mod.rs)
//! target_rate = 3.0         # requests/s to sustain within [slo] (default: workload.rate)
//! seeds = [42, 43, 44]      # each configuration searched per seed (default: seed)
//! requests = 1000           # per simulation (default: workload.num_requests)
//! bisect_steps = 5          # 0..=20 after bracketing the capacity
//! cost_model_error = 0.071  # optional: each verdict also judged ±this on every iteration
//! max_configs = 1000        # grids larger than this are refused (up to the hard cap)
//! max_replicas = 64         # the largest fleet derived per configuration
//! [plan.axes]               # any scenario key: a list, one value, or { from, to, step }
//! "hardware.gpu" = ["h100-sxm", "l40s"]
//! "hardware.tp" = [1, 2]
//! ```

pub mod error;
pub mod lower;
pub mod overrides;
pub mod raw;
#[cfg(test)]
mod tests;
pub use error::{ScenarioError, line_of};

use crate::catalog::Catalog;
use crate::hardware::GpuSpec;
use crate::model::{Model, Precision};
use crate::serving::config::EngineConfig;
use crate::workload::WorkloadSpec;
use std::path::{Path, PathBuf};

/// Largest `workload.num_requests` a scenario may ask for, a guard against a typo that would
/// run for hours; raise this constant to go further.
pub use crate::workload::MAX_REQUESTS;

/// An SLO metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SloMetric {
    /// Time to first token.
    Ttft,
    /// Time per output token.
    Tpot,
    /// End to end.
    E2e,
}

impl SloMetric {
    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            SloMetric::Ttft => "ttft",
            SloMetric::Tpot => "tpot",
            SloMetric::E2e => "e2e",
        }
    }
}

/// One latency target: the given percentile of the metric at most `limit_ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SloTarget {
    /// Metric.
    pub metric: SloMetric,
    /// 50, 90 or 99.
    pub percentile: f64,
    /// Milliseconds.
    pub limit_ms: f64,
    /// Only this tenant's requests (an index into `workload.sharing.tenants`); `None`: all.
    pub tenant: Option<u32>,
}

/// Latency targets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Slo {
    /// Targets.
    pub targets: Vec<SloTarget>,
}

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Report folder name.
    pub name: String,
    /// Source file.
    pub path: PathBuf,
    /// Random seed.
    pub seed: u64,
    /// Report root.
    pub output_dir: PathBuf,
    /// Model.
    pub model: Model,
    /// How the weights are stored, and where that came from.
    pub precision: Precision,
    /// GPU.
    pub gpu: GpuSpec,
    /// Tensor parallel degree.
    pub tp: u32,
    /// Replicas.
    pub replicas: u32,
    /// Measured bench file for the cost model.
    pub measured: Option<PathBuf>,
    /// Engine.
    pub engine: EngineConfig,
    /// How arrivals are spread over replicas.
    pub router: crate::serving::config::Router,
    /// The draft model of speculative decoding (`method = "draft_model"`).
    pub draft: Option<Model>,
    /// Workload.
    pub workload: WorkloadSpec,
    /// Targets.
    pub slo: Slo,
}

impl Scenario {
    /// Read and validate a scenario file, resolving model and GPU names in `catalog`.
    pub fn load(path: &Path, catalog: &Catalog) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|error| ScenarioError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Scenario::from_str(&text, path, catalog)
    }

    /// Validate scenario text (`path` names it in errors and anchors relative paths): parse,
    /// read the files it names, lower.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str, path: &Path, catalog: &Catalog) -> Result<Scenario, ScenarioError> {
        let raw: raw::RawScenario =
            toml::from_str(text).map_err(|e| ScenarioError::from_toml(&e, text, path))?;
        let files = lower::Files::read(&raw, path.parent().unwrap_or(Path::new("")));
        lower::lower(&raw, text, path, catalog, &files)
    }
}
