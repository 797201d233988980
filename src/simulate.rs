//! `planner simulate`: run a scenario through the serving model and write its reports.
//!
//! Outputs, in `<output_dir>/<name>/`: `summary` (metric,value), `requests` (one row per
//! request, streamed as requests end, so memory does not grow with their number) and
//! `iterations` (one row per iteration per replica), as CSV or Parquet written through polars
//! ([`crate::report::table`]). Files are written under temporary names and renamed together
//! at the end, so a killed run leaves no half-written report.

use crate::cost::Efficiency;
use crate::cost::iteration::{ATTENTION, IterationCost};
use crate::kv::Isolation;
use crate::kv::{Budget, EngineMemory, KvSpec};
use crate::metrics::{LogHistogram, Quantiles};
use crate::report::table::{Kind, TableFormat, TableWriter};
use crate::scenario::{Scenario, SloMetric};
use crate::serving::config::SchedulerKind;
use crate::serving::engine::Simulation;
use crate::serving::spec::{DraftCost, SpecMethod, SpecRun};
use crate::serving::{IterationDone, Observer, Outcome, RequestDone};
use crate::sim::{Nanos, RngStreams};
use crate::units::GIB;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    /// Write no files (plans and tests that only need the summary).
    pub no_files: bool,
    /// Override the report folder (default `<scenario.output_dir>/<scenario.name>`).
    pub out_dir: Option<PathBuf>,
    /// Show a progress bar on stderr for runs over a second.
    pub progress: bool,
    /// Override the seed.
    pub seed: Option<u64>,
    /// Format of the report tables.
    pub format: TableFormat,
    /// Also write the run's timeline as a Chrome/Perfetto trace to this file.
    pub trace: Option<PathBuf>,
}

/// The numbers a run ends with.
#[derive(Debug, Clone)]
pub struct SimSummary {
    /// (metric, value) in report order.
    pub rows: Vec<(String, String)>,
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
    /// Requests that finished.
    pub finished: u64,
    /// Requests refused.
    pub rejected: u64,
    /// Output tokens produced.
    pub output_tokens: u64,
    /// Simulated seconds to the last event.
    pub duration_s: f64,
    /// Preemptions.
    pub preemptions: u64,
    /// Iterations (all replicas).
    pub iterations: u64,
    /// Mean sequences per iteration.
    pub mean_batch_size: f64,
    /// Events handled per wall-clock second... filled by the caller if wanted.
    pub goodput: f64,
    /// Whether every SLO target holds.
    pub slo_met: bool,
    /// Report folder, if files were written.
    pub out_dir: Option<PathBuf>,
    /// Speculative decoding: draft tokens proposed, accepted, and verifications.
    pub spec_drafted: u64,
    /// Draft tokens the target accepted.
    pub spec_accepted: u64,
    /// Sequence verifications (each yields accepted + 1 tokens).
    pub spec_verified: u64,
    /// Each SLO target, in scenario order: (name such as `ttft_p90` or
    /// `tenant_chat_ttft_p90`, measured ms, limit ms, met).
    pub slo: Vec<(String, f64, f64, bool)>,
}

/// Everything a run needs that does not change between runs of the same configuration:
/// the KV layout's block count and the cost table. Build once, share by reference.
pub struct Prepared {
    /// KV blocks per replica.
    pub num_blocks: u32,
    /// KV bytes per token per GPU.
    pub kv_bytes_per_token: f64,
    /// Memory budget per GPU.
    pub budget: Budget,
    /// The iteration cost table.
    pub cost: IterationCost,
    /// The draft model's cost table (speculative decoding with a draft model).
    pub draft_cost: Option<IterationCost>,
}

