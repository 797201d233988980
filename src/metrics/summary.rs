//! What a run ends with, as typed data ([`RunSummary`]), and its one renderer into the
//! `metric,value` summary table and the one-screen text: the figures are computed once, in
//! [`super::recorder`], and read by plans, sweeps and tests as fields, never parsed back
//! from text.

use super::Quantiles;
use crate::kv::{CacheDtype, Isolation};
use crate::scenario::SloMetric;
use crate::serving::config::{Router, SchedulerKind};
use std::fmt::Write as _;
use std::path::PathBuf;

/// One SLO target judged.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SloVerdict {
    /// The metric.
    pub metric: SloMetric,
    /// 50, 90 or 99.
    pub percentile: f64,
    /// Only this tenant's requests (its name); `None`: all.
    pub tenant: Option<String>,
    /// The measured percentile, milliseconds.
    pub measured_ms: f64,
    /// The limit, milliseconds.
    pub limit_ms: f64,
    /// Whether the measured value is within the limit.
    pub met: bool,
}

impl SloVerdict {
    /// Its name in reports: `ttft_p90`, or `tenant_chat_ttft_p90`.
    pub fn name(&self) -> String {
        let who = self
            .tenant
            .as_ref()
            .map_or(String::new(), |t| format!("tenant_{t}_"));
        format!("{who}{}_p{}", self.metric.name(), self.percentile as u32)
    }
}

/// Prefix caching's effect over the run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PrefixSummary {
    /// Who may share cached blocks.
    pub isolation: Isolation,
    /// Prompt tokens admitted (first prefills and recomputes).
    pub lookup_tokens: u64,
    /// Of those, found in the cache.
    pub hit_tokens: u64,
    /// Prefill FLOPs the hits saved (attention excluded), TFLOP.
    pub tflop_saved: f64,
    /// Cached blocks evicted.
    pub evicted_blocks: u64,
    /// Blocks cached when the run ended.
    pub blocks_at_end: u64,
}

impl PrefixSummary {
    /// Hit rate by tokens.
    pub fn hit_rate(&self) -> f64 {
        self.hit_tokens as f64 / self.lookup_tokens.max(1) as f64
    }
}

/// One tenant's figures (finished requests).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TenantSummary {
    /// Name.
    pub name: String,
    /// Requests finished.
    pub requests: u64,
    /// Requests refused.
    pub rejected: u64,
    /// Of those, by the tenant's rate limits or queue cap.
    pub limited: u64,
    /// Prompt tokens found cached / prompt tokens.
    pub prefix_hit_rate: f64,
    /// TTFT, seconds.
    pub ttft: Quantiles,
    /// TPOT, seconds.
    pub tpot: Quantiles,
    /// Its cached prefix blocks evicted to make room for other tenants (set by the
    /// simulation at the end).
    pub prefix_blocks_lost: u64,
}

/// Arrivals that outran the service.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Overload {
    /// Requests per second that arrived (those refused by their tenant's own limits aside).
    pub offered_rps: f64,
    /// Requests per second completed: about the capacity at these lengths.
    pub served_rps: f64,
    /// Seconds the queue took to drain after the last arrival.
    pub drain_s: f64,
}

/// LoRA adapters over the run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LoraSummary {
    /// Adapter slots on the GPU.
    pub max_loras: u32,
    /// The slots' rank.
    pub max_lora_rank: u32,
    /// Distinct adapters the tenants have.
    pub adapters: u32,
    /// GiB per GPU the slots reserve (set by the simulation).
    pub reserved_gib: f64,
    /// Adapters copied into a GPU slot (set by the simulation).
    pub loads: u64,
    /// Of those, not in host memory either (set by the simulation).
    pub host_misses: u64,
    /// Seconds of LoRA work: loads and kernels.
    pub seconds: f64,
    /// Steps with LoRA work.
    pub steps: u64,
    /// All steps.
    pub iterations: u64,
}

