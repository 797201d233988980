//! `planner simulate`: run a scenario through the serving model and write its reports.
//!
//! Outputs, in `<output_dir>/<name>/`: `summary` (metric,value), `requests` (one row per
//! request, streamed as requests end, so memory does not grow with their number) and
//! `iterations` (one row per iteration per replica), as CSV or Parquet written through polars
//! ([`crate::report::table`]). Files are written under temporary names and renamed together
//! at the end, so a killed run leaves no half-written report.

use crate::cost::Efficiency;
use crate::cost::iteration::{ATTENTION, CostSetup, IterationCost};
use crate::kv::{Budget, EngineKind, EngineMemory, KvSpec};
use crate::metrics::Recorder;
pub use crate::metrics::RunSummary;
use crate::report::ReportDir;
use crate::report::run_tables::RunTables;
use crate::report::table::TableFormat;
use crate::report::trace::TraceWriter;
use crate::scenario::{Scenario, SloMetric};
use crate::serving::engine::Simulation;
use crate::serving::lora::{LoraRun, LoraShapes};
use crate::serving::spec::{DraftCost, SpecMethod, SpecRun};
use crate::serving::{IterationDone, Observer, RequestDone};
use crate::sim::{Nanos, RngStreams};
use crate::units::GIB;
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
    /// Replace a report folder that holds another scenario file's report.
    pub force: bool,
    /// Which tables the report writes.
    pub tables: crate::report::run_tables::Tables,
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
    /// LoRA adapters: the engine's slots and the tenants' adapters.
    pub lora: Option<LoraRun>,
}

