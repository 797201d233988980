//! `planner size`: how many bytes one token of KV cache costs, how many bytes of the GPU are
//! left for it, and what quantizing the cache buys (longer context, more parallel sequences,
//! or a bigger model). Computes a [`SizeReport`]; the renderers below only format it.

use crate::hardware::GpuSpec;
use crate::kv::sizing::{llama_cpp_bytes, llama_cpp_layer_split};
use crate::kv::{Budget, CacheDtype, EngineKind, EngineMemory, KvError, KvSpec, Stage};
use crate::model::Model;
use crate::units::{GIB, MIB};
use serde::Serialize;

/// The K/V pairs every size table shows (issue #2), before the requested pair.
pub const TABLE_PAIRS: [(CacheDtype, CacheDtype); 5] = [
    (CacheDtype::F16, CacheDtype::F16),
    (CacheDtype::Q8_0, CacheDtype::Q8_0),
    (CacheDtype::Q8_0, CacheDtype::Q4_0),
    (CacheDtype::Q4_0, CacheDtype::Q4_0),
    (CacheDtype::Fp8E4m3, CacheDtype::Fp8E4m3),
];

/// What `planner size` was asked.
#[derive(Debug, Clone, Serialize)]
pub struct SizeRequest {
    /// Tokens of context per sequence.
    pub ctx: u64,
    /// Parallel sequences.
    pub parallel: u64,
    /// Tensor-parallel degree.
    pub tp: u64,
    /// Pipeline stages with their GPUs (empty: one stage on the report's GPU).
    pub stages: Vec<StageGpu>,
    /// llama.cpp's `-c` as typed (the total over `-np` slots), when the user gave it.
    pub ctx_size: Option<u64>,
    /// K cache type.
    pub k: CacheDtype,
    /// V cache type.
    pub v: CacheDtype,
    /// llama.cpp `--tensor-split` proportions (empty: one device).
    pub tensor_split: Vec<f64>,
    /// Engine memory settings.
    pub engine: EngineMemory,
}

/// One pipeline stage and the GPU it runs on.
#[derive(Debug, Clone, Serialize)]
pub struct StageGpu {
    /// Its layers.
    pub stage: Stage,
    /// Its GPU.
    pub gpu: GpuSpec,
}

/// llama.cpp's start-up line for one device.
#[derive(Debug, Clone, Serialize)]
pub struct LlamaCppLine {
    /// Device label ("" for a single device, else "CUDA0", …).
    pub device: String,
    /// Layers on this device.
    pub layers: usize,
    /// K bytes.
    pub k_bytes: u64,
    /// V bytes.
    pub v_bytes: u64,
}

/// One row of the dtype trade-off table.
#[derive(Debug, Clone, Serialize)]
pub struct PairRow {
    /// K type.
    pub k: CacheDtype,
    /// V type.
    pub v: CacheDtype,
    /// KV bytes per token on one GPU (all KV layers).
    pub bytes_per_token: u64,
    /// KV bytes this request needs on one GPU (ctx × parallel, windows capped).
    pub request_bytes: u64,
    /// Budget for KV on one GPU (whole blocks).
    pub kv_budget_bytes: u64,
    /// Whether the request fits.
    pub fits: bool,
    /// vLLM "GPU KV cache size" in tokens.
    pub kv_tokens: u64,
    /// Largest context at this parallelism.
    pub max_context: u64,
    /// Whether `max_context` is the model's `max_position_embeddings` cap.
    pub max_context_capped: bool,
    /// Most sequences of this context.
    pub max_parallel: u64,
    /// Bytes this pair saves on this request against f16/f16 (negative: costs more).
    pub freed_bytes: i64,
    /// Largest catalog model whose weights would fit beside this request's KV cache.
    pub fits_instead: Option<String>,
}

