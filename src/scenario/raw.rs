//! `RawScenario`: the scenario TOML as written, one serde struct per table, unknown keys
//! refused. [`super::Scenario::from_str`] validates it.

use serde::Deserialize;
use std::collections::BTreeMap;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// Report folder name (default: the file stem).
    pub name: Option<String>,
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
    /// `[plan]`: read by `planner plan` (`src/plan.rs`), ignored by everything else.
    pub plan: Option<toml::Value>,
}

/// `[model]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    /// Catalog name or config.json path.
    pub name: String,
    /// Weight storage type.
    pub weight_dtype: Option<String>,
}

/// `[hardware]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHardware {
    /// Catalog GPU or path.
    pub gpu: String,
    /// Tensor-parallel degree.
    pub tp: Option<i64>,
    /// Replicas.
    pub replicas: Option<i64>,
    /// A `planner bench` measured file.
    pub measured: Option<String>,
    /// round_robin | least_outstanding | prefix_affinity.
    pub router: Option<String>,
}

/// `[engine]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEngine {
    /// static | continuous | chunked_prefill.
    pub scheduler: Option<String>,
    /// Sequences.
    pub max_num_seqs: Option<i64>,
    /// Token budget.
    pub max_num_batched_tokens: Option<i64>,
    /// Tokens per block.
    pub block_size: Option<i64>,
    /// Memory fraction.
    pub gpu_memory_utilization: Option<f64>,
    /// Both K and V.
    pub kv_cache_dtype: Option<String>,
    /// K only.
    pub cache_type_k: Option<String>,
    /// V only.
    pub cache_type_v: Option<String>,
    /// recompute | swap.
    pub preemption: Option<String>,
    /// flash | standard.
    pub attention: Option<String>,
    /// Waiting-queue cap.
    pub max_queue: Option<i64>,
    /// `[engine.speculative]`.
    pub speculative: Option<RawSpeculative>,
    /// Automatic prefix caching on/off.
    pub enable_prefix_caching: Option<bool>,
    /// per_tenant | shared.
    pub prefix_cache_isolation: Option<String>,
}

/// `[engine.speculative]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpeculative {
    /// draft_model | ngram | head.
    pub method: String,
    /// Catalog name or config path of the draft model (method = draft_model).
    pub draft_model: Option<String>,
    /// γ.
    pub num_speculative_tokens: Option<i64>,
    /// α: a number, a list (one per position) or { beta = [a, b] }.
    pub acceptance: Option<RawAcceptance>,
    /// Cost of one head draft step, in target layers (method = head).
    pub head_layer_fraction: Option<f64>,
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
    /// Anything else: refused in validation with the forms it can take (serde's own
    /// message for an untagged enum names none of them).
    Other(toml::Value),
}

/// A length distribution table, tagged by `dist`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDist {
    /// fixed | uniform | normal | lognormal | zipf | empirical.
    pub dist: String,
    /// fixed.
    pub value: Option<f64>,
    /// uniform, zipf.
    pub min: Option<f64>,
    /// uniform, zipf.
    pub max: Option<f64>,
    /// normal.
    pub mean: Option<f64>,
    /// normal.
    pub std: Option<f64>,
    /// lognormal.
    pub median: Option<f64>,
    /// lognormal.
    pub sigma: Option<f64>,
    /// zipf.
    pub exponent: Option<f64>,
    /// empirical: a file of lengths.
    pub file: Option<String>,
    /// empirical: CSV column name.
    pub column: Option<String>,
}

/// `[workload]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    /// poisson | gamma | constant | trace.
    pub arrival: String,
    /// Requests per second.
    pub rate: Option<f64>,
    /// Gamma coefficient of variation.
    pub cv: Option<f64>,
    /// Requests.
    pub num_requests: Option<i64>,
    /// Seconds.
    pub duration_s: Option<f64>,
    /// Trace file.
    pub trace: Option<String>,
    /// mooncake | azure.
    pub trace_format: Option<String>,
    /// Replay speed-up.
    pub time_scale: Option<f64>,
    /// Prompt clamp.
    pub max_prompt_tokens: Option<i64>,
    /// Output clamp.
    pub max_output_tokens: Option<i64>,
    /// Prompt lengths.
    pub prompt: Option<RawDist>,
    /// Output lengths.
    pub output: Option<RawDist>,
    /// Tenants: `[[workload.tenants]]` tables.
    pub tenants: Option<Vec<RawTenant>>,
    /// `[workload.rag]`.
    pub rag: Option<RawRag>,
    /// `[workload.few_shot]`.
    pub few_shot: Option<RawFewShot>,
    /// `[workload.sessions]`.
    pub sessions: Option<RawSessions>,
    /// Skip malformed trace lines instead of refusing the trace.
    pub lenient: Option<bool>,
}

/// `[workload.sessions]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSessions {
    /// Turns per conversation.
    pub turns: Option<RawDist>,
    /// Mean seconds between turns.
    pub think_time_s: f64,
    /// What the think time counts from: "answer" (closed loop, the default) or "arrival".
    pub think_from: Option<String>,
}

/// `[[workload.tenants]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTenant {
    /// Name.
    pub name: String,
    /// Share of requests.
    pub share: f64,
    /// System prompt length.
    pub system_prompt_tokens: Option<i64>,
    /// Distinct system prompts.
    pub system_prompts: Option<i64>,
}

/// `[workload.rag]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRag {
    /// Corpus size.
    pub documents: i64,
    /// Zipf exponent.
    pub zipf: Option<f64>,
    /// Documents per request.
    pub per_request: i64,
    /// Document lengths.
    pub document_tokens: Option<RawDist>,
}

/// `[workload.few_shot]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFewShot {
    /// Templates.
    pub templates: i64,
    /// Tokens per template.
    pub template_tokens: i64,
}

/// `[slo]`: metric → percentile ("p50", "p90", "p99") → milliseconds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlo {
    /// Time to first token.
    pub ttft_ms: Option<BTreeMap<String, f64>>,
    /// Time per output token.
    pub tpot_ms: Option<BTreeMap<String, f64>>,
    /// End to end.
    pub e2e_ms: Option<BTreeMap<String, f64>>,
    /// `[slo.tenants.<name>]`: targets for one tenant's requests only.
    pub tenants: Option<BTreeMap<String, RawTenantSlo>>,
}

/// `[slo.tenants.<name>]`: the same metrics as `[slo]`, for one tenant.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTenantSlo {
    /// Time to first token.
    pub ttft_ms: Option<BTreeMap<String, f64>>,
    /// Time per output token.
    pub tpot_ms: Option<BTreeMap<String, f64>>,
    /// End to end.
    pub e2e_ms: Option<BTreeMap<String, f64>>,
}
