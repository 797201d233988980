//! `RawScenario`: the scenario TOML as written, one serde struct per table, unknown keys
//! refused. Values with a fixed set of names deserialize straight into their enums, length
//! distributions into a `dist`-tagged enum, and every value a rule checks keeps its place in
//! the file ([`Sp`]), so an error names its line. [`super::lower`] turns it into a
//! [`super::Scenario`].

use crate::kv::Isolation;
use crate::serving::config::{AttentionKernel, CapacityPolicy, Preemption, Router, SchedulerKind};
use crate::workload::TraceFormat;
use serde::Deserialize;
use std::collections::BTreeMap;

/// A value with its byte span in the file.
pub type Sp<T> = toml::Spanned<T>;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// Report folder name (default: the file stem).
    pub name: Option<Sp<String>>,
    /// Random seed.
    #[serde(default)]
    pub seed: u64,
    /// Report root (default "reports").
    pub output_dir: Option<String>,
    /// `[model]`.
    pub model: RawModel,
    /// `[hardware]`.
    pub hardware: RawHardware,
    /// `[engine]`.
    #[serde(default)]
    pub engine: RawEngine,
    /// `[workload]`.
    pub workload: RawWorkload,
    /// `[slo]`.
    #[serde(default)]
    pub slo: RawSlo,
    /// `[tenants.<name>]`: one tenant's limits and place in the scheduling.
    pub tenants: Option<BTreeMap<String, Sp<RawTenantPolicy>>>,
    /// `[plan]`: read by `planner plan` (`src/plan.rs`), ignored by everything else.
    pub plan: Option<toml::Value>,
}

/// `[model]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    /// Catalog name or config.json path.
    pub name: Sp<String>,
    /// Weight storage type.
    pub weight_dtype: Option<Sp<String>>,
}

/// `[hardware]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHardware {
    /// Catalog GPU or path.
    pub gpu: Sp<String>,
    /// Tensor-parallel degree.
    pub tp: Option<Sp<i64>>,
    /// Replicas.
    pub replicas: Option<Sp<i64>>,
    /// A `planner bench` measured file.
    pub measured: Option<Sp<String>>,
    /// How arrivals are spread over replicas.
    pub router: Option<Router>,
    /// The GPU's price per hour, USD (instead of the catalog's).
    pub usd_per_hour: Option<Sp<f64>>,
}