/// Everything `planner size` prints.
#[derive(Debug, Clone, Serialize)]
pub struct SizeReport {
    /// Model name.
    pub model: String,
    /// GPU name.
    pub gpu: String,
    /// The request.
    pub request: SizeRequest,
    /// Memory budget at the requested pair (under PP: the stage with the fewest KV tokens,
    /// which bounds the engine's capacity).
    pub budget: Budget,
    /// Every stage's budget at the requested pair (one entry without PP).
    pub stage_budgets: Vec<Budget>,
    /// The budget at the requested pair under each engine's rules (defaults otherwise).
    pub engines: Vec<Budget>,
    /// llama.cpp lines (one per device).
    pub llama_cpp: Vec<LlamaCppLine>,
    /// The trade-off table; the requested pair is marked by `requested_row`.
    pub rows: Vec<PairRow>,
    /// Index of the requested pair in `rows`.
    pub requested_row: usize,
    /// Decode at the request's shape, one GPU: bytes read per step and the time floor.
    pub decode: DecodeFloor,
}

/// The memory-bandwidth floor of one decode step with every requested sequence running.
#[derive(Debug, Clone, Serialize)]
pub struct DecodeFloor {
    /// Bytes one GPU reads per step: its weight share (MoE: experts the batch touches) and
    /// every sequence's KV.
    pub bytes_per_step: f64,
    /// bytes / the GPU's HBM bandwidth (measured if the catalog has it, else datasheet).
    pub step_seconds_floor: f64,
    /// parallel / step time: output tokens per second per replica, at best.
    pub tokens_per_s_ceiling: f64,
}