/// Speculative decoding over the run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SpecSummary {
    /// `draft_model`, `ngram` or `head`.
    pub method: &'static str,
    /// The draft model's name (method `draft_model`).
    pub draft_model: Option<String>,
    /// γ.
    pub num_tokens: u32,
    /// The acceptance model's mean α.
    pub mean_alpha: f64,
    /// Draft tokens proposed.
    pub drafted: u64,
    /// Draft tokens accepted.
    pub accepted: u64,
    /// Verifications (each yields accepted + 1 tokens).
    pub verified: u64,
}

/// A lenient trace replay's skipped lines.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TraceSkipped {
    /// Lines skipped.
    pub lines: u64,
    /// The first one's error.
    pub first: Option<String>,
}

impl Overload {
    /// What happened and what to do, in one sentence.
    pub fn describe(&self) -> String {
        format!(
            "arrivals at {:.2} req/s, completed at {:.2}/s (capacity ≈ {:.2} req/s at these \
             lengths); the queue drained for {:.0} s after the last arrival: lower the load or \
             add capacity",
            self.offered_rps, self.served_rps, self.served_rps, self.drain_s
        )
    }
}

/// Requests whose lengths the workload cut to its limits (`workload.max_prompt_tokens`,
/// `max_output_tokens`): a run that clamps many simulates a shorter workload than asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Clamps {
    /// Prompts cut to `max_prompt_tokens`.
    pub prompts: u64,
    /// The limit.
    pub max_prompt_tokens: u32,
    /// Outputs cut to `max_output_tokens`.
    pub outputs: u64,
    /// The limit.
    pub max_output_tokens: u32,
}

impl Clamps {
    /// `(summary key, sentence)` for each kind of length that was cut, of `requests`.
    pub fn describe(&self, requests: u64) -> Vec<(&'static str, String)> {
        [
            ("prompts_clamped", "prompts", self.prompts, "max_prompt_tokens", self.max_prompt_tokens),
            ("outputs_clamped", "outputs", self.outputs, "max_output_tokens", self.max_output_tokens),
        ]
        .into_iter()
        .filter(|c| c.2 > 0)
        .map(|(key, what, n, limit, value)| {
            (
                key,
                format!(
                    "{n} of {requests} {what} cut to workload.{limit} = {value}: simulated shorter than drawn"
                ),
            )
        })
        .collect()
    }
}