/// Check the scenario fits and precompute its cost table.
pub fn prepare(scn: &Scenario) -> anyhow::Result<Prepared> {
    let e = &scn.engine;
    let kv = KvSpec::new(&scn.model, e.cache_type_k, e.cache_type_v, scn.tp as u64)?;
    let engine_mem = EngineMemory {
        kind: e.kind,
        mem_fraction_static: e.mem_fraction_static,
        kv_cache_free_gpu_mem_fraction: e.kv_cache_free_gpu_mem_fraction,
        gpu_memory_utilization: e.gpu_memory_utilization,
        block_size: e.block_size as u64,
        max_num_batched_tokens: e.max_num_batched_tokens as u64,
        max_num_seqs: e.max_num_seqs as u64,
        weights: scn.precision.clone(),
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
        budget = Budget::assemble(
            &engine_mem,
            budget.memory,
            budget.weights + d.weight_bytes(&scn.precision) as f64 / scn.tp as f64,
            budget.activations,
            budget.reserve,
            kv_bytes_per_token,
            scn.tp as u64,
        );
    }
    // LoRA adapter slots are allocated with the model, before the KV cache is sized.
    let lora = scn.engine.lora.map(|engine| {
        LoraRun::new(
            engine,
            scn.engine.tenancy.tenants.iter().map(|t| t.lora).collect(),
            LoraShapes::new(&scn.model, scn.tp as u64),
        )
    });
    if let Some(l) = &lora {
        budget = Budget::assemble(
            &engine_mem,
            budget.memory,
            budget.weights + l.reserved_bytes(),
            budget.activations,
            budget.reserve,
            kv_bytes_per_token,
            scn.tp as u64,
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
    // vLLM refuses to start when one request of `max_model_len` tokens (default: the model's
    // max_position_embeddings) cannot fit in the KV cache: V1
    // `vllm/v1/core/kv_cache_utils.py` check_enough_kv_cache_memory ("To serve at least one
    // request with the models's max seq len …"), V0 `_verify_args` of the cache engine ("The
    // model's max seq len … is larger than the maximum number of tokens that can be stored in
    // KV cache"). The other engines start and size their cache by memory.
    if matches!(e.kind, EngineKind::Vllm | EngineKind::VllmV0) {
        let max_len = e
            .max_model_len
            .map_or(scn.model.max_position_embeddings, u64::from);
        if max_len > capacity {
            let gib = |tokens: u64| tokens as f64 * kv_bytes_per_token as f64 / GIB as f64;
            anyhow::bail!(
                "{}: vLLM would refuse to start: one request of max_model_len = {max_len} tokens{} needs {:.2} GiB of KV cache, more than the {:.2} GiB available ({capacity} tokens); set engine.max_model_len (vllm --max-model-len) to at most {capacity} (this workload's longest request is {longest} tokens), or raise engine.gpu_memory_utilization or hardware.tp",
                scn.path.display(),
                if e.max_model_len.is_none() {
                    " (the model's max_position_embeddings, vLLM's default)"
                } else {
                    ""
                },
                gib(max_len),
                gib(capacity),
            );
        }
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
        IterationCost::new(&CostSetup {
            model,
            gpu: &scn.gpu,
            kv,
            precision: &scn.precision,
            engine: e.kind,
            kernel: e.attention,
            max_tokens,
            max_seqs: e.max_num_seqs * positions,
            gemm_scale,
            attn_eff: ATTENTION,
        })
        .map_err(|u| anyhow::anyhow!("{}: model.weight_dtype: {u}", scn.path.display()))
    };
    let cost = table(&scn.model, &kv)?;
    let draft_cost = match scn.draft.as_ref().zip(draft_kv.as_ref()) {
        Some((d, dkv)) => Some(table(d, dkv)?),
        None => None,
    };
    // llama.cpp allocates exactly `-c` cells (`src/llama-context.cpp`: `n_ctx` KV cells),
    // whatever memory is left; the other engines size the cache by memory alone.
    let cells = match (e.kind, e.max_model_len) {
        (EngineKind::LlamaCpp, Some(ctx)) => (ctx as u64).div_ceil(e.block_size as u64),
        _ => u64::MAX,
    };
    Ok(Prepared {
        num_blocks: budget.blocks.min(cells).min(u32::MAX as u64) as u32,
        kv_bytes_per_token: kv_bytes_per_token as f64,
        budget,
        cost,
        draft_cost,
        lora,
    })
}

/// A measured bench file's GEMM efficiency on this GPU relative to the table the GPU is priced
/// with (`OpTable::for_gpu`): the factor its GEMM efficiencies are scaled by when a scenario
/// points at the file.
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
    // Relative to the table the GPU is priced with by default, so that a file measured on
    // the GPU the table came from changes nothing.
    let base = crate::cost::iteration::OpTable::for_gpu(gpu).up;
    Ok(Efficiency {
        compute: g.efficiency.compute / base.compute,
        memory: g.efficiency.memory / base.memory,
        overhead_s: 0.0,
    })
}

/// A run's progress bar (runs over a second), by requests ended.
struct Progress {
    start: std::time::Instant,
    bar: Option<indicatif::ProgressBar>,
    total: Option<u64>,
}

impl Progress {
    fn update(&mut self, done: u64) {
        if !done.is_multiple_of(4096) {
            return;
        }
        if self.bar.is_none() && self.start.elapsed().as_secs_f64() > 1.0 {
            let bar = match self.total {
                Some(t) => indicatif::ProgressBar::new(t),
                None => indicatif::ProgressBar::new_spinner(),
            };
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:40}] {pos}/{len} requests, ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            self.bar = Some(bar);
        }
        if let Some(b) = &self.bar {
            b.set_position(done);
        }
    }
}

/// Everything that hears the run: the metrics, and (when files are written) the tables, the
/// trace and the progress bar.
struct Sinks {
    metrics: Recorder,
    tables: Option<RunTables>,
    trace: Option<TraceWriter>,
    progress: Option<Progress>,
}

impl Observer for Sinks {
    fn request(&mut self, d: &RequestDone) {
        self.metrics.request(d);
        if let Some(t) = &mut self.tables {
            t.request(d);
        }
        if let Some(t) = &mut self.trace {
            t.request(d);
        }
        if let Some(p) = &mut self.progress {
            p.update(self.metrics.ended());
        }
    }

    fn inter_token(&mut self, gap: Nanos, count: u32) {
        self.metrics.inter_token(gap, count);
    }