/// Why `size` cannot answer.
#[derive(Debug, thiserror::Error)]
pub enum SizeError {
    /// An impossible setting (exit 2).
    #[error("{0}")]
    Setting(String),
    /// The layout is impossible (TP, block types).
    #[error(transparent)]
    Kv(#[from] KvError),
}

/// Check the request's plain settings.
pub fn validate(req: &SizeRequest) -> Result<(), SizeError> {
    let bad = |s: String| Err(SizeError::Setting(s));
    if req.ctx == 0 {
        return bad("--ctx must be at least 1 token".into());
    }
    if req.parallel == 0 {
        return bad("--parallel must be at least 1 sequence".into());
    }
    let u = req.engine.gpu_memory_utilization;
    if !(u > 0.0 && u <= 1.0) {
        return bad(format!(
            "--gpu-memory-utilization {u}: must be in (0, 1], e.g. 0.9"
        ));
    }
    let bs = req.engine.block_size;
    if bs == 0 || !bs.is_power_of_two() || bs > 256 {
        return bad(format!(
            "--block-size {bs}: must be a power of two in 1..=256 (vLLM uses 16)"
        ));
    }
    if req
        .tensor_split
        .iter()
        .any(|x| !(x.is_finite() && *x >= 0.0))
        || (!req.tensor_split.is_empty() && req.tensor_split.iter().sum::<f64>() <= 0.0)
    {
        return bad(format!(
            "--tensor-split {:?}: proportions must be non-negative and not all zero, e.g. 10,6",
            req.tensor_split
        ));
    }
    Ok(())
}

/// Compute the report. `catalog` is every known model, for the "fits instead" column.
pub fn size(
    model: &Model,
    gpu: &GpuSpec,
    req: &SizeRequest,
    catalog: &[Model],
) -> Result<SizeReport, SizeError> {
    validate(req)?;
    let mut pairs: Vec<(CacheDtype, CacheDtype)> = TABLE_PAIRS.to_vec();
    let requested_row = match pairs.iter().position(|p| *p == (req.k, req.v)) {
        Some(i) => i,
        None => {
            pairs.push((req.k, req.v));
            pairs.len() - 1
        }
    };
    let base = KvSpec::new(model, CacheDtype::F16, CacheDtype::F16, req.tp)?;
    let base_request = request_bytes(&base, req);
    let mut rows = Vec::new();
    let mut budget_at_request = None;
    for (i, &(k, v)) in pairs.iter().enumerate() {
        let kv = match KvSpec::new(model, k, v, req.tp) {
            Ok(kv) => kv,
            // A block type that does not fit this model's rows: skip the row, unless asked for.
            Err(_) if i != requested_row => continue,
            Err(e) => return Err(e.into()),
        };
        let (budget, stage_budgets) = budgets_by_stage(model, &kv, gpu, req, &req.engine);
        let need = request_bytes(&kv, req);
        // Tokens are what every stage must hold (llama.cpp: cells on the GPU); in bytes of
        // the whole model's KV per GPU.
        let kv_budget = budget.tokens.saturating_mul(kv.total_bytes_per_token());
        let (max_context, capped) = kv.max_context(kv_budget, req.parallel);
        let headroom = budget.usable - budget.activations - budget.reserve - need as f64;
        let fits_instead = catalog
            .iter()
            .filter(|m| (m.weight_bytes(&req.engine.weights) as f64 / req.tp as f64) <= headroom)
            .max_by_key(|m| m.params_total())
            .map(|m| m.name.clone());
        let row = PairRow {
            k,
            v,
            bytes_per_token: kv.total_bytes_per_token(),
            request_bytes: need,
            kv_budget_bytes: kv_budget,
            fits: need <= kv_budget && budget.blocks > 0,
            kv_tokens: budget.tokens,
            max_context,
            max_context_capped: capped,
            max_parallel: kv.max_parallel(kv_budget, req.ctx),
            freed_bytes: base_request as i64 - need as i64,
            fits_instead,
        };
        if i == requested_row {
            budget_at_request = Some((rows.len(), budget, stage_budgets));
        }
        rows.push(row);
    }
    let (requested_row, budget, stage_budgets) =
        budget_at_request.expect("the requested pair always has a row");
    let requested_kv = KvSpec::new(model, req.k, req.v, req.tp)?;
    let engines = EngineKind::ALL
        .iter()
        .map(|&kind| {
            let engine = EngineMemory {
                weights: req.engine.weights.clone(),
                ..EngineMemory::defaults_for(kind, &gpu.name, gpu.memory_bytes, req.ctx)
            };
            budgets_by_stage(model, &requested_kv, gpu, req, &engine).0
        })
        .collect();
    let kv = KvSpec::new(model, req.k, req.v, 1)?;
    let n = model.n_layers();
    let llama_cpp = if req.tensor_split.len() > 1 {
        llama_cpp_layer_split(n, &req.tensor_split)
            .into_iter()
            .enumerate()
            .map(|(d, r)| {
                let (k, v) = llama_cpp_bytes(&kv, r.clone(), req.ctx, req.parallel);
                LlamaCppLine {
                    device: format!("CUDA{d}"),
                    layers: r.len(),
                    k_bytes: k,
                    v_bytes: v,
                }
            })
            .collect()
    } else {
        let (k, v) = llama_cpp_bytes(&kv, 0..n, req.ctx, req.parallel);
        vec![LlamaCppLine {
            device: String::new(),
            layers: n,
            k_bytes: k,
            v_bytes: v,
        }]
    };
    let row = &rows[requested_row];
    // Weights touched by one step (all sequences share the read), split over TP; KV is
    // already per GPU.
    let weights_per_step =
        model.decode_bytes_per_token(&req.engine.weights, req.parallel, 0) * req.parallel as f64;
    let bytes_per_step = weights_per_step / req.tp as f64 + row.request_bytes as f64;
    let step = bytes_per_step / gpu.effective_hbm_bytes_per_s();
    let decode = DecodeFloor {
        bytes_per_step,
        step_seconds_floor: step,
        tokens_per_s_ceiling: req.parallel as f64 / step,
    };
    Ok(SizeReport {
        decode,
        model: model.name.clone(),
        gpu: gpu.name.clone(),
        request: req.clone(),
        budget,
        stage_budgets,
        engines,
        llama_cpp,
        rows,
        requested_row,
    })
}

/// Every stage's budget under `engine` and the binding one (fewest KV tokens: vLLM and
/// TensorRT-LLM take the minimum over ranks).
fn budgets_by_stage(
    model: &Model,
    kv: &KvSpec,
    gpu: &GpuSpec,
    req: &SizeRequest,
    engine: &EngineMemory,
) -> (Budget, Vec<Budget>) {
    let all = if req.stages.is_empty() {
        vec![Budget::new(model, kv, gpu.memory_bytes, engine)]
    } else {
        req.stages
            .iter()
            .map(|s| {
                let pp = req.stages.len() as u64;
                Budget::for_stage(model, kv, s.gpu.memory_bytes, engine, &s.stage, pp)
            })
            .collect()
    };
    let binding = all
        .iter()
        .min_by_key(|b| b.tokens)
        .cloned()
        .unwrap_or_else(|| Budget::new(model, kv, gpu.memory_bytes, engine));
    (binding, all)
}

/// KV bytes the request needs on one GPU: `parallel` sequences of `ctx` tokens, each
/// rounded up to whole blocks, sliding-window layers capped at their window.
fn request_bytes(kv: &KvSpec, req: &SizeRequest) -> u64 {
    let ctx = req.ctx.div_ceil(req.engine.block_size) * req.engine.block_size;
    let (k, v) = kv.bytes_for_context(ctx);
    k.saturating_add(v).saturating_mul(req.parallel)
}

impl SizeReport {
    /// The requested pair's row.
    pub fn requested(&self) -> &PairRow {
        &self.rows[self.requested_row]
    }