/// Check the scenario fits and precompute its cost table.
pub fn prepare(scn: &Scenario) -> anyhow::Result<Prepared> {
    let e = &scn.engine;
    let kv = KvSpec::new(&scn.model, e.cache_type_k, e.cache_type_v, scn.tp as u64)?;
    let engine_mem = EngineMemory {
        gpu_memory_utilization: e.gpu_memory_utilization,
        block_size: e.block_size as u64,
        max_num_batched_tokens: e.max_num_batched_tokens as u64,
        max_num_seqs: e.max_num_seqs as u64,
        weight_dtype: scn.weight_dtype,
        ..EngineMemory::default()
    };
    let mut budget = Budget::new(&scn.model, &kv, scn.gpu.memory_bytes, &engine_mem);
    // A draft model's weights and KV (one block table for both, as vLLM keeps them) take
    // memory beside the target's.
    let draft_kv = match &scn.draft {
        Some(d) => Some(KvSpec::new(
            d,
            e.cache_type_k,
            e.cache_type_v,
            scn.tp as u64,
        )?),
        None => None,
    };
    let kv_bytes_per_token =
        kv.total_bytes_per_token() + draft_kv.as_ref().map_or(0, |d| d.total_bytes_per_token());
    if let Some(d) = &scn.draft {
        budget = Budget::from_bytes_per_token(
            budget.memory,
            budget.usable,
            budget.weights + d.weight_bytes(scn.weight_dtype) as f64 / scn.tp as f64,
            budget.activations,
            budget.reserve,
            kv_bytes_per_token,
            e.block_size as u64,
        );
    }
    if budget.blocks == 0 {
        anyhow::bail!(
            "{}: {} does not fit on {} × {} (TP {}): weights {:.2} GiB + activations {:.2} GiB + reserve {:.2} GiB per GPU exceed {:.2} GiB usable; raise hardware.tp or choose a larger GPU",
            scn.path.display(),
            scn.model.name,
            scn.tp,
            scn.gpu.name,
            scn.tp,
            budget.weights / GIB as f64,
            budget.activations / GIB as f64,
            budget.reserve / GIB as f64,
            budget.usable / GIB as f64
        );
    }
    let capacity = budget.tokens;
    let longest = scn.workload.max_prompt_tokens as u64 + scn.workload.max_output_tokens as u64;
    if longest > capacity {
        anyhow::bail!(
            "{}: the longest request allowed ({} prompt + {} output tokens = {} tokens, {:.2} GiB of KV) cannot fit in one replica's KV cache ({} tokens = {} blocks of {}, {:.2} GiB); lower workload.max_prompt_tokens / max_output_tokens, quantize the cache (engine.kv_cache_dtype) or raise hardware.tp",
            scn.path.display(),
            scn.workload.max_prompt_tokens,
            scn.workload.max_output_tokens,
            longest,
            longest as f64 * kv_bytes_per_token as f64 / GIB as f64,
            capacity,
            budget.blocks,
            e.block_size,
            budget.kv_bytes() as f64 / GIB as f64
        );
    }
    let gemm_scale = match &scn.measured {
        Some(path) => Some(measured_gemm_scale(path, &scn.gpu)?),
        None => None,
    };
    let max_tokens = e
        .max_num_batched_tokens
        .max(scn.workload.max_prompt_tokens + scn.workload.max_output_tokens);
    // A verification samples every one of its γ + 1 positions.
    let positions = 1 + e.speculative.as_ref().map_or(0, |s| s.num_tokens);
    let table = |model, kv| {
        IterationCost::new(
            model,
            &scn.gpu,
            kv,
            scn.weight_dtype,
            e.attention,
            max_tokens,
            e.max_num_seqs * positions,
            gemm_scale,
            ATTENTION,
        )
    };
    let cost = table(&scn.model, &kv);
    let draft_cost = scn
        .draft
        .as_ref()
        .zip(draft_kv.as_ref())
        .map(|(d, dkv)| table(d, dkv));
    Ok(Prepared {
        num_blocks: budget.blocks.min(u32::MAX as u64) as u32,
        kv_bytes_per_token: kv_bytes_per_token as f64,
        budget,
        cost,
        draft_cost,
    })
}