/// The numbers a run ends with.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    /// Scenario name.
    pub scenario: String,
    /// Scenario file.
    pub scenario_file: PathBuf,
    /// Seed.
    pub seed: u64,
    /// Model name.
    pub model: String,
    /// Where the model came from (a file or `built-in:…`).
    pub model_file: PathBuf,
    /// The weights' format and where it came from (quantization_config, a key, torch_dtype).
    pub weights: String,
    /// Whose memory rules sized the KV cache.
    pub engine: String,
    /// GPU name.
    pub gpu: String,
    /// Where the GPU came from.
    pub gpu_file: PathBuf,
    /// Tensor-parallel degree.
    pub tp: u32,
    /// Replicas.
    pub replicas: u32,
    /// Batching policy.
    pub scheduler: SchedulerKind,
    /// K and V cache types.
    #[serde(serialize_with = "dtype_names")]
    pub kv_cache: (CacheDtype, CacheDtype),
    /// KV blocks per replica.
    pub kv_blocks_per_replica: u32,
    /// Tokens per block.
    pub block_size: u32,
    /// Requests finished.
    pub finished: u64,
    /// Requests refused.
    pub rejected: u64,
    /// Of those, refused by their tenant's own limits (by design, not for want of capacity).
    pub rejected_by_tenant_limits: u64,
    /// When arrivals outran the service (see the recorder's rule).
    pub overload: Option<Overload>,
    /// Prompts and outputs cut to the workload's limits.
    pub clamped: Clamps,
    /// With `workload.timeout_s`: requests whose clients gave up on them, and the prompt
    /// and output tokens computed for them before that (set by the simulation).
    pub timed_out: Option<(u64, u64)>,
    /// With several tenants: KV blocks handed to a tenant other than the one whose data
    /// they last held (set by the simulation at the end).
    pub kv_blocks_reused_across_tenants: Option<u64>,
    /// With `engine.scrub_freed_blocks`: seconds spent clearing them.
    pub kv_scrub_s: Option<f64>,
    /// Finished requests that met every SLO.
    pub good: u64,
    /// Output tokens produced.
    pub output_tokens: u64,
    /// Simulated seconds to the last event.
    pub duration_s: f64,
    /// TTFT, seconds.
    pub ttft: Quantiles,
    /// TPOT, seconds.
    pub tpot: Quantiles,
    /// ITL, seconds.
    pub itl: Quantiles,
    /// E2E, seconds.
    pub e2e: Quantiles,
    /// Queueing delay, seconds.
    pub queue: Quantiles,
    /// Preemptions.
    pub preemptions: u64,
    /// Iterations (all replicas).
    pub iterations: u64,
    /// Mean sequences per iteration.
    pub mean_batch_size: f64,
    /// Mean KV blocks in use per iteration.
    pub mean_kv_blocks_used: f64,
    /// Most KV blocks in use.
    pub peak_kv_blocks_used: u32,
    /// Mean allocated but unfilled token slots.
    pub mean_internal_fragmentation_tokens: f64,
    /// Mean token slots a contiguous max-length reservation would leave unused.
    pub mean_contiguous_reservation_waste_tokens: f64,
    /// Each SLO target, in scenario order.
    pub slo: Vec<SloVerdict>,
    /// Every SLO met and nothing refused (beyond a tenant's own limits).
    pub slo_met: bool,
    /// A lenient trace replay's skipped lines.
    pub trace_skipped: Option<TraceSkipped>,
    /// How arrivals were spread.
    pub router: Router,
    /// The order across tenants, when there are several.
    pub tenant_scheduling: Option<&'static str>,
    /// Prefix caching (`None`: off).
    pub prefix: Option<PrefixSummary>,
    /// Per tenant, when there are several.
    pub tenants: Vec<TenantSummary>,
    /// Speculative decoding, when on.
    pub spec: Option<SpecSummary>,
    /// LoRA adapters, when on.
    pub lora: Option<LoraSummary>,
    /// Report folder, if files were written.
    pub out_dir: Option<PathBuf>,
}

/// K and V cache dtypes by their names (`["bf16", "fp8"]`).
fn dtype_names<S: serde::Serializer>(
    kv: &(CacheDtype, CacheDtype),
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    [kv.0.to_string(), kv.1.to_string()].serialize(s)
}

/// The JSON `planner simulate --json` prints: `{"schema": "planner.simulate.summary",
/// "version": 1, "summary": {…}}`, the summary's fields by name (latencies in seconds,
/// quantiles as `{p50, p90, p99, mean}`, absent parts `null`). A field's meaning changes
/// only with the version.
pub fn to_json(s: &RunSummary) -> String {
    crate::util::json_envelope("planner.simulate.summary", "summary", s)
}

impl RunSummary {
    /// What would mislead a reader of the figures, first in every view of the run:
    /// `("OVERLOADED", …)`, then `("CLAMPED", …)` per kind of length cut.
    pub fn warnings(&self) -> Vec<(&'static str, String)> {
        let clamped = self.clamped.describe(self.finished + self.rejected);
        self.overload
            .iter()
            .map(|o| ("OVERLOADED", o.describe()))
            .chain(clamped.into_iter().map(|(_, text)| ("CLAMPED", text)))
            .collect()
    }

    /// Finished requests per second.
    pub fn request_throughput_rps(&self) -> f64 {
        self.finished as f64 / self.duration_s
    }

    /// Output tokens per second.
    pub fn output_token_throughput_tps(&self) -> f64 {
        self.output_tokens as f64 / self.duration_s
    }

    /// Requests per second that met every SLO.
    pub fn goodput_rps(&self) -> f64 {
        self.good as f64 / self.duration_s
    }