    /// Whether the weights fit at all.
    pub fn weights_fit(&self) -> bool {
        self.budget.blocks > 0
    }

    /// The three parts as text: llama.cpp's lines, vLLM's lines, the trade-off table.
    pub fn render_table(&self) -> String {
        let mut s = String::new();
        let r = &self.request;
        s.push_str(&format!(
            "{} on {} × {} (TP {}{}), engine {}, ctx {} × {} parallel, K {} / V {}, block {}\n",
            self.model,
            r.tp * (r.stages.len().max(1) as u64),
            if r.stages.is_empty() {
                self.gpu.clone()
            } else {
                r.stages
                    .iter()
                    .map(|s| s.gpu.name.as_str())
                    .collect::<Vec<_>>()
                    .join("+")
            },
            r.tp,
            if r.stages.len() > 1 {
                format!(", PP {}", r.stages.len())
            } else {
                String::new()
            },
            r.engine.kind,
            r.ctx,
            r.parallel,
            r.k,
            r.v,
            r.engine.block_size
        ));
        s.push_str(&format!(
            "weights: {} ({})\n\n",
            r.engine.weights.format, r.engine.weights.source
        ));
        if r.k.in_llama_cpp() && r.v.in_llama_cpp() {
            s.push_str(&format!(
                "llama.cpp (-c {} -np {} -ctk {} -ctv {}):\n",
                r.ctx * r.parallel,
                r.parallel,
                r.k,
                r.v
            ));
        } else {
            // llama.cpp has no fp8 cache: its layout at these sizes, and the nearest flags.
            let nearest = |d: CacheDtype| {
                if d.in_llama_cpp() {
                    d
                } else {
                    CacheDtype::Q8_0
                }
            };
            s.push_str(&format!(
                "llama.cpp (-c {} -np {}; it has no fp8 cache type, the nearest is -ctk {} -ctv {}), its layout at {}/{}:\n",
                r.ctx * r.parallel,
                r.parallel,
                nearest(r.k),
                nearest(r.v),
                r.k,
                r.v
            ));
        }
        for l in &self.llama_cpp {
            let prefix = if l.device.is_empty() {
                String::new()
            } else {
                format!("{} ({} layers): ", l.device, l.layers)
            };
            s.push_str(&format!(
                "  {prefix}KV self size = {:.2} MiB, K ({}): {:.2} MiB, V ({}): {:.2} MiB\n",
                (l.k_bytes + l.v_bytes) as f64 / MIB as f64,
                r.k,
                l.k_bytes as f64 / MIB as f64,
                r.v,
                l.v_bytes as f64 / MIB as f64
            ));
        }
        let b = &self.budget;
        s.push_str(&format!("\n{} budget per GPU: {}\n", b.kind, b.formula()));
        if self.stage_budgets.len() > 1 {
            for (i, (st, sb)) in r.stages.iter().zip(&self.stage_budgets).enumerate() {
                s.push_str(&format!(
                    "  stage {i} ({}, layers {}..{}): {} → {} tokens\n",
                    st.gpu.name,
                    st.stage.layers.start,
                    st.stage.layers.end,
                    sb.formula(),
                    sb.tokens
                ));
            }
            s.push_str("  the engine's KV capacity is the smallest stage's (minimum over ranks)\n");
        }
        for line in b.engine_log(r.engine.block_size, r.ctx) {
            s.push_str(&format!("  {line}\n"));
        }
        s.push_str("\nEach engine at its defaults (same weights and cache types, one stage per GPU group):\n");
        for e in &self.engines {
            s.push_str(&format!(
                "  {:<10} KV {:>8.2} GiB, {:>9} tokens   {}\n",
                e.kind.as_str(),
                e.kv / GIB as f64,
                e.tokens,
                e.engine_log(e.block_size(), r.ctx).join(" | ")
            ));
        }
        s.push('\n');
        s.push_str(&format!(
            "Decode with all {} sequences at {} tokens: {:.2} GB read per step per GPU (weights + KV) → at least {:.2} ms per step, at most {:.0} tokens/s per replica (HBM-bound floor)\n\n",
            r.parallel,
            r.ctx,
            self.decode.bytes_per_step / 1e9,
            self.decode.step_seconds_floor * 1e3,
            self.decode.tokens_per_s_ceiling
        ));
        s.push_str(&format!(
            "{:<12} {:>10} {:>12} {:>5} {:>12} {:>12} {:>10} {:>10}  {}\n",
            "K/V",
            "B/token",
            "request GiB",
            "fits",
            "max ctx",
            "max parallel",
            "KV tokens",
            "freed GiB",
            "weights that fit instead"
        ));
        for (i, row) in self.rows.iter().enumerate() {
            let mark = if i == self.requested_row { "*" } else { " " };
            s.push_str(&format!(
                "{mark}{:<11} {:>10} {:>12.2} {:>5} {:>12} {:>12} {:>10} {:>10.2}  {}\n",
                format!("{}/{}", row.k, row.v),
                row.bytes_per_token,
                row.request_bytes as f64 / GIB as f64,
                if row.fits { "yes" } else { "no" },
                format!(
                    "{}{}",
                    row.max_context,
                    if row.max_context_capped { " (cap)" } else { "" }
                ),
                row.max_parallel,
                row.kv_tokens,
                row.freed_bytes as f64 / GIB as f64,
                row.fits_instead.as_deref().unwrap_or("-")
            ));
        }
        s.push_str("\n* requested pair. Per GPU; \"(cap)\": the model's max_position_embeddings limits the context, not memory.\n");
        s
    }