/// A measured bench file's GEMM efficiency on this GPU relative to the Vidur A100 fit: the
/// factor the cost model's GEMM efficiencies are scaled by when a scenario points at it.
fn measured_gemm_scale(path: &Path, gpu: &crate::hardware::GpuSpec) -> anyhow::Result<Efficiency> {
    let file = crate::bench::MeasuredFile::load(path)?;
    let (_, classes) = crate::fidelity::validate_bench(&file, gpu);
    let g = classes
        .iter()
        .find(|c| c.class == "gemm/bf16")
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{}: no bf16 GEMM measurements to calibrate with",
                path.display()
            )
        })?;
    let a100 = crate::cost::iteration::VIDUR_A100::UP;
    Ok(Efficiency {
        compute: g.efficiency.compute / a100.compute,
        memory: g.efficiency.memory / a100.memory,
        overhead_s: 0.0,
    })
}

struct Collector {
    /// (metric, percentile, limit in ms, only this tenant).
    slo: Vec<(SloMetric, f64, f64, Option<u32>)>,
    /// Per-tenant statistics are kept (several tenants, or a tenant's own SLO).
    per_tenant: bool,
    ttft: Vec<f32>,
    tpot: Vec<f32>,
    e2e: Vec<f32>,
    queue: Vec<f32>,
    itl: LogHistogram,
    finished: u64,
    rejected: u64,
    good: u64,
    output_tokens: u64,
    preemptions: u64,
    iterations: u64,
    batch_sum: u64,
    blocks_sum: u64,
    blocks_peak: u32,
    frag_sum: u64,
    waste_sum: u64,
    spec: [u64; 3],
    /// Prompt tokens admitted and found cached, over all (re)admissions.
    prefix: [u64; 2],
    tenant_names: Vec<String>,
    tenants: Vec<TenantStats>,
    /// Per tenant: prompt tokens and cached tokens of finished requests (the hit-rate chart).
    tenant_tokens: Vec<[u64; 2]>,
    /// Batch size and KV blocks over time (the charts), when files are written.
    timeline: Option<crate::report::charts::Timeline>,
    requests: Option<TableWriter>,
    iters: Option<TableWriter>,
    io_error: Option<anyhow::Error>,
    progress: Option<Progress>,
    /// The run's trace-event timeline (`simulate --trace`).
    trace: Option<crate::report::trace::TraceWriter>,
}

/// Per-tenant latencies and cache use (finished requests).
#[derive(Default)]
struct TenantStats {
    ttft: Vec<f32>,
    tpot: Vec<f32>,
    e2e: Vec<f32>,
    prompt_tokens: u64,
    cached_tokens: u64,
}

struct Progress {
    start: std::time::Instant,
    bar: Option<indicatif::ProgressBar>,
    total: Option<u64>,
}

/// Columns of `requests`: times in integer µs, the arrival from the start of the run, the
/// others from the request's arrival (TPOT: per output token after the first); empty for
/// rejected requests.
const REQUEST_COLUMNS: [(&str, Kind); 13] = [
    ("id", Kind::U64),
    ("replica", Kind::U64),
    ("tenant", Kind::Str),
    ("arrival_us", Kind::U64),
    ("prompt_tokens", Kind::U64),
    ("output_tokens", Kind::U64),
    ("status", Kind::Str),
    ("queue_us", Kind::OptU64),
    ("ttft_us", Kind::OptU64),
    ("tpot_us", Kind::OptU64),
    ("e2e_us", Kind::OptU64),
    ("preemptions", Kind::U64),
    ("cached_tokens", Kind::U64),
];

/// Columns of `iterations` (times in µs).
const ITERATION_COLUMNS: [(&str, Kind); 9] = [
    ("start_us", Kind::U64),
    ("duration_us", Kind::U64),
    ("replica", Kind::U64),
    ("batch_size", Kind::U64),
    ("prefill_tokens", Kind::U64),
    ("decode_tokens", Kind::U64),
    ("kv_blocks_used", Kind::U64),
    ("preemptions", Kind::U64),
    ("waiting", Kind::U64),
];