    fn iteration(&mut self, it: &IterationDone) {
        self.metrics.iteration(it);
        if let Some(t) = &mut self.tables {
            t.iteration(it);
        }
        if let Some(t) = &mut self.trace {
            t.iteration(it);
        }
    }
}

/// The engine for a scenario, its speculative decoding wired in.
fn engine<'a>(
    scn: &Scenario,
    prepared: &'a Prepared,
    streams: RngStreams,
) -> anyhow::Result<Simulation<'a>> {
    let mut sim = Simulation::new(
        scn.engine.clone(),
        &prepared.cost,
        scn.replicas,
        prepared.num_blocks,
        prepared.kv_bytes_per_token,
        scn.engine
            .max_model_len
            .unwrap_or(scn.model.max_position_embeddings.min(u32::MAX as u64) as u32),
    )
    .with_router(scn.router);
    if let Some(p) = scn.workload.patience {
        sim = sim.with_patience(p, streams);
    }
    if let Some(l) = &prepared.lora {
        sim = sim.with_lora(l.clone());
    }
    if let Some(t) = scn.workload.timeout_s {
        sim = sim.with_timeout(t);
    }
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
    Ok(sim)
}

/// Run a scenario and write its report: wiring the workload, the engine, the metrics and the
/// report's writers together.
pub fn simulate(
    scn: &Scenario,
    prepared: &Prepared,
    opts: &SimOptions,
) -> anyhow::Result<RunSummary> {
    simulate_from(scn, prepared, opts, None)
}

/// [`simulate`] over the given requests instead of the scenario's workload (a recorded
/// run's arrivals and lengths).
pub fn simulate_requests(
    scn: &Scenario,
    prepared: &Prepared,
    opts: &SimOptions,
    requests: &mut dyn crate::workload::RequestSource,
) -> anyhow::Result<RunSummary> {
    simulate_from(scn, prepared, opts, Some(requests))
}

fn simulate_from(
    scn: &Scenario,
    prepared: &Prepared,
    opts: &SimOptions,
    given: Option<&mut dyn crate::workload::RequestSource>,
) -> anyhow::Result<RunSummary> {
    let seed = opts.seed.unwrap_or(scn.seed);
    let dir = opts
        .out_dir
        .clone()
        .unwrap_or_else(|| scn.output_dir.join(&scn.name));
    // Every file goes into a staging folder, put in place whole at the end.
    let report = match opts.no_files {
        true => None,
        false => Some(ReportDir::create_for(&dir, Some(&scn.path), opts.force)?),
    };
    let metrics = Recorder::new(scn, report.is_some());
    let mut sinks = Sinks {
        tables: match &report {
            Some(r) => Some(RunTables::create(
                r.path(),
                opts.format,
                metrics.tenant_names.clone(),
                opts.tables,
            )?),
            None => None,
        },
        metrics,
        trace: opts.trace.as_deref().map(TraceWriter::create).transpose()?,
        progress: opts.progress.then(|| Progress {
            start: std::time::Instant::now(),
            bar: None,
            total: scn.workload.num_requests,
        }),
    };
    let streams = RngStreams::new(seed);
    let mut generated;
    let requests: &mut dyn crate::workload::RequestSource = match given {
        Some(r) => r,
        None => {
            generated = crate::workload::source(&scn.workload, &streams)?;
            &mut generated
        }
    };
    let mut sim = engine(scn, prepared, streams)?;
    let end = sim.run(requests, &mut sinks);
    if let Some(b) = sinks.progress.as_ref().and_then(|p| p.bar.as_ref()) {
        b.finish_and_clear();
    }
    if sim.unfinished() > 0 {
        anyhow::bail!(
            "internal error: {} requests neither finished nor rejected",
            sim.unfinished()
        );
    }
    if sinks.metrics.ended() == 0 {
        anyhow::bail!(
            "{}: the workload sent no request (workload.duration_s ends before the first \
             arrival?): lengthen it or set workload.num_requests",
            scn.path.display()
        );
    }
    let tables = sinks.tables.take().map(RunTables::finish).transpose()?;
    if let Some(t) = sinks.trace.take() {
        t.finish()?;
    }
    let skipped = crate::workload::trace_skipped(&scn.workload)?;
    let mut m = sinks.metrics;
    let mut summary = m.summary(
        scn,
        seed,
        prepared.num_blocks,
        end,
        sim.prefix_cache_stats(),
        skipped,
    );
    if summary.tenant_scheduling.is_some() {
        summary.kv_blocks_reused_across_tenants = Some(sim.kv_blocks_reused_across_tenants());
    }
    if let Some((_, wasted)) = &mut summary.timed_out {
        *wasted = sim.wasted_tokens();
    }
    if let (Some(ls), Some(run)) = (&mut summary.lora, &prepared.lora) {
        ls.reserved_gib = run.reserved_bytes() / GIB as f64;
        (ls.loads, ls.host_misses) = sim.lora_loads();
    }
    for (t, ts) in summary.tenants.iter_mut().enumerate() {
        ts.prefix_blocks_lost = sim.prefix_blocks_lost_to_others(t as u32);
    }
    if let (Some(report), Some(tables)) = (report, tables) {
        summary.out_dir = Some(write_report(
            scn, prepared, opts, &summary, &m, report, tables,
        )?);
    }
    Ok(summary)
}