    /// The trade-off table as CSV (fixed column order).
    pub fn render_csv(&self) -> String {
        let mut s = String::from(
            "model,gpu,tp,ctx,parallel,k,v,requested,bytes_per_token,request_bytes,kv_budget_bytes,fits,kv_tokens,max_context,max_context_capped,max_parallel,freed_bytes,fits_instead\n",
        );
        for (i, r) in self.rows.iter().enumerate() {
            s.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                self.model,
                self.gpu,
                self.request.tp,
                self.request.ctx,
                self.request.parallel,
                r.k,
                r.v,
                i == self.requested_row,
                r.bytes_per_token,
                r.request_bytes,
                r.kv_budget_bytes,
                r.fits,
                r.kv_tokens,
                r.max_context,
                r.max_context_capped,
                r.max_parallel,
                r.freed_bytes,
                r.fits_instead.as_deref().unwrap_or("")
            ));
        }
        s
    }

    /// The whole report as JSON.
    pub fn render_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

/// The golden sizing table: every catalog model × GPU × [`TABLE_PAIRS`] at `vllm serve`'s
/// V1 defaults for that GPU (TP 1, bf16 weights, utilization 0.9, block 16, and 8192 batched
/// tokens / 1024 sequences on 70 GiB and larger GPUs but the A100, else 2048 / 256): bytes
/// per token, KV tokens, and vLLM's maximum concurrency at 8192 tokens. Any change to a figure
/// changes this CSV; `tests/golden/sizing.csv` holds the committed copy.
pub fn golden_table(models: &[Model], gpus: &[GpuSpec]) -> String {
    let mut s = String::from("model,gpu,k,v,bytes_per_token,kv_tokens,max_concurrency_8k\n");
    for m in models {
        for g in gpus {
            let engine =
                EngineMemory::defaults_for(EngineKind::Vllm, &g.name, g.memory_bytes, 8192);
            for (k, v) in TABLE_PAIRS {
                let Ok(kv) = KvSpec::new(m, k, v, 1) else {
                    s.push_str(&format!("{},{},{k},{v},unsupported,,\n", m.name, g.name));
                    continue;
                };
                let b = Budget::new(m, &kv, g.memory_bytes, &engine);
                s.push_str(&format!(
                    "{},{},{k},{v},{},{},{:.2}\n",
                    m.name,
                    g.name,
                    kv.total_bytes_per_token(),
                    b.tokens,
                    b.max_concurrency(8192)
                ));
            }
        }
    }
    s
}