    /// The summary table: (metric, value) in report order.
    pub fn rows(&self) -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> = Vec::new();
        let mut put = |k: &str, v: String| rows.push((k.to_string(), v));
        put("scenario", self.scenario.clone());
        put("scenario_file", self.scenario_file.display().to_string());
        put("seed", self.seed.to_string());
        put("model", self.model.clone());
        put("model_file", self.model_file.display().to_string());
        put("weights", self.weights.clone());
        put("engine", self.engine.clone());
        put("gpu", self.gpu.clone());
        put("gpu_file", self.gpu_file.display().to_string());
        put("tp", self.tp.to_string());
        put("replicas", self.replicas.to_string());
        put("scheduler", format!("{:?}", self.scheduler));
        put(
            "kv_cache",
            format!("{}/{}", self.kv_cache.0, self.kv_cache.1),
        );
        put(
            "kv_blocks_per_replica",
            self.kv_blocks_per_replica.to_string(),
        );
        put(
            "kv_tokens_per_replica",
            (self.kv_blocks_per_replica as u64 * self.block_size as u64).to_string(),
        );
        put("requests_finished", self.finished.to_string());
        put("requests_rejected", self.rejected.to_string());
        if let Some((n, wasted)) = self.timed_out {
            put("requests_timed_out", n.to_string());
            put("tokens_computed_for_timed_out_requests", wasted.to_string());
        }
        for (key, text) in self.clamped.describe(self.finished + self.rejected) {
            put(key, text);
        }
        if self.rejected_by_tenant_limits > 0 {
            put(
                "requests_rejected_by_tenant_limits",
                self.rejected_by_tenant_limits.to_string(),
            );
        }
        if let Some(o) = &self.overload {
            put("OVERLOADED", o.describe())
        }
        put("duration_s", format!("{:.3}", self.duration_s));
        put(
            "request_throughput_rps",
            format!("{:.4}", self.request_throughput_rps()),
        );
        put(
            "output_token_throughput_tps",
            format!("{:.2}", self.output_token_throughput_tps()),
        );
        put("goodput_rps", format!("{:.4}", self.goodput_rps()));
        for (name, q) in [
            ("ttft", self.ttft),
            ("tpot", self.tpot),
            ("itl", self.itl),
            ("e2e", self.e2e),
            ("queue", self.queue),
        ] {
            for (p, v) in [
                ("p50", q.p50),
                ("p90", q.p90),
                ("p99", q.p99),
                ("mean", q.mean),
            ] {
                if name == "itl" && p == "mean" {
                    continue;
                }
                put(&format!("{name}_{p}_ms"), format!("{:.3}", v * 1e3));
            }
        }
        put("preemptions", self.preemptions.to_string());
        put("iterations", self.iterations.to_string());
        put("mean_batch_size", format!("{:.2}", self.mean_batch_size));
        put(
            "mean_kv_blocks_used",
            format!("{:.1}", self.mean_kv_blocks_used),
        );
        put("peak_kv_blocks_used", self.peak_kv_blocks_used.to_string());
        put(
            "mean_internal_fragmentation_tokens",
            format!("{:.1}", self.mean_internal_fragmentation_tokens),
        );
        put(
            "mean_contiguous_reservation_waste_tokens",
            format!("{:.1}", self.mean_contiguous_reservation_waste_tokens),
        );
        for v in &self.slo {
            put(
                &format!("slo_{}_ms", v.name()),
                format!(
                    "{:.3} (limit {}, {})",
                    v.measured_ms,
                    v.limit_ms,
                    if v.met { "met" } else { "missed" }
                ),
            );
        }
        if let Some(t) = &self.trace_skipped {
            put("trace_lines_skipped", t.lines.to_string());
            if let Some(e) = &t.first {
                put("trace_first_skipped", e.clone());
            }
        }
        put("router", self.router.name().to_string());
        if let Some(t) = self.tenant_scheduling {
            put("tenant_scheduling", t.to_string());
        }
        if let Some(n) = self.kv_blocks_reused_across_tenants {
            put("kv_blocks_reused_across_tenants", n.to_string());
        }
        if let Some(s) = self.kv_scrub_s {
            put("kv_scrub_seconds", format!("{s:.4}"));
        }
        put(
            "prefix_caching",
            match &self.prefix {
                None => "off".to_string(),
                Some(p) => match p.isolation {
                    Isolation::PerTenant => "on, per tenant".to_string(),
                    Isolation::Shared => "on, SHARED across tenants (no isolation)".to_string(),
                },
            },
        );
        if let Some(p) = &self.prefix {
            put("prefix_cache_hit_rate", format!("{:.4}", p.hit_rate()));
            put("prefill_tokens_saved", p.hit_tokens.to_string());
            put(
                "prefill_tflop_saved_excl_attention",
                format!("{:.1}", p.tflop_saved),
            );
            put("prefix_cache_evicted_blocks", p.evicted_blocks.to_string());
            if !self.tenants.is_empty() {
                let lost: u64 = self.tenants.iter().map(|t| t.prefix_blocks_lost).sum();
                put("prefix_cache_evicted_for_other_tenants", lost.to_string());
            }
            put("prefix_cache_blocks_at_end", p.blocks_at_end.to_string());
        }
        for t in &self.tenants {
            let name = &t.name;
            put(&format!("tenant_{name}_requests"), t.requests.to_string());
            put(
                &format!("tenant_{name}_prefix_hit_rate"),
                format!("{:.4}", t.prefix_hit_rate),
            );
            if self.prefix.is_some() {
                put(
                    &format!("tenant_{name}_prefix_blocks_lost_to_others"),
                    t.prefix_blocks_lost.to_string(),
                );
            }
            put(
                &format!("tenant_{name}_ttft_p50_ms"),
                format!("{:.3}", t.ttft.p50 * 1e3),
            );
            put(
                &format!("tenant_{name}_ttft_p90_ms"),
                format!("{:.3}", t.ttft.p90 * 1e3),
            );
            put(
                &format!("tenant_{name}_tpot_p50_ms"),
                format!("{:.3}", t.tpot.p50 * 1e3),
            );
            put(
                &format!("tenant_{name}_tpot_p90_ms"),
                format!("{:.3}", t.tpot.p90 * 1e3),
            );
            put(&format!("tenant_{name}_rejected"), t.rejected.to_string());
            put(
                &format!("tenant_{name}_rejected_by_its_limits"),
                t.limited.to_string(),
            );
        }
        if let Some(sp) = &self.spec {
            put("spec_method", sp.method.to_string());
            if let Some(d) = &sp.draft_model {
                put("spec_draft_model", d.clone());
            }
            put("spec_num_tokens", sp.num_tokens.to_string());
            put("spec_mean_alpha", format!("{:.4}", sp.mean_alpha));
            put("spec_draft_tokens", sp.drafted.to_string());
            put("spec_accepted_tokens", sp.accepted.to_string());
            put(
                "spec_acceptance_rate",
                format!("{:.4}", sp.accepted as f64 / sp.drafted.max(1) as f64),
            );
            put(
                "spec_mean_tokens_per_verification",
                format!(
                    "{:.4}",
                    (sp.accepted + sp.verified) as f64 / sp.verified.max(1) as f64
                ),
            );
        }
        if let Some(l) = &self.lora {
            put("lora_max_loras", l.max_loras.to_string());
            put("lora_max_lora_rank", l.max_lora_rank.to_string());
            put("lora_adapters", l.adapters.to_string());
            put("lora_slots_gib_per_gpu", format!("{:.3}", l.reserved_gib));
            put("lora_adapter_loads", l.loads.to_string());
            put("lora_adapter_host_misses", l.host_misses.to_string());
            put("lora_seconds", format!("{:.4}", l.seconds));
            put(
                "lora_ms_per_lora_step",
                format!("{:.4}", l.seconds * 1e3 / l.steps.max(1) as f64),
            );
            put(
                "lora_steps_share",
                format!("{:.4}", l.steps as f64 / l.iterations.max(1) as f64),
            );
        }
        put("slo_met", self.slo_met.to_string());
        rows
    }

    /// A one-screen summary.
    pub fn render(&self) -> String {
        let mut s = String::new();
        // An overloaded run says so first.
        let mut rows = self.rows();
        rows.sort_by_key(|(k, _)| k != "OVERLOADED");
        for (k, v) in rows {
            let _ = writeln!(s, "{k:<42} {v}");
        }
        s
    }
}