/// An SLO line's label in the charts: `TTFT p90 SLO 300 ms`.
fn slo_label(t: &crate::scenario::SloTarget) -> String {
    format!(
        "{} p{} SLO {} ms",
        t.metric.name().to_uppercase(),
        t.percentile as u32,
        t.limit_ms
    )
}

/// The same traffic under each tenant scheduling, with the tenants' limits as written and
/// without them (the scheduling written first): per tenant, requests finished and refused,
/// TTFT and TPOT p90. Only for a scenario with several tenants and a tenant policy
/// (`engine.tenant_scheduling` or a `[tenants.<name>]` table); the table's rows and its
/// markdown for the report's index.
#[allow(clippy::type_complexity)]
fn tenant_policies(
    scn: &Scenario,
    prepared: &Prepared,
    opts: &SimOptions,
) -> anyhow::Result<Option<(Vec<Vec<String>>, String)>> {
    use crate::serving::tenancy::TenantScheduling as S;
    let tenancy = &scn.engine.tenancy;
    if scn.workload.sharing.tenants.len() < 2 || !tenancy.is_configured() {
        return Ok(None);
    }
    let first = tenancy.tenants.first().map_or(0, |t| t.priority);
    let ordered = tenancy.tenants.iter().any(|t| t.priority != first);
    let limited = tenancy.tenants.iter().any(|t| t.has_limits());
    let mut schedulings = vec![tenancy.scheduling];
    for s in [S::Fifo, S::Fair, S::Priority] {
        if !schedulings.contains(&s) && (s != S::Priority || ordered) {
            schedulings.push(s);
        }
    }
    let quiet = SimOptions {
        no_files: true,
        seed: opts.seed,
        ..SimOptions::default()
    };
    let (mut rows, mut md) = (Vec::new(), String::new());
    md.push_str(
        "\nThe same traffic under each tenant scheduling, with the tenants' limits as written \
         and without them (data: `tenant_policies` table):\n\n\
         | tenant scheduling | limits | tenant | finished | refused | TTFT p90 ms | TPOT p90 ms |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for &s in &schedulings {
        for with_limits in [true, false] {
            if !with_limits && !limited {
                continue;
            }
            let mut v = scn.clone();
            v.engine.tenancy.scheduling = s;
            if !with_limits {
                v.engine.tenancy = v.engine.tenancy.without_limits();
            }
            let r = simulate(&v, prepared, &quiet)?;
            let limits = if with_limits { "as written" } else { "none" };
            let this = s == tenancy.scheduling && with_limits;
            for t in &r.tenants {
                let row = vec![
                    s.name().to_string(),
                    limits.to_string(),
                    t.name.clone(),
                    t.requests.to_string(),
                    t.rejected.to_string(),
                    format!("{:.1}", t.ttft.p90 * 1e3),
                    format!("{:.1}", t.tpot.p90 * 1e3),
                ];
                let mark = if this { " (this run)" } else { "" };
                md.push_str(&format!(
                    "| {}{mark} | {} | {} | {} | {} | {} | {} |\n",
                    row[0], row[1], row[2], row[3], row[4], row[5], row[6]
                ));
                rows.push(row);
            }
        }
    }
    Ok(Some((rows, md)))
}