/// The trade-off chart of quantizing the cache: for each K/V dtype pair of the table, the
/// longest context at 1, 2, 4, …, 1024 parallel sequences (the same computation as the
/// table's "max ctx" column, at each parallelism). Writes `kv_tradeoff.csv`,
/// `kv_tradeoff.png` and an index `README.md` into `dir`; returns their paths.
pub fn write_tradeoff_chart(
    model: &Model,
    gpu: &GpuSpec,
    req: &SizeRequest,
    catalog: &[Model],
    dir: &std::path::Path,
) -> anyhow::Result<Vec<std::path::PathBuf>> {
    use crate::report::png::{Chart, Mark, RefLine, Series, render_chart};
    use crate::report::table::{Kind, TableFormat, TableWriter, commit};
    let parallels: Vec<u64> = (0..=10).map(|e| 1u64 << e).collect();
    // (pair label, points (parallel, max context, capped)) in table order.
    type Curve = (String, Vec<(u64, u64, bool)>);
    let mut curves: Vec<Curve> = Vec::new();
    for &p in &parallels {
        let r = size(
            model,
            gpu,
            &SizeRequest {
                parallel: p,
                ..req.clone()
            },
            catalog,
        )?;
        for (i, row) in r.rows.iter().enumerate() {
            if curves.len() <= i {
                curves.push((format!("{}/{}", row.k, row.v), Vec::new()));
            }
            curves[i]
                .1
                .push((p, row.max_context, row.max_context_capped));
        }
    }
    crate::report::check_dir(dir)?;
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", dir.display()))?;
    let mut t = TableWriter::create(
        dir,
        "kv_tradeoff",
        TableFormat::Csv,
        &[
            ("k_dtype", Kind::Str),
            ("v_dtype", Kind::Str),
            ("parallel_sequences", Kind::U64),
            ("max_context_tokens", Kind::U64),
            ("capped_by_max_position_embeddings", Kind::Str),
        ],
    )?;
    for (label, pts) in &curves {
        let (k, v) = label.split_once('/').unwrap_or((label, label));
        for &(p, ctx, capped) in pts {
            t.str(0, k);
            t.str(1, v);
            t.u64(2, p);
            t.u64(3, ctx);
            t.str(4, if capped { "yes" } else { "no" });
            t.end_row()?;
        }
    }
    let csv = t.finish()?;
    let mut chart = Chart::new(
        format!(
            "{} on {} (TP {}): context vs parallel sequences",
            model.name, gpu.name, req.tp
        ),
        "parallel sequences (log scale)",
        "longest context per sequence (tokens, log scale)",
    );
    chart.x_log = true;
    chart.y_log = true;
    for (label, pts) in &curves {
        chart.series.push(Series {
            name: label.clone(),
            points: pts
                .iter()
                .filter(|p| p.1 > 0)
                .map(|&(p, c, _)| (p as f64, c as f64))
                .collect(),
            mark: Mark::LinePoints,
        });
    }
    chart.ref_lines.push(RefLine {
        label: format!("requested: {} × {} tokens", req.parallel, req.ctx),
        value: req.ctx as f64,
        horizontal: true,
    });
    let mut staged = crate::report::Staged::default();
    render_chart(&chart, &staged.path(dir, "kv_tradeoff.png"))?;
    let index = format!(
        "# Sizing report: {} on {}\n\n![kv_tradeoff.png](kv_tradeoff.png)\n\nThe longest \
         context each sequence can have at 1 to 1024 parallel sequences, for each K/V cache \
         type pair (flat where the model's max_position_embeddings caps it, not memory); \
         the dashed line is the requested context. Data: kv_tradeoff.csv.\n",
        model.name, gpu.name
    );
    staged.text(dir, "README.md", &index)?;
    let mut out = commit(vec![csv])?;
    out.extend(staged.commit()?);
    crate::report::mark(dir, None)?;
    Ok(out)
}