/// `[engine]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEngine {
    /// Whose rules: vllm, vllm-v0, sglang, trtllm, llama.cpp.
    pub kind: Option<Sp<String>>,
    /// SGLang's mem_fraction_static.
    pub mem_fraction_static: Option<Sp<f64>>,
    /// TensorRT-LLM's kv_cache_free_gpu_mem_fraction.
    pub kv_cache_free_gpu_mem_fraction: Option<Sp<f64>>,
    /// TensorRT-LLM's capacity scheduler policy.
    pub capacity_scheduler_policy: Option<CapacityPolicy>,
    /// SGLang's schedule_conservativeness.
    pub schedule_conservativeness: Option<Sp<f64>>,
    /// Batching policy.
    pub scheduler: Option<SchedulerKind>,
    /// Sequences.
    pub max_num_seqs: Option<Sp<i64>>,
    /// Token budget.
    pub max_num_batched_tokens: Option<Sp<i64>>,
    /// Tokens per block.
    pub block_size: Option<Sp<i64>>,
    /// Memory fraction.
    pub gpu_memory_utilization: Option<Sp<f64>>,
    /// Both K and V.
    pub kv_cache_dtype: Option<Sp<String>>,
    /// K only.
    pub cache_type_k: Option<Sp<String>>,
    /// V only.
    pub cache_type_v: Option<Sp<String>>,
    /// Preemption mode.
    pub preemption: Option<Preemption>,
    /// Prefill attention kernel.
    pub attention: Option<AttentionKernel>,
    /// Waiting-queue cap.
    pub max_queue: Option<Sp<i64>>,
    /// Longest prompt + output served (vLLM `--max-model-len`, llama.cpp `-c`).
    pub max_model_len: Option<Sp<i64>>,
    /// `[engine.speculative]`.
    pub speculative: Option<Sp<RawSpeculative>>,
    /// Automatic prefix caching on/off.
    pub enable_prefix_caching: Option<bool>,
    /// Who may share cached blocks.
    pub prefix_cache_isolation: Option<Isolation>,
    /// Schedule one step ahead of the GPU.
    pub async_scheduling: Option<bool>,
    /// Clear blocks reused across tenants.
    pub scrub_freed_blocks: Option<bool>,
    /// Longest wait to be scheduled before the server sheds a request, ms.
    pub max_queue_wait_ms: Option<Sp<f64>>,
    /// Order across tenants.
    pub tenant_scheduling: Option<Sp<crate::serving::tenancy::TenantScheduling>>,
    /// API server time before the scheduler sees a request, ms.
    pub api_in_ms: Option<Sp<f64>>,
    /// API server time after a token is sampled, ms.
    pub api_out_ms: Option<Sp<f64>>,
    /// LoRA on (`--enable-lora`); implied by a tenant's `lora`.
    pub enable_lora: Option<Sp<bool>>,
    /// Adapter slots on the GPU, the most distinct adapters in a batch.
    pub max_loras: Option<Sp<i64>>,
    /// The slots' rank.
    pub max_lora_rank: Option<Sp<i64>>,
    /// Adapters kept in host memory.
    pub max_cpu_loras: Option<Sp<i64>>,
}

/// `[engine.speculative]` `method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawSpecMethod {
    /// A smaller model drafts.
    DraftModel,
    /// Prompt-lookup n-grams draft.
    Ngram,
    /// Extra heads on the target (EAGLE, Medusa, MTP).
    Head,
}

/// `[engine.speculative]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpeculative {
    /// How drafts are made.
    pub method: RawSpecMethod,
    /// Catalog name or config path of the draft model (method = draft_model).
    pub draft_model: Option<Sp<String>>,
    /// γ.
    pub num_speculative_tokens: Option<Sp<i64>>,
    /// α: a number, a list (one per position) or { beta = [a, b] }.
    pub acceptance: Option<Sp<RawAcceptance>>,
    /// Cost of one head draft step, in target layers (method = head).
    pub head_layer_fraction: Option<Sp<f64>>,
}

/// `acceptance = 0.7`, `[0.9, 0.8, 0.6]` or `{ beta = [7, 3] }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawAcceptance {
    /// Constant α.
    Constant(f64),
    /// α per position.
    Curve(Vec<f64>),
    /// Per-request α ~ Beta(a, b).
    Beta {
        /// [a, b].
        beta: Vec<f64>,
    },
    /// Anything else: refused when lowering with the forms it can take (serde's own
    /// message for an untagged enum names none of them).
    Other(toml::Value),
}

/// A length distribution table, tagged by `dist`. Numbers are read as written (floats) and
/// range-checked when lowered.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
pub enum RawDist {
    /// Always `value`.
    Fixed {
        /// The length.
        value: f64,
    },
    /// Uniform on `min..=max`.
    Uniform {
        /// Smallest.
        min: f64,
        /// Largest.
        max: f64,
    },
    /// Normal, rounded and clamped.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// Log-normal by its median.
    Lognormal {
        /// Median.
        median: f64,
        /// σ of the log.
        sigma: f64,
    },
    /// Zipf on `min..=max`.
    Zipf {
        /// Smallest.
        min: f64,
        /// Largest.
        max: f64,
        /// Exponent.
        exponent: f64,
    },
    /// Drawn from the numbers in a file.
    Empirical {
        /// One number per line, or a CSV with `column`.
        file: String,
        /// CSV column name.
        column: Option<String>,
    },
}