/// The same traffic on the base model alone and with every LoRA tenant's requests spread over
/// 1, 8 and 64 adapters (as many GPU slots, `max_loras`): the slots' memory, the KV blocks
/// left, the LoRA work per step and what it does to latency and throughput. Only for a
/// scenario with LoRA adapters; the table's rows and its markdown for the report's index.
#[allow(clippy::type_complexity)]
fn lora_variants(
    scn: &Scenario,
    prepared: &Prepared,
    summary: &RunSummary,
    opts: &SimOptions,
) -> anyhow::Result<Option<(Vec<Vec<String>>, String)>> {
    let Some(engine) = scn.engine.lora else {
        return Ok(None);
    };
    let quiet = SimOptions {
        no_files: true,
        seed: opts.seed,
        ..SimOptions::default()
    };
    let mut variants: Vec<(String, Option<Scenario>)> = Vec::new();
    let mut base = scn.clone();
    base.engine.lora = None;
    for t in &mut base.engine.tenancy.tenants {
        t.lora = None;
    }
    variants.push(("base model only".to_string(), Some(base)));
    for n in [1u32, 8, 64] {
        let mut v = scn.clone();
        for t in &mut v.engine.tenancy.tenants {
            if let Some(l) = &mut t.lora {
                l.adapters = n;
            }
        }
        v.engine.lora = Some(crate::serving::lora::LoraEngine {
            max_loras: n,
            max_cpu_loras: engine.max_cpu_loras.max(n),
            ..engine
        });
        variants.push((format!("{n} adapter(s), max_loras {n}"), Some(v)));
    }
    variants.push(("this run".to_string(), None));
    let (mut rows, mut md) = (Vec::new(), String::new());
    md.push_str(
        "\nThe same traffic on the base model alone and with the LoRA tenants' requests \
         spread over 1, 8 and 64 adapters, each in a GPU slot (data: `lora_adapters` table):\n\n\
         | variant | adapters | max_loras | slots GiB/GPU | KV blocks | LoRA ms per LoRA step | TPOT p50 ms | TTFT p90 ms | output tok/s | adapter loads |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (label, v) in &variants {
        let (r, blocks) = match v {
            Some(v) => {
                let p = prepare(v)?;
                (simulate(v, &p, &quiet)?, p.num_blocks)
            }
            None => (summary.clone(), prepared.num_blocks),
        };
        let (adapters, max_loras, gib, ms, loads) = match &r.lora {
            Some(l) => (
                l.adapters.to_string(),
                l.max_loras.to_string(),
                format!("{:.3}", l.reserved_gib),
                format!("{:.3}", l.seconds * 1e3 / l.steps.max(1) as f64),
                l.loads.to_string(),
            ),
            None => ("0".into(), "-".into(), "0".into(), "0".into(), "0".into()),
        };
        let row = vec![
            label.clone(),
            adapters,
            max_loras,
            gib,
            blocks.to_string(),
            ms,
            format!("{:.2}", r.tpot.p50 * 1e3),
            format!("{:.1}", r.ttft.p90 * 1e3),
            format!("{:.1}", r.output_tokens as f64 / r.duration_s.max(1e-9)),
            loads,
        ];
        md.push_str(&format!("| {} |\n", row.join(" | ")));
        rows.push(row);
    }
    Ok(Some((rows, md)))
}