impl Collector {
    /// End a table row; on a write error keep the first error and stop writing that table.
    fn end_row(table: &mut Option<TableWriter>, error: &mut Option<anyhow::Error>) {
        if let Some(t) = table
            && let Err(e) = t.end_row()
        {
            error.get_or_insert(e);
            *table = None;
        }
    }
}

impl Observer for Collector {
    fn request(&mut self, d: &RequestDone) {
        if let Some(t) = &mut self.trace {
            t.request(d);
        }
        let r = &d.req;
        let secs = |t: Nanos| t.saturating_sub(r.arrival).as_secs_f64();
        // (queue, ttft, tpot, e2e) in seconds, for finished requests.
        let times = match d.outcome {
            Outcome::Finished => {
                self.finished += 1;
                self.output_tokens += r.output_tokens as u64;
                self.preemptions += d.preemptions as u64;
                let ttft = secs(d.first_token);
                let e2e = secs(d.last_token);
                let tpot = if r.output_tokens > 1 {
                    (e2e - ttft) / (r.output_tokens - 1) as f64
                } else {
                    0.0
                };
                let queue = secs(d.first_scheduled);
                let tt = &mut self.tenant_tokens[r.tenant as usize];
                tt[0] += r.prompt_tokens as u64;
                tt[1] += d.cached_tokens as u64;
                if self.per_tenant {
                    let tenant = &mut self.tenants[r.tenant as usize];
                    tenant.ttft.push(ttft as f32);
                    tenant.e2e.push(e2e as f32);
                    tenant.prompt_tokens += r.prompt_tokens as u64;
                    tenant.cached_tokens += d.cached_tokens as u64;
                    if r.output_tokens > 1 {
                        tenant.tpot.push(tpot as f32);
                    }
                }
                self.ttft.push(ttft as f32);
                self.e2e.push(e2e as f32);
                self.queue.push(queue as f32);
                if r.output_tokens > 1 {
                    self.tpot.push(tpot as f32);
                }
                let ok = self.slo.iter().all(|&(m, _, limit, only)| {
                    if only.is_some_and(|t| t != r.tenant) {
                        return true;
                    }
                    let v = match m {
                        SloMetric::Ttft => ttft,
                        SloMetric::Tpot => tpot,
                        SloMetric::E2e => e2e,
                    };
                    v * 1e3 <= limit
                });
                self.good += u64::from(ok);
                Some([queue, ttft, tpot, e2e])
            }
            _ => {
                self.rejected += 1;
                None
            }
        };
        if let Some(t) = &mut self.requests {
            t.u64(0, r.id);
            t.u64(1, d.replica as u64);
            t.str(2, &self.tenant_names[r.tenant as usize]);
            t.u64(3, r.arrival.0 / 1000);
            t.u64(4, r.prompt_tokens as u64);
            t.u64(5, r.output_tokens as u64);
            t.str(6, d.outcome.name());
            for k in 0..4 {
                t.opt_u64(7 + k, times.map(|v| (v[k] * 1e6).round() as u64));
            }
            t.u64(11, d.preemptions as u64);
            t.u64(12, d.cached_tokens as u64);
            Self::end_row(&mut self.requests, &mut self.io_error);
        }
        if let Some(p) = &mut self.progress {
            let done = self.finished + self.rejected;
            if done.is_multiple_of(4096) {
                if p.bar.is_none() && p.start.elapsed().as_secs_f64() > 1.0 {
                    let bar = match p.total {
                        Some(t) => indicatif::ProgressBar::new(t),
                        None => indicatif::ProgressBar::new_spinner(),
                    };
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{elapsed_precise} [{bar:40}] {pos}/{len} requests, ETA {eta}",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                    );
                    p.bar = Some(bar);
                }
                if let Some(b) = &p.bar {
                    b.set_position(done);
                }
            }
        }
    }