/// `[workload]` `arrival`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawArrival {
    /// Poisson arrivals at `rate`.
    Poisson,
    /// Gamma-distributed gaps with coefficient of variation `cv`.
    Gamma,
    /// Evenly spaced at `rate`.
    Constant,
    /// Everything at time 0.
    Offline,
    /// A closed loop of `concurrency` clients.
    Concurrency,
    /// Replay of `trace`.
    Trace,
}

impl RawArrival {
    /// The name as written.
    pub fn name(self) -> &'static str {
        match self {
            RawArrival::Poisson => "poisson",
            RawArrival::Gamma => "gamma",
            RawArrival::Constant => "constant",
            RawArrival::Offline => "offline",
            RawArrival::Concurrency => "concurrency",
            RawArrival::Trace => "trace",
        }
    }
}

/// `[workload]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    /// Arrival process.
    pub arrival: Sp<RawArrival>,
    /// Requests per second.
    pub rate: Option<Sp<f64>>,
    /// Gamma coefficient of variation.
    pub cv: Option<Sp<f64>>,
    /// Clients of a closed loop.
    pub concurrency: Option<Sp<i64>>,
    /// Multi-stage load: `[{ rate, duration_s }, …]`, one after another.
    pub stages: Option<Sp<Vec<RawStage>>>,
    /// Requests.
    pub num_requests: Option<Sp<i64>>,
    /// Seconds.
    pub duration_s: Option<Sp<f64>>,
    /// Trace file.
    pub trace: Option<Sp<String>>,
    /// Trace format.
    pub trace_format: Option<Sp<TraceFormat>>,
    /// Replay speed-up.
    pub time_scale: Option<Sp<f64>>,
    /// Prompt clamp.
    pub max_prompt_tokens: Option<Sp<i64>>,
    /// Output clamp.
    pub max_output_tokens: Option<Sp<i64>>,
    /// Prompt lengths.
    pub prompt: Option<Sp<RawDist>>,
    /// Output lengths.
    pub output: Option<Sp<RawDist>>,
    /// Tenants: `[[workload.tenants]]` tables.
    pub tenants: Option<Sp<Vec<RawTenant>>>,
    /// `[workload.rag]`.
    pub rag: Option<Sp<RawRag>>,
    /// `[workload.few_shot]`.
    pub few_shot: Option<Sp<RawFewShot>>,
    /// `[workload.sessions]`.
    pub sessions: Option<Sp<RawSessions>>,
    /// Skip malformed trace lines instead of refusing the trace.
    pub lenient: Option<bool>,
    /// Seconds a client waits to be scheduled: a number, or `{ mean = s }` (exponential).
    pub patience_s: Option<Sp<RawPatience>>,
    /// Seconds a client waits for the whole answer before it disconnects.
    pub timeout_s: Option<Sp<f64>>,
}

/// `patience_s = 30` or `{ mean = 30 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawPatience {
    /// Every client the same.
    Fixed(f64),
    /// Exponential with this mean.
    Exponential {
        /// Mean seconds.
        mean: f64,
    },
    /// Anything else: refused when lowering with the forms it can take.
    Other(toml::Value),
}

/// One stage of `workload.stages`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    /// Requests per second.
    pub rate: f64,
    /// Seconds.
    pub duration_s: f64,
}

/// `[workload.sessions]` `think_from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawThinkFrom {
    /// Closed loop: the next turn comes a think time after the previous answer ends.
    Answer,
    /// Open loop: a think time after the previous turn arrived.
    Arrival,
}

/// `[workload.sessions]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSessions {
    /// Turns per conversation.
    pub turns: Option<Sp<RawDist>>,
    /// Mean seconds between turns.
    pub think_time_s: Sp<f64>,
    /// What the think time counts from.
    pub think_from: Option<RawThinkFrom>,
}