/// The summary table, the charts and the index beside the run's tables, put in place.
fn write_report(
    scn: &Scenario,
    prepared: &Prepared,
    opts: &SimOptions,
    summary: &RunSummary,
    m: &Recorder,
    report: ReportDir,
    mut tables: Vec<crate::report::table::Finished>,
) -> anyhow::Result<PathBuf> {
    let dir = report.path().to_path_buf();
    let rows: Vec<Vec<String>> = summary
        .rows()
        .into_iter()
        .map(|(k, v)| vec![k, v])
        .collect();
    if opts.tables != crate::report::run_tables::Tables::None {
        tables.push(crate::report::table::write_small(
            &dir,
            "summary",
            opts.format,
            &["metric", "value"],
            &rows,
        )?);
    }
    let policies = tenant_policies(scn, prepared, opts)?;
    if let Some((rows, _)) = &policies {
        tables.push(crate::report::table::write_small(
            &dir,
            "tenant_policies",
            opts.format,
            &[
                "tenant_scheduling",
                "limits",
                "tenant",
                "finished",
                "refused",
                "ttft_p90_ms",
                "tpot_p90_ms",
            ],
            rows,
        )?);
    }
    let lora_md = match lora_variants(scn, prepared, summary, opts)? {
        Some((rows, md)) => {
            tables.push(crate::report::table::write_small(
                &dir,
                "lora_adapters",
                opts.format,
                &[
                    "variant",
                    "adapters",
                    "max_loras",
                    "slots_gib_per_gpu",
                    "kv_blocks",
                    "lora_ms_per_lora_step",
                    "tpot_p50_ms",
                    "ttft_p90_ms",
                    "output_tok_s",
                    "adapter_loads",
                ],
                &rows,
            )?);
            md
        }
        None => String::new(),
    };
    let slo_lines = scn
        .slo
        .targets
        .iter()
        .filter(|t| t.tenant.is_none() && t.metric != SloMetric::E2e)
        .map(|t| (slo_label(t), t.limit_ms))
        .collect();
    let verdicts: Vec<(bool, String)> = summary
        .slo
        .iter()
        .map(|v| {
            (
                v.met,
                format!(
                    "{}: {:.1} ms {} {} ms",
                    v.name(),
                    v.measured_ms,
                    if v.met { "≤" } else { ">" },
                    v.limit_ms
                ),
            )
        })
        .collect();
    let scenario_text = std::fs::read_to_string(&scn.path).unwrap_or_default();
    let charts = crate::report::charts::SimCharts {
        summary_rows: summary.rows(),
        warnings: summary
            .warnings()
            .into_iter()
            .map(|(tag, text)| (tag.to_string(), text))
            .collect(),
        verdicts,
        scenario: (scn.path.display().to_string(), scenario_text),
        name: &scn.name,
        ttft_s: &m.ttft,
        tpot_s: &m.tpot,
        slo_lines,
        timeline: m.timeline.as_ref().expect("kept when files are written"),
        kv_blocks: prepared.num_blocks,
        tenants: if scn.engine.prefix_caching {
            m.tenant_names
                .iter()
                .zip(&m.tenant_tokens)
                .map(|(n, t)| (n.clone(), t[0], t[1]))
                .collect()
        } else {
            Vec::new()
        },
        budget: &prepared.budget,
        gpu: format!("{}, TP {}", scn.gpu.name, scn.tp),
        tables: opts.format,
        written: opts.tables,
        comparisons: policies.map(|(_, md)| md).unwrap_or_default() + &lora_md,
        tenant_latency: m.tenant_latencies(),
        tenant_summary: &summary.tenants,
        tenant_slo_lines: scn
            .slo
            .targets
            .iter()
            .filter(|t| t.metric != SloMetric::E2e)
            .filter_map(|t| {
                let tenant = m.tenant_names.get(t.tenant? as usize)?.clone();
                Some((tenant, slo_label(t), t.limit_ms))
            })
            .collect(),
    };
    let (chart_tables, staged) = crate::report::charts::write(&dir, &charts)?;
    tables.extend(chart_tables);
    crate::report::table::commit(tables)?;
    staged.commit()?;
    report.commit()
}