    fn inter_token(&mut self, gap: Nanos, count: u32) {
        self.itl.add_n(gap.as_secs_f64(), count as u64);
    }

    fn iteration(&mut self, it: &IterationDone) {
        if let Some(t) = &mut self.trace {
            t.iteration(it);
        }
        self.iterations += 1;
        self.batch_sum += it.batch_size as u64;
        self.blocks_sum += it.kv_blocks_used as u64;
        self.blocks_peak = self.blocks_peak.max(it.kv_blocks_used);
        self.frag_sum += it.kv_fragmentation_tokens;
        self.waste_sum += it.contiguous_waste_tokens;
        self.spec[0] += it.spec_drafted as u64;
        self.spec[1] += it.spec_accepted as u64;
        self.spec[2] += it.spec_verified as u64;
        self.prefix[0] += it.prefix_lookup_tokens as u64;
        self.prefix[1] += it.prefix_hit_tokens as u64;
        if let Some(t) = &mut self.timeline {
            t.add(it.start.0 / 1000, it.batch_size, it.kv_blocks_used);
        }
        if let Some(t) = &mut self.iters {
            t.u64_row(&[
                it.start.0 / 1000,
                it.duration.0 / 1000,
                it.replica as u64,
                it.batch_size as u64,
                it.prefill_tokens as u64,
                it.decode_tokens as u64,
                it.kv_blocks_used as u64,
                it.preemptions as u64,
                it.waiting as u64,
            ]);
            Self::end_row(&mut self.iters, &mut self.io_error);
        }
    }
}