/// `[[workload.tenants]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTenant {
    /// Name.
    pub name: Sp<String>,
    /// Share of requests.
    pub share: Option<Sp<f64>>,
    /// Its own request rate (every tenant then sends its own stream).
    pub rate: Option<Sp<f64>>,
    /// Its own burstiness: gamma gaps with this coefficient of variation.
    pub cv: Option<Sp<f64>>,
    /// Its own question lengths.
    pub prompt: Option<Sp<RawDist>>,
    /// Its own output lengths.
    pub output: Option<Sp<RawDist>>,
    /// System prompt length.
    pub system_prompt_tokens: Option<Sp<i64>>,
    /// Distinct system prompts.
    pub system_prompts: Option<Sp<i64>>,
}

/// `[tenants.<name>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTenantPolicy {
    /// Fair-share weight.
    pub weight: Option<Sp<f64>>,
    /// Priority class (lower first).
    pub priority: Option<Sp<i64>>,
    /// Requests per second: `{ rate, burst }`.
    pub rate_limit: Option<Sp<RawBucket>>,
    /// Tokens per second: `{ rate, burst }`.
    pub token_rate_limit: Option<Sp<RawBucket>>,
    /// Over a rate limit: reject or delay.
    pub on_limit: Option<crate::serving::tenancy::OnLimit>,
    /// Most running sequences.
    pub max_num_seqs: Option<Sp<i64>>,
    /// Most queued requests.
    pub max_queue: Option<Sp<i64>>,
    /// Most prompt tokens per step.
    pub max_prefill_tokens: Option<Sp<i64>>,
    /// Most KV blocks its running sequences hold.
    pub max_kv_blocks: Option<Sp<i64>>,
    /// Share of the KV blocks its cached prefixes may keep before they are evicted first.
    pub prefix_cache_share: Option<Sp<f64>>,
    /// Its fine-tuned models as LoRA adapters: `{ rank, targets, adapters }`.
    pub lora: Option<Sp<RawLora>>,
}

/// `{ rank, targets, adapters }` of a tenant's LoRA adapters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLora {
    /// LoRA rank.
    pub rank: i64,
    /// Modules adapted (PEFT names, or "all-linear").
    pub targets: Option<Vec<String>>,
    /// Distinct adapters its requests spread over.
    pub adapters: Option<i64>,
}

/// `{ rate, burst }` of a token bucket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBucket {
    /// Refill per second.
    pub rate: f64,
    /// Capacity (default: one second's worth, at least 1).
    pub burst: Option<f64>,
}

/// `[workload.rag]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRag {
    /// Corpus size.
    pub documents: Sp<i64>,
    /// Zipf exponent.
    pub zipf: Option<Sp<f64>>,
    /// Documents per request.
    pub per_request: Sp<i64>,
    /// Document lengths.
    pub document_tokens: Option<Sp<RawDist>>,
}

/// `[workload.few_shot]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFewShot {
    /// Templates.
    pub templates: Sp<i64>,
    /// Tokens per template.
    pub template_tokens: Sp<i64>,
}

/// Percentile → milliseconds, as written (`{ p90 = 500 }`).
pub type RawPercentiles = Option<Sp<BTreeMap<String, f64>>>;

/// `[slo]`: metric → percentile ("p50", "p90", "p99") → milliseconds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlo {
    /// Time to first token.
    pub ttft_ms: RawPercentiles,
    /// Time per output token.
    pub tpot_ms: RawPercentiles,
    /// End to end.
    pub e2e_ms: RawPercentiles,
    /// `[slo.tenants.<name>]`: targets for one tenant's requests only.
    pub tenants: Option<BTreeMap<String, RawTenantSlo>>,
}

/// `[slo.tenants.<name>]`: the same metrics as `[slo]`, for one tenant.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTenantSlo {
    /// Time to first token.
    pub ttft_ms: RawPercentiles,
    /// Time per output token.
    pub tpot_ms: RawPercentiles,
    /// End to end.
    pub e2e_ms: RawPercentiles,
}