/// Run a scenario and write its report.
pub fn simulate(
    scn: &Scenario,
    prepared: &Prepared,
    opts: &SimOptions,
) -> anyhow::Result<SimSummary> {
    let seed = opts.seed.unwrap_or(scn.seed);
    let dir = opts
        .out_dir
        .clone()
        .unwrap_or_else(|| scn.output_dir.join(&scn.name));
    // Every file goes into a staging folder, put in place whole at the end.
    let report = match opts.no_files {
        true => None,
        false => Some(crate::report::ReportDir::create(&dir)?),
    };
    let open =
        |stem: &str, columns: &[(&'static str, Kind)]| -> anyhow::Result<Option<TableWriter>> {
            match &report {
                None => Ok(None),
                Some(r) => TableWriter::create(r.path(), stem, opts.format, columns).map(Some),
            }
        };
    let tenant_names: Vec<String> = if scn.workload.sharing.tenants.is_empty() {
        vec!["-".to_string()]
    } else {
        scn.workload
            .sharing
            .tenants
            .iter()
            .map(|t| t.name.clone())
            .collect()
    };
    let mut c = Collector {
        slo: scn
            .slo
            .targets
            .iter()
            .map(|t| (t.metric, t.percentile, t.limit_ms, t.tenant))
            .collect(),
        per_tenant: tenant_names.len() > 1 || scn.slo.targets.iter().any(|t| t.tenant.is_some()),
        ttft: Vec::new(),
        tpot: Vec::new(),
        e2e: Vec::new(),
        queue: Vec::new(),
        itl: LogHistogram::new(),
        finished: 0,
        rejected: 0,
        good: 0,
        output_tokens: 0,
        preemptions: 0,
        iterations: 0,
        batch_sum: 0,
        blocks_sum: 0,
        blocks_peak: 0,
        frag_sum: 0,
        waste_sum: 0,
        spec: [0; 3],
        prefix: [0; 2],
        tenant_names: tenant_names.clone(),
        tenant_tokens: vec![[0; 2]; tenant_names.len()],
        timeline: (!opts.no_files).then(Default::default),
        tenants: tenant_names
            .iter()
            .map(|_| TenantStats::default())
            .collect(),
        requests: open("requests", &REQUEST_COLUMNS)?,
        iters: open("iterations", &ITERATION_COLUMNS)?,
        io_error: None,
        trace: opts
            .trace
            .as_deref()
            .map(crate::report::trace::TraceWriter::create)
            .transpose()?,
        progress: opts.progress.then(|| Progress {
            start: std::time::Instant::now(),
            bar: None,
            total: scn.workload.num_requests,
        }),
    };
    let streams = RngStreams::new(seed);
    let mut requests = crate::workload::source(&scn.workload, &streams)?;
    let mut sim = Simulation::new(
        scn.engine.clone(),
        &prepared.cost,
        scn.replicas,
        prepared.num_blocks,
        prepared.kv_bytes_per_token,
        scn.model.max_position_embeddings.min(u32::MAX as u64) as u32,
    );
    sim = sim.with_router(scn.router);
    if let Some(sp) = &scn.engine.speculative {
        let draft = match &sp.method {
            SpecMethod::Ngram => DraftCost::Free,
            SpecMethod::Head { layer_fraction } => DraftCost::Head {
                layer_fraction: *layer_fraction,
            },
            SpecMethod::DraftModel(name) => match &prepared.draft_cost {
                Some(c) => DraftCost::Model(c),
                None => anyhow::bail!("internal error: no cost table for draft model {name}"),
            },
        };
        sim = sim.with_speculation(SpecRun {
            num_tokens: sp.num_tokens,
            acceptance: sp.acceptance.clone(),
            draft,
            streams,
        });
    }
    let end = sim.run(&mut requests, &mut c);
    if let Some(t) = c.trace.take() {
        t.finish()?;
    }
    if let Some(p) = &c.progress
        && let Some(b) = &p.bar
    {
        b.finish_and_clear();
    }
    if sim.unfinished() > 0 {
        anyhow::bail!(
            "internal error: {} requests neither finished nor rejected",
            sim.unfinished()
        );
    }
    if let Some(e) = c.io_error.take() {
        return Err(e);
    }
    let duration_s = end.as_secs_f64().max(1e-9);
    let (ttft, tpot, itl, e2e, queue) = (
        Quantiles::of(&mut c.ttft),
        Quantiles::of(&mut c.tpot),
        Quantiles::of_hist(&c.itl),
        Quantiles::of(&mut c.e2e),
        Quantiles::of(&mut c.queue),
    );
    // Per tenant: (ttft, tpot, e2e), when kept.
    let tenant_q: Vec<[Quantiles; 3]> = if c.per_tenant {
        c.tenants
            .iter_mut()
            .map(|t| {
                [
                    Quantiles::of(&mut t.ttft),
                    Quantiles::of(&mut t.tpot),
                    Quantiles::of(&mut t.e2e),
                ]
            })
            .collect()
    } else {
        Vec::new()
    };
    let slo_results: Vec<(String, f64, f64, bool)> = scn
        .slo
        .targets
        .iter()
        .map(|t| {
            let [ttft, tpot, e2e] = match t.tenant {
                Some(i) => tenant_q[i as usize],
                None => [ttft, tpot, e2e],
            };
            let q = match t.metric {
                SloMetric::Ttft => ttft,
                SloMetric::Tpot => tpot,
                SloMetric::E2e => e2e,
            };
            let v = q.at(t.percentile) * 1e3;
            let who = match t.tenant {
                Some(i) => format!("tenant_{}_", c.tenant_names[i as usize]),
                None => String::new(),
            };
            (
                format!("{who}{}_p{}", t.metric.name(), t.percentile as u32),
                v,
                t.limit_ms,
                v <= t.limit_ms,
            )
        })
        .collect();
    let slo_met = slo_results.iter().all(|r| r.3) && c.rejected == 0;
    let goodput = c.good as f64 / duration_s;
    let iters = c.iterations.max(1) as f64;
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| rows.push((k.to_string(), v));
    put("scenario", scn.name.clone());
    put("scenario_file", scn.path.display().to_string());
    put("seed", seed.to_string());
    put("model", scn.model.name.clone());
    put("model_file", scn.model.source.display().to_string());
    put("gpu", scn.gpu.name.clone());
    put("gpu_file", scn.gpu.source.display().to_string());
    put("tp", scn.tp.to_string());
    put("replicas", scn.replicas.to_string());
    put("scheduler", format!("{:?}", scn.engine.scheduler));
    put(
        "kv_cache",
        format!("{}/{}", scn.engine.cache_type_k, scn.engine.cache_type_v),
    );
    put("kv_blocks_per_replica", prepared.num_blocks.to_string());
    put(
        "kv_tokens_per_replica",
        (prepared.num_blocks as u64 * scn.engine.block_size as u64).to_string(),
    );
    put("requests_finished", c.finished.to_string());
    put("requests_rejected", c.rejected.to_string());
    put("duration_s", format!("{duration_s:.3}"));
    put(
        "request_throughput_rps",
        format!("{:.4}", c.finished as f64 / duration_s),
    );
    put(
        "output_token_throughput_tps",
        format!("{:.2}", c.output_tokens as f64 / duration_s),
    );
    put("goodput_rps", format!("{goodput:.4}"));
    for (name, q) in [
        ("ttft", ttft),
        ("tpot", tpot),
        ("itl", itl),
        ("e2e", e2e),
        ("queue", queue),
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
    put("preemptions", c.preemptions.to_string());
    put("iterations", c.iterations.to_string());
    put(
        "mean_batch_size",
        format!("{:.2}", c.batch_sum as f64 / iters),
    );
    put(
        "mean_kv_blocks_used",
        format!("{:.1}", c.blocks_sum as f64 / iters),
    );
    put("peak_kv_blocks_used", c.blocks_peak.to_string());
    put(
        "mean_internal_fragmentation_tokens",
        format!("{:.1}", c.frag_sum as f64 / iters),
    );
    put(
        "mean_contiguous_reservation_waste_tokens",
        format!("{:.1}", c.waste_sum as f64 / iters),
    );
    for (k, v, limit, ok) in &slo_results {
        put(
            &format!("slo_{k}_ms"),
            format!(
                "{v:.3} (limit {limit}, {})",
                if *ok { "met" } else { "missed" }
            ),
        );
    }
    if let Some((skipped, first)) = crate::workload::trace_skipped(&scn.workload)? {
        put("trace_lines_skipped", skipped.to_string());
        if let Some(e) = first {
            put("trace_first_skipped", e);
        }
    }
    put("router", scn.router.name().to_string());
    let caching = scn.engine.prefix_caching && scn.engine.scheduler != SchedulerKind::Static;
    put(
        "prefix_caching",
        if !caching {
            "off".to_string()
        } else {
            match scn.engine.prefix_isolation {
                Isolation::PerTenant => "on, per tenant".to_string(),
                Isolation::Shared => "on, SHARED across tenants (no isolation)".to_string(),
            }
        },
    );
    if caching {
        let [lookup, hits] = c.prefix;
        put(
            "prefix_cache_hit_rate",
            format!("{:.4}", hits as f64 / lookup.max(1) as f64),
        );
        put("prefill_tokens_saved", hits.to_string());
        put(
            "prefill_tflop_saved_excl_attention",
            format!(
                "{:.1}",
                hits as f64 * scn.model.flops_per_token(0) as f64 / 1e12
            ),
        );
        let (evicted, cached) = sim.prefix_cache_stats();
        put("prefix_cache_evicted_blocks", evicted.to_string());
        put("prefix_cache_blocks_at_end", cached.to_string());
    }
    if c.tenants.len() > 1 {
        for (name, t) in c.tenant_names.iter().zip(&mut c.tenants) {
            let (ttft, tpot) = (Quantiles::of(&mut t.ttft), Quantiles::of(&mut t.tpot));
            put(&format!("tenant_{name}_requests"), t.ttft.len().to_string());
            put(
                &format!("tenant_{name}_prefix_hit_rate"),
                format!(
                    "{:.4}",
                    t.cached_tokens as f64 / t.prompt_tokens.max(1) as f64
                ),
            );
            put(
                &format!("tenant_{name}_ttft_p50_ms"),
                format!("{:.3}", ttft.p50 * 1e3),
            );
            put(
                &format!("tenant_{name}_ttft_p90_ms"),
                format!("{:.3}", ttft.p90 * 1e3),
            );
            put(
                &format!("tenant_{name}_tpot_p50_ms"),
                format!("{:.3}", tpot.p50 * 1e3),
            );
        }
    }
    if let Some(sp) = &scn.engine.speculative {
        let [drafted, accepted, verified] = c.spec;
        put("spec_method", sp.method.name().to_string());
        if let SpecMethod::DraftModel(name) = &sp.method {
            put("spec_draft_model", name.clone());
        }
        put("spec_num_tokens", sp.num_tokens.to_string());
        put(
            "spec_mean_alpha",
            format!("{:.4}", sp.acceptance.mean_alpha()),
        );
        put("spec_draft_tokens", drafted.to_string());
        put("spec_accepted_tokens", accepted.to_string());
        put(
            "spec_acceptance_rate",
            format!("{:.4}", accepted as f64 / drafted.max(1) as f64),
        );
        put(
            "spec_mean_tokens_per_verification",
            format!(
                "{:.4}",
                (accepted + verified) as f64 / verified.max(1) as f64
            ),
        );
    }
    put("slo_met", slo_met.to_string());
    let out_dir = if let Some(report) = report {
        let dir = report.path().to_path_buf();
        let mut tables = Vec::new();
        for t in [c.requests.take(), c.iters.take()].into_iter().flatten() {
            tables.push(t.finish()?);
        }
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect();
        tables.push(crate::report::table::write_small(
            &dir,
            "summary",
            opts.format,
            &["metric", "value"],
            &rows,
        )?);
        let slo_lines = scn
            .slo
            .targets
            .iter()
            .filter(|t| t.tenant.is_none() && t.metric != SloMetric::E2e)
            .map(|t| {
                (
                    format!(
                        "{} p{} SLO {} ms",
                        t.metric.name().to_uppercase(),
                        t.percentile as u32,
                        t.limit_ms
                    ),
                    t.limit_ms,
                )
            })
            .collect();
        let charts = crate::report::charts::SimCharts {
            name: &scn.name,
            ttft_s: &c.ttft,
            tpot_s: &c.tpot,
            slo_lines,
            timeline: c.timeline.as_ref().expect("kept when files are written"),
            kv_blocks: prepared.num_blocks,
            tenants: if scn.engine.prefix_caching {
                c.tenant_names
                    .iter()
                    .zip(&c.tenant_tokens)
                    .map(|(n, t)| (n.clone(), t[0], t[1]))
                    .collect()
            } else {
                Vec::new()
            },
            budget: &prepared.budget,
            gpu: format!("{}, TP {}", scn.gpu.name, scn.tp),
            tables: opts.format,
        };
        let (chart_tables, staged) = crate::report::charts::write(&dir, &charts)?;
        tables.extend(chart_tables);
        crate::report::table::commit(tables)?;
        staged.commit()?;
        Some(report.commit()?)
    } else {
        None
    };
    Ok(SimSummary {
        rows,
        ttft,
        tpot,
        itl,
        e2e,
        queue,
        finished: c.finished,
        rejected: c.rejected,
        output_tokens: c.output_tokens,
        duration_s,
        preemptions: c.preemptions,
        iterations: c.iterations,
        mean_batch_size: c.batch_sum as f64 / iters,
        goodput,
        slo_met,
        out_dir,
        spec_drafted: c.spec[0],
        spec_accepted: c.spec[1],
        spec_verified: c.spec[2],
        slo: slo_results,
    })
}

impl SimSummary {
    /// A one-screen summary.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.rows {
            let _ = writeln!(s, "{k:<42} {v}");
        }
        s
    }
}
