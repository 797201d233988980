//! `RawScenario` → [`Scenario`], purely: catalog names resolved, units converted, every rule
//! checked, each error naming the file, the line (from the value's span), the dotted key, the
//! value as written and the fix. The files a scenario names are read before, by
//! [`Files::read`]; lowering reads nothing but the catalogs.
//!
//! One function per table: [`lower_model`], [`lower_hardware`], [`lower_engine`] (and
//! [`lower_speculative`]), [`lower_workload`] (with [`lower_source`], [`lower_dist`] and
//! [`lower_sharing`]), [`lower_slo`].

use super::raw::{
    RawAcceptance, RawArrival, RawDist, RawEngine, RawHardware, RawModel, RawPercentiles,
    RawScenario, RawSlo, RawSpecMethod, RawSpeculative, RawThinkFrom, RawWorkload, Sp,
};
use super::{MAX_REQUESTS, Scenario, ScenarioError, Slo, SloMetric, SloTarget};
use crate::catalog::{Catalog, is_path};
use crate::hardware::GpuSpec;
use crate::kv::{CacheDtype, Isolation, KvSpec};
use crate::model::{Model, Precision, WeightDtype};
use crate::serving::config::{EngineConfig, Router, SchedulerKind};
use crate::serving::lora::{LoraEngine, Targets, TenantLora};
use crate::serving::spec::{Acceptance, SpecMethod, Speculative};
use crate::serving::tenancy::{Bucket, Tenancy, TenantPolicy, TenantScheduling};
use crate::sim::Nanos;
use crate::workload::{
    ArrivalProcess, FewShot, LengthDist, Patience, Rag, Sessions, Sharing, Tenant, TenantTraffic,
    TraceFormat, WorkloadSource, WorkloadSpec,
};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Largest Zipf support (max − min + 1): its CDF is precomputed, 8 bytes per point.
const MAX_ZIPF_SUPPORT: f64 = 16_777_216.0;

/// Simulated time is integer nanoseconds in a `u64` (584 years); rates, durations and think
/// times are bounded so that arrival times stay far inside it.
const MIN_RATE: f64 = 1e-6;
const MAX_RATE: f64 = 1e9;
const MAX_SECONDS: f64 = 1e9;
/// Gamma arrivals: below this cv the gaps are constant to within 0.1 % (and the sampler loses
/// its precision); above the other, nearly every gap is 0.
const GAMMA_CV: (f64, f64) = (1e-3, 30.0);
/// Longest a length file may be, in lines.
const MAX_EMPIRICAL_VALUES: usize = 10_000_000;

/// What the files a scenario names hold, read before lowering: empirical length files'
/// text, and whether a trace or a measured file exists. Keyed by the resolved path.
#[derive(Debug, Default)]
pub struct Files {
    texts: BTreeMap<PathBuf, Result<String, String>>,
    exists: BTreeMap<PathBuf, bool>,
}

impl Files {
    /// Read (or check) every file `raw` names, paths resolved against `base` (the scenario's
    /// folder).
    pub fn read(raw: &RawScenario, base: &Path) -> Files {
        let mut files = Files::default();
        let w = &raw.workload;
        let mut empirical = Vec::new();
        for d in [&w.prompt, &w.output].into_iter().flatten() {
            empirical.push(d.get_ref());
        }
        if let Some(r) = &w.rag
            && let Some(d) = &r.get_ref().document_tokens
        {
            empirical.push(d.get_ref());
        }
        if let Some(s) = &w.sessions
            && let Some(d) = &s.get_ref().turns
        {
            empirical.push(d.get_ref());
        }
        for d in empirical {
            if let RawDist::Empirical { file, .. } = d {
                let p = resolve(base, file);
                let text = std::fs::read_to_string(&p).map_err(|e| e.to_string());
                files.texts.insert(p, text);
            }
        }
        let named = [w.trace.as_ref(), raw.hardware.measured.as_ref()];
        for p in named.into_iter().flatten() {
            let p = resolve(base, p.get_ref());
            let exists = p.is_file();
            files.exists.insert(p, exists);
        }
        files
    }

    fn text(&self, p: &Path) -> Result<&str, String> {
        match self.texts.get(p) {
            Some(Ok(t)) => Ok(t),
            Some(Err(e)) => Err(e.clone()),
            None => Err("not read".to_string()),
        }
    }

    fn exists(&self, p: &Path) -> bool {
        self.exists.get(p).copied().unwrap_or(false)
    }
}

/// A path as written in the scenario: relative to the scenario's folder, or absolute.
fn resolve(base: &Path, p: &str) -> PathBuf {
    let pb = PathBuf::from(p);
    if pb.is_absolute() { pb } else { base.join(pb) }
}

/// What every lowering function needs: the text (for lines), the file's path, its folder, and
/// the files it names.
pub struct Cx<'a> {
    text: &'a str,
    path: &'a Path,
    files: &'a Files,
}

impl Cx<'_> {
    /// An error at `at` (a value's span; `None` for a key not written), for `key`.
    fn err(
        &self,
        at: Option<Range<usize>>,
        key: &str,
        value: impl std::fmt::Display,
        rule: &str,
    ) -> ScenarioError {
        ScenarioError::Invalid {
            path: self.path.to_path_buf(),
            line: at.map(|s| super::error::line_at(self.text, s.start)),
            key: key.to_string(),
            value: value.to_string(),
            rule: rule.to_string(),
        }
    }

    /// An error at a spanned value, showing the value as written in the file.
    fn bad<T>(&self, v: &Sp<T>, key: &str, rule: &str) -> ScenarioError {
        let written = self.text.get(v.span()).unwrap_or("").trim();
        self.err(Some(v.span()), key, written, rule)
    }

    fn base(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }

    fn resolve(&self, p: &str) -> PathBuf {
        resolve(self.base(), p)
    }

    /// A catalog spec as written: a path resolved against the scenario's folder, a name or a
    /// Hugging Face id (`org/name` that is no file there) unchanged.
    fn catalog_spec(&self, spec: &str) -> String {
        let hf_id = crate::catalog::is_hf_id(spec) && !self.resolve(spec).exists();
        if is_path(spec) && !hf_id {
            self.resolve(spec).to_string_lossy().into_owned()
        } else {
            spec.to_string()
        }
    }

    /// A string value's error (the value as written, quotes included).
    fn bad_str(&self, v: &Sp<String>, key: &str, rule: &str) -> ScenarioError {
        self.bad(v, key, rule)
    }
}

/// An optional whole number in `lo..=hi`, or `default`.
fn int_in(
    cx: &Cx,
    v: &Option<Sp<i64>>,
    key: &str,
    (lo, hi): (i64, i64),
    default: i64,
    rule: &str,
) -> Result<i64, ScenarioError> {
    match v {
        None => Ok(default),
        Some(x) if (lo..=hi).contains(x.get_ref()) => Ok(*x.get_ref()),
        Some(x) => Err(cx.bad(x, key, rule)),
    }
}

/// An optional number in `(lo, hi]` (finite), or `default`.
fn positive_upto(
    cx: &Cx,
    v: &Option<Sp<f64>>,
    key: &str,
    (lo, hi): (f64, f64),
    default: f64,
    rule: &str,
) -> Result<f64, ScenarioError> {
    match v {
        None => Ok(default),
        Some(x) if *x.get_ref() > lo && *x.get_ref() <= hi => Ok(*x.get_ref()),
        Some(x) => Err(cx.bad(x, key, rule)),
    }
}

/// An optional duration in ms in [0, 10 000] (finite), as seconds; or `default` (seconds).
fn non_negative_ms(
    cx: &Cx,
    v: &Option<Sp<f64>>,
    key: &str,
    default: f64,
) -> Result<f64, ScenarioError> {
    match v {
        None => Ok(default),
        Some(x) if (0.0..=10_000.0).contains(x.get_ref()) => Ok(*x.get_ref() * 1e-3),
        Some(x) => Err(cx.bad(x, key, "must be in 0..=10000 ms, e.g. 1.85")),
    }
}

/// Lower a parsed scenario (`text` is the file's text, for lines; `path` names it and
/// anchors its relative paths).
pub fn lower(
    raw: &RawScenario,
    text: &str,
    path: &Path,
    catalog: &Catalog,
    files: &Files,
) -> Result<Scenario, ScenarioError> {
    let cx = Cx { text, path, files };
    let (model, precision) = lower_model(&cx, &raw.model, catalog)?;
    let hw = lower_hardware(&cx, &raw.hardware, catalog)?;
    let (mut engine, draft) = lower_engine(&cx, &raw.engine, &model, &hw, catalog)?;
    let batched_at = raw.engine.max_num_batched_tokens.as_ref().map(|b| b.span());
    let workload = lower_workload(&cx, &raw.workload, &model, &engine, batched_at)?;
    engine.tenancy = lower_tenancy(&cx, raw, &workload, &engine, &model)?;
    engine.lora = lower_lora(&cx, raw, &engine)?;
    let slo = lower_slo(&cx, &raw.slo, &workload)?;
    let name = match &raw.name {
        Some(n) => {
            let s = n.get_ref();
            if s.is_empty() || s.contains(['/', '\\']) || s == ".." || s == "." {
                return Err(cx.bad_str(n, "name", "must be a plain folder name"));
            }
            s.clone()
        }
        None => path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("scenario")
            .to_string(),
    };
    Ok(Scenario {
        name,
        path: path.to_path_buf(),
        seed: raw.seed,
        output_dir: PathBuf::from(raw.output_dir.clone().unwrap_or_else(|| "reports".into())),
        model,
        precision,
        gpu: hw.gpu,
        tp: hw.tp,
        replicas: hw.replicas,
        measured: hw.measured,
        engine,
        router: hw.router,
        draft,
        workload,
        slo,
    })
}

/// `[model]`: the model and its weight dtype (default: fp16 if its torch_dtype is float16,
/// else bf16).
pub fn lower_model(
    cx: &Cx,
    m: &RawModel,
    catalog: &Catalog,
) -> Result<(Model, Precision), ScenarioError> {
    let model = catalog
        .model(&cx.catalog_spec(m.name.get_ref()))
        .map_err(|e| cx.bad_str(&m.name, "model.name", &e.to_string()))?;
    let precision = match &m.weight_dtype {
        Some(s) => {
            let dtype: WeightDtype =
                s.get_ref().parse().map_err(|e: crate::model::ModelError| {
                    cx.bad_str(s, "model.weight_dtype", &e.to_string())
                })?;
            Precision::uniform(dtype).from("model.weight_dtype")
        }
        None => model.default_precision(),
    };
    Ok((model, precision))
}

/// `[hardware]`, lowered.
pub struct Hardware {
    /// The GPU.
    pub gpu: GpuSpec,
    /// Tensor-parallel degree.
    pub tp: u32,
    /// Replicas.
    pub replicas: u32,
    /// How arrivals are spread.
    pub router: Router,
    /// A measured bench file.
    pub measured: Option<PathBuf>,
    /// Where `tp` is written (a rule about the TP degree points there).
    pub tp_at: Option<Range<usize>>,
}

/// `[hardware]`.
pub fn lower_hardware(
    cx: &Cx,
    h: &RawHardware,
    catalog: &Catalog,
) -> Result<Hardware, ScenarioError> {
    let mut gpu = catalog
        .gpu(&cx.catalog_spec(h.gpu.get_ref()))
        .map_err(|e| cx.bad_str(&h.gpu, "hardware.gpu", &e.to_string()))?;
    if let Some(p) = &h.usd_per_hour {
        if !(*p.get_ref() > 0.0 && p.get_ref().is_finite()) {
            return Err(cx.bad(
                p,
                "hardware.usd_per_hour",
                "must be a positive price per GPU-hour in USD, e.g. 2.1",
            ));
        }
        gpu.usd_per_hour = *p.get_ref();
        gpu.price_from = format!("hardware.usd_per_hour in {}", cx.path.display());
    }
    let tp = int_in(
        cx,
        &h.tp,
        "hardware.tp",
        (1, 1024),
        1,
        "must be at least 1 (and at most 1024)",
    )?;
    let replicas = int_in(
        cx,
        &h.replicas,
        "hardware.replicas",
        (1, 4096),
        1,
        "must be in 1..=4096",
    )?;
    let measured = match &h.measured {
        Some(m) => {
            let p = cx.resolve(m.get_ref());
            if !cx.files.exists(&p) {
                return Err(cx.bad_str(
                    m,
                    "hardware.measured",
                    "file not found (write one with `planner bench`)",
                ));
            }
            Some(p)
        }
        None => None,
    };
    Ok(Hardware {
        gpu,
        tp: tp as u32,
        replicas: replicas as u32,
        router: h.router.unwrap_or_default(),
        measured,
        tp_at: h.tp.as_ref().map(|t| t.span()),
    })
}

/// `[engine]` (and `[engine.speculative]`): the engine configuration and, for speculation
/// with a draft model, the draft.
pub fn lower_engine(
    cx: &Cx,
    e: &RawEngine,
    model: &Model,
    hw: &Hardware,
    catalog: &Catalog,
) -> Result<(EngineConfig, Option<Model>), ScenarioError> {
    let mut engine = EngineConfig::default();
    if let Some(k) = &e.kind {
        engine.kind = k
            .get_ref()
            .parse()
            .map_err(|err: crate::kv::engine::UnknownEngine| {
                cx.bad_str(k, "engine.kind", &err.to_string())
            })?;
        match engine.kind {
            crate::kv::EngineKind::Trtllm => {
                // TensorRT-LLM's KvCacheConfig.tokens_per_block (PyTorch backend), and
                // trtllm-serve's max_batch_size / max_num_tokens defaults (v0.20–1.0).
                engine.block_size = 32;
                engine.max_num_seqs = 2048;
                engine.max_num_batched_tokens = 8192;
            }
            crate::kv::EngineKind::LlamaCpp => {
                // llama-server's `-np 1` and `-b 2048` (common/common.h n_parallel, n_batch).
                engine.max_num_seqs = 1;
                engine.max_num_batched_tokens = 2048;
            }
            _ => {}
        }
    }
    if let Some(f) = &e.mem_fraction_static {
        engine.mem_fraction_static = Some(positive_upto(
            cx,
            &Some(f.clone()),
            "engine.mem_fraction_static",
            (0.0, 1.0),
            0.88,
            "must be in (0, 1], e.g. 0.88 (SGLang: weights + KV pool over GPU memory)",
        )?);
    }
    engine.kv_cache_free_gpu_mem_fraction = positive_upto(
        cx,
        &e.kv_cache_free_gpu_mem_fraction,
        "engine.kv_cache_free_gpu_mem_fraction",
        (0.0, 1.0),
        engine.kv_cache_free_gpu_mem_fraction,
        "must be in (0, 1], e.g. 0.9 (TensorRT-LLM: share of the memory free after weights)",
    )?;
    engine.capacity_scheduler_policy = e
        .capacity_scheduler_policy
        .unwrap_or(engine.capacity_scheduler_policy);
    engine.schedule_conservativeness = positive_upto(
        cx,
        &e.schedule_conservativeness,
        "engine.schedule_conservativeness",
        (0.0, 100.0),
        engine.schedule_conservativeness,
        "must be in (0, 100], e.g. 1.0 (SGLang: > 1 reserves more for running requests' output)",
    )?;
    engine.scheduler = e.scheduler.unwrap_or(engine.scheduler);
    engine.max_num_seqs = int_in(
        cx,
        &e.max_num_seqs,
        "engine.max_num_seqs",
        (1, 65_536),
        engine.max_num_seqs as i64,
        "must be in 1..=65536",
    )? as u32;
    engine.max_num_batched_tokens = int_in(
        cx,
        &e.max_num_batched_tokens,
        "engine.max_num_batched_tokens",
        (1, 1 << 20),
        engine.max_num_batched_tokens as i64,
        "must be in 1..=1048576",
    )? as u32;
    if let Some(b) = &e.block_size {
        let v = *b.get_ref();
        if !(1..=256).contains(&v) || !(v as u64).is_power_of_two() {
            return Err(cx.bad(
                b,
                "engine.block_size",
                "must be a power of two in 1..=256 (vLLM uses 16)",
            ));
        }
        engine.block_size = v as u32;
    }
    engine.gpu_memory_utilization = positive_upto(
        cx,
        &e.gpu_memory_utilization,
        "engine.gpu_memory_utilization",
        (0.0, 1.0),
        engine.gpu_memory_utilization,
        "must be in (0, 1], e.g. 0.9",
    )?;
    (engine.cache_type_k, engine.cache_type_v) = cache_dtypes(cx, e, model)?;
    engine.preemption = e.preemption.unwrap_or(engine.preemption);
    engine.attention = e.attention.unwrap_or(engine.attention);
    engine.max_queue = int_in(
        cx,
        &e.max_queue,
        "engine.max_queue",
        (0, u32::MAX as i64),
        0,
        "must be ≥ 0 (0 = unbounded)",
    )? as u32;
    let max_ctx = model.max_position_embeddings.min(u32::MAX as u64) as i64;
    engine.max_model_len = match &e.max_model_len {
        None => None,
        Some(_) => Some(int_in(
            cx,
            &e.max_model_len,
            "engine.max_model_len",
            (1, max_ctx),
            max_ctx,
            &format!(
                "must be in 1..={max_ctx} (the model's max_position_embeddings; vLLM refuses \
                 a longer --max-model-len too)"
            ),
        )? as u32),
    };
    KvSpec::new(
        model,
        engine.cache_type_k,
        engine.cache_type_v,
        hw.tp as u64,
    )
    .map_err(|k| cx.err(hw.tp_at.clone(), "hardware.tp", hw.tp, &k.to_string()))?;
    // llama-server reuses a prompt only within the slot that last ran it (`cache_prompt`),
    // not across a shared block pool: the pool-wide prefix cache is off unless asked for.
    let caching_default = engine.prefix_caching && engine.kind != crate::kv::EngineKind::LlamaCpp;
    engine.prefix_caching = e.enable_prefix_caching.unwrap_or(caching_default);
    let overlaps = !matches!(
        engine.kind,
        crate::kv::EngineKind::VllmV0 | crate::kv::EngineKind::LlamaCpp
    );
    engine.async_scheduling = e.async_scheduling.unwrap_or(overlaps);
    engine.scrub_freed_blocks = e.scrub_freed_blocks.unwrap_or(false);
    engine.max_queue_wait_s = match &e.max_queue_wait_ms {
        None => None,
        Some(v) if *v.get_ref() > 0.0 && *v.get_ref() <= MAX_SECONDS * 1e3 => {
            Some(*v.get_ref() * 1e-3)
        }
        Some(v) => {
            return Err(cx.bad(
                v,
                "engine.max_queue_wait_ms",
                "must be a positive number of milliseconds (remove it to never shed)",
            ));
        }
    };
    engine.api_in_s = non_negative_ms(cx, &e.api_in_ms, "engine.api_in_ms", engine.api_in_s)?;
    engine.api_out_s = non_negative_ms(cx, &e.api_out_ms, "engine.api_out_ms", engine.api_out_s)?;
    engine.prefix_isolation = e.prefix_cache_isolation.unwrap_or(engine.prefix_isolation);
    let mut draft = None;
    if let Some(sp) = &e.speculative {
        let (spec, d) = lower_speculative(cx, sp, model, engine.scheduler, catalog)?;
        engine.speculative = Some(spec);
        draft = d;
    }
    Ok((engine, draft))
}

/// `kv_cache_dtype` (K and V alike) or `cache_type_k` / `cache_type_v`; `auto` (and unset)
/// is the model's torch_dtype (fp16 if float16, else bf16).
fn cache_dtypes(
    cx: &Cx,
    e: &RawEngine,
    model: &Model,
) -> Result<(CacheDtype, CacheDtype), ScenarioError> {
    let auto = if model.torch_dtype.as_deref() == Some("float16") {
        CacheDtype::F16
    } else {
        CacheDtype::Bf16
    };
    let dtype = |key: &str, s: &Sp<String>| -> Result<CacheDtype, ScenarioError> {
        if s.get_ref() == "auto" {
            return Ok(auto);
        }
        s.get_ref()
            .parse()
            .map_err(|m: String| cx.bad_str(s, key, &m))
    };
    match (&e.kv_cache_dtype, &e.cache_type_k, &e.cache_type_v) {
        (Some(d), _, _) if e.cache_type_k.is_some() || e.cache_type_v.is_some() => Err(cx.bad_str(
            d,
            "engine.kv_cache_dtype",
            "set either kv_cache_dtype (K and V alike) or cache_type_k / cache_type_v, not both; remove one",
        )),
        (Some(d), _, _) => {
            let both = dtype("engine.kv_cache_dtype", d)?;
            Ok((both, both))
        }
        (None, k, v) => Ok((
            k.as_ref().map_or(Ok(auto), |s| dtype("engine.cache_type_k", s))?,
            v.as_ref().map_or(Ok(auto), |s| dtype("engine.cache_type_v", s))?,
        )),
    }
}

/// `[engine.speculative]` → the settings and, for a draft model, the model.
pub fn lower_speculative(
    cx: &Cx,
    sp: &Sp<RawSpeculative>,
    target: &Model,
    scheduler: SchedulerKind,
    catalog: &Catalog,
) -> Result<(Speculative, Option<Model>), ScenarioError> {
    const T: &str = "engine.speculative";
    let table = Some(sp.span());
    let sp = sp.get_ref();
    if scheduler == SchedulerKind::Static {
        return Err(cx.err(
            table,
            "engine.scheduler",
            "\"static\"",
            "speculative decoding needs iteration-level scheduling: use \"continuous\" or \"chunked_prefill\"",
        ));
    }
    let gamma = match &sp.num_speculative_tokens {
        None => {
            return Err(cx.err(
                table,
                &format!("{T}.num_speculative_tokens"),
                "(missing)",
                "set the draft length γ, e.g. 4",
            ));
        }
        Some(g) if (1..=16).contains(g.get_ref()) => *g.get_ref() as u32,
        Some(g) => {
            return Err(cx.bad(
                g,
                &format!("{T}.num_speculative_tokens"),
                "must be in 1..=16 (γ = 0 is no speculation: remove [engine.speculative])",
            ));
        }
    };
    let acceptance = lower_acceptance(cx, sp, table.clone())?;
    if let Some(d) = &sp.draft_model
        && sp.method != RawSpecMethod::DraftModel
    {
        return Err(cx.bad_str(
            d,
            &format!("{T}.draft_model"),
            "only method = \"draft_model\" takes a draft model; remove it",
        ));
    }
    if let Some(f) = &sp.head_layer_fraction
        && sp.method != RawSpecMethod::Head
    {
        return Err(cx.bad(
            f,
            &format!("{T}.head_layer_fraction"),
            "only method = \"head\" takes a layer fraction; remove it",
        ));
    }
    let (method, draft) = match sp.method {
        RawSpecMethod::Head => {
            let f = positive_upto(
                cx,
                &sp.head_layer_fraction,
                &format!("{T}.head_layer_fraction"),
                (0.0, 8.0),
                1.0,
                "must be in (0, 8] target layers (EAGLE-1: 1)",
            )?;
            (SpecMethod::Head { layer_fraction: f }, None)
        }
        RawSpecMethod::Ngram => (SpecMethod::Ngram, None),
        RawSpecMethod::DraftModel => {
            let d = lower_draft(cx, sp, target, table, catalog)?;
            (SpecMethod::DraftModel(d.name.clone()), Some(d))
        }
    };
    Ok((
        Speculative {
            method,
            num_tokens: gamma,
            acceptance,
        },
        draft,
    ))
}

/// `acceptance`: a number, a list per position, or `{ beta = [a, b] }`.
fn lower_acceptance(
    cx: &Cx,
    sp: &RawSpeculative,
    table: Option<Range<usize>>,
) -> Result<Acceptance, ScenarioError> {
    const K: &str = "engine.speculative.acceptance";
    let Some(a) = &sp.acceptance else {
        return Err(cx.err(
            table,
            K,
            "(missing)",
            "give the draft acceptance rate: a number (α = 0.7), a list per position ([0.9, 0.8, 0.6]) or { beta = [7, 3] }",
        ));
    };
    let at = Some(a.span());
    let acceptance = match a.get_ref() {
        RawAcceptance::Constant(x) => Acceptance::Constant(*x),
        RawAcceptance::Curve(v) => Acceptance::PerPosition(v.clone()),
        RawAcceptance::Beta { beta } if beta.len() == 2 => Acceptance::Beta {
            a: beta[0],
            b: beta[1],
        },
        RawAcceptance::Beta { beta } => {
            return Err(cx.err(
                at,
                K,
                format!("{{ beta = {beta:?} }}"),
                "beta takes two shapes: { beta = [a, b] }",
            ));
        }
        RawAcceptance::Other(v) => {
            return Err(cx.err(
                at,
                K,
                v,
                "must be a number (α = 0.7), a list of numbers, one per draft position \
                 ([0.9, 0.8, 0.6]), or { beta = [a, b] } for a per-request α",
            ));
        }
    };
    acceptance
        .check()
        .map_err(|m| cx.err(at, K, format!("{:?}", a.get_ref()), &m))?;
    Ok(acceptance)
}

/// The draft model: named, smaller than the target, with the same vocabulary.
fn lower_draft(
    cx: &Cx,
    sp: &RawSpeculative,
    target: &Model,
    table: Option<Range<usize>>,
    catalog: &Catalog,
) -> Result<Model, ScenarioError> {
    const K: &str = "engine.speculative.draft_model";
    let Some(name) = &sp.draft_model else {
        return Err(cx.err(
            table,
            K,
            "(missing)",
            "name the draft model, e.g. draft_model = \"llama-3.2-1b\"",
        ));
    };
    let d = catalog
        .model(&cx.catalog_spec(name.get_ref()))
        .map_err(|e| cx.bad_str(name, K, &e.to_string()))?;
    if d.params_total() >= target.params_total() {
        return Err(cx.bad_str(
            name,
            K,
            &format!(
                "the draft ({:.2} B parameters) is not smaller than the target {} ({:.2} B): choose a smaller draft",
                d.params_total() as f64 / 1e9,
                target.name,
                target.params_total() as f64 / 1e9
            ),
        ));
    }
    if d.vocab_size != target.vocab_size {
        return Err(cx.bad_str(
            name,
            K,
            &format!(
                "the draft's vocabulary ({} tokens) differs from the target's ({}): its tokens cannot be verified; choose a draft of the same family",
                d.vocab_size, target.vocab_size
            ),
        ));
    }
    Ok(d)
}

/// `[workload]` and its sub-tables.
pub fn lower_workload(
    cx: &Cx,
    w: &RawWorkload,
    model: &Model,
    engine: &EngineConfig,
    batched_at: Option<Range<usize>>,
) -> Result<WorkloadSpec, ScenarioError> {
    let (max_prompt, max_output) = length_caps(cx, w, model)?;
    if engine.scheduler != SchedulerKind::ChunkedPrefill
        && (engine.max_num_batched_tokens as i64) < max_prompt
    {
        return Err(cx.err(
            batched_at,
            "engine.max_num_batched_tokens",
            engine.max_num_batched_tokens,
            &format!("must hold a whole prompt without chunking: raise it to at least {max_prompt} (workload.max_prompt_tokens) or use scheduler = \"chunked_prefill\""),
        ));
    }
    let source = lower_source(cx, w)?;
    let num_requests = match &w.num_requests {
        Some(n) if *n.get_ref() >= 1 && *n.get_ref() as u64 <= MAX_REQUESTS => {
            Some(*n.get_ref() as u64)
        }
        Some(n) => {
            return Err(cx.bad(
                n,
                "workload.num_requests",
                &format!("must be in 1..={MAX_REQUESTS} (a cap against typos; raise it by editing scenario::MAX_REQUESTS)"),
            ));
        }
        None => None,
    };
    let staged = match &source {
        WorkloadSource::Synthetic {
            arrival: ArrivalProcess::Stages { stages, .. },
            ..
        } => Some(stages.iter().map(|s| s.1).sum::<f64>()),
        _ => None,
    };
    let duration = match &w.duration_s {
        None if staged.is_some() => staged.map(Nanos::from_secs_f64),
        Some(d) if staged.is_some() => {
            return Err(cx.bad(
                d,
                "workload.duration_s",
                "the stages' durations add up to the run's: remove workload.duration_s",
            ));
        }
        Some(d) if *d.get_ref() > 0.0 && *d.get_ref() <= MAX_SECONDS => {
            Some(Nanos::from_secs_f64(*d.get_ref()))
        }
        Some(d) => {
            return Err(cx.bad(
                d,
                "workload.duration_s",
                &format!("must be a positive number of seconds, at most {MAX_SECONDS:e}"),
            ));
        }
        None => None,
    };
    let synthetic = matches!(source, WorkloadSource::Synthetic { .. });
    if num_requests.is_none() && duration.is_none() && synthetic {
        return Err(cx.err(
            Some(w.arrival.span()),
            "workload.arrival",
            format!("\"{}\"", w.arrival.get_ref().name()),
            "needs workload.num_requests or workload.duration_s",
        ));
    }
    if let (None, Some(d), WorkloadSource::Synthetic { arrival, .. }) =
        (num_requests, duration, &source)
    {
        let expected = arrival.rate() * d.as_secs_f64();
        if expected > MAX_REQUESTS as f64 {
            return Err(cx.err(
                w.duration_s.as_ref().map(|s| s.span()),
                "workload.duration_s",
                d.as_secs_f64(),
                &format!(
                    "at {} requests/s this is about {expected:.3e} requests, over the cap of \
                     {MAX_REQUESTS}: set workload.num_requests, or a shorter duration",
                    arrival.rate()
                ),
            ));
        }
    }
    let sharing = lower_sharing(cx, w, synthetic, max_prompt)?;
    Ok(WorkloadSpec {
        source,
        num_requests,
        duration,
        max_prompt_tokens: max_prompt as u32,
        max_output_tokens: max_output as u32,
        sharing,
        lenient: w.lenient.unwrap_or(false),
        patience: lower_patience(cx, &w.patience_s)?,
        timeout_s: match &w.timeout_s {
            None => None,
            Some(v) if *v.get_ref() > 0.0 && *v.get_ref() <= MAX_SECONDS => Some(*v.get_ref()),
            Some(v) => {
                return Err(cx.bad(
                    v,
                    "workload.timeout_s",
                    "must be positive seconds: how long a client waits for the whole answer before it disconnects (remove it for no timeout)",
                ));
            }
        },
    })
}

/// `workload.patience_s`: positive seconds, fixed or `{ mean = s }` exponential.
fn lower_patience(
    cx: &Cx,
    p: &Option<Sp<super::raw::RawPatience>>,
) -> Result<Option<Patience>, ScenarioError> {
    use super::raw::RawPatience as R;
    let Some(p) = p else { return Ok(None) };
    let ok = |v: f64| v > 0.0 && v <= MAX_SECONDS;
    match p.get_ref() {
        R::Fixed(s) if ok(*s) => Ok(Some(Patience::Fixed(*s))),
        R::Exponential { mean } if ok(*mean) => Ok(Some(Patience::Exponential(*mean))),
        _ => Err(cx.bad(
            p,
            "workload.patience_s",
            "must be positive seconds: a number (every client), or { mean = 20 } (exponential)",
        )),
    }
}

/// `max_prompt_tokens` and `max_output_tokens`: defaults keep prompt + output within the
/// model's context (output min(4096, what is left), prompt the rest).
fn length_caps(cx: &Cx, w: &RawWorkload, model: &Model) -> Result<(i64, i64), ScenarioError> {
    let max_ctx = model.max_position_embeddings.min(u32::MAX as u64) as i64;
    let prompt = w.max_prompt_tokens.as_ref().map(|p| *p.get_ref());
    let output = w.max_output_tokens.as_ref().map(|p| *p.get_ref());
    let max_output = output.unwrap_or_else(|| {
        let left = match prompt {
            Some(p) => max_ctx.saturating_sub(p),
            None => max_ctx / 2,
        };
        left.clamp(1, 4096)
    });
    let max_prompt = prompt.unwrap_or((max_ctx - max_output).max(1));
    let at = |v: &Option<Sp<i64>>| v.as_ref().map(|s| s.span());
    if max_prompt < 1 || max_prompt > max_ctx {
        return Err(cx.err(
            at(&w.max_prompt_tokens),
            "workload.max_prompt_tokens",
            max_prompt,
            &format!("must be in 1..={max_ctx} (the model's max_position_embeddings)"),
        ));
    }
    if max_output < 1 || max_prompt.saturating_add(max_output) > max_ctx.max(2) {
        return Err(cx.err(
            at(&w.max_output_tokens).or(at(&w.max_prompt_tokens)),
            "workload.max_output_tokens",
            max_output,
            &format!("must be ≥ 1 with max_prompt_tokens + max_output_tokens ≤ {max_ctx} (the model's max_position_embeddings); lower one of them"),
        ));
    }
    Ok((max_prompt, max_output))
}

/// Refuse a key that only applies to another arrival process.
fn only_for(
    cx: &Cx,
    w: &RawWorkload,
    present: Option<Range<usize>>,
    key: &str,
    value: String,
    for_what: &str,
) -> Result<(), ScenarioError> {
    match present {
        Some(at) => Err(cx.err(
            Some(at),
            key,
            value,
            &format!(
                "applies only to {for_what}; this workload has arrival = \"{}\": remove it",
                w.arrival.get_ref().name()
            ),
        )),
        None => Ok(()),
    }
}

/// The arrival process and lengths, or the trace.
pub fn lower_source(cx: &Cx, w: &RawWorkload) -> Result<WorkloadSource, ScenarioError> {
    let arrival = *w.arrival.get_ref();
    let span = |v: &Option<Sp<f64>>| v.as_ref().map(|s| s.span());
    let shown = |v: &Option<Sp<f64>>| {
        v.as_ref()
            .map_or(String::new(), |s| s.get_ref().to_string())
    };
    if arrival != RawArrival::Trace {
        only_for(
            cx,
            w,
            w.trace.as_ref().map(|s| s.span()),
            "workload.trace",
            w.trace
                .as_ref()
                .map_or(String::new(), |t| format!("\"{}\"", t.get_ref())),
            "arrival = \"trace\"",
        )?;
        only_for(
            cx,
            w,
            w.trace_format.as_ref().map(|s| s.span()),
            "workload.trace_format",
            "…".into(),
            "arrival = \"trace\"",
        )?;
        only_for(
            cx,
            w,
            span(&w.time_scale),
            "workload.time_scale",
            shown(&w.time_scale),
            "arrival = \"trace\"",
        )?;
    }
    if arrival != RawArrival::Gamma {
        only_for(
            cx,
            w,
            span(&w.cv),
            "workload.cv",
            shown(&w.cv),
            "arrival = \"gamma\"",
        )?;
    }
    let rate = || -> Result<f64, ScenarioError> {
        match &w.rate {
            Some(r) if *r.get_ref() >= MIN_RATE && *r.get_ref() <= MAX_RATE => Ok(*r.get_ref()),
            Some(r) => Err(cx.bad(r, "workload.rate", &format!("must be a positive number of requests per second, in {MIN_RATE:e}..={MAX_RATE:e}"))),
            None => Err(cx.err(Some(w.arrival.span()), "workload.arrival", format!("\"{}\"", arrival.name()), "needs workload.rate (requests per second)")),
        }
    };
    // With tenants of their own traffic, a tenant's lengths stand in for the workload's
    // where it has none (the first such tenant's).
    let first = w
        .tenants
        .as_ref()
        .and_then(|t| t.get_ref().iter().find(|t| t.rate.is_some()));
    let lengths = || -> Result<(LengthDist, LengthDist), ScenarioError> {
        let own = |d: &Option<Sp<RawDist>>, key: &str, theirs: Option<&Sp<RawDist>>| match (
            d.as_ref(),
            theirs,
        ) {
            (None, Some(t)) => lower_dist(cx, key, Some(t), w),
            (d, _) => lower_dist(cx, key, d, w),
        };
        let (p, o) = match first {
            Some(t) => (t.prompt.as_ref(), t.output.as_ref()),
            None => (None, None),
        };
        Ok((
            own(&w.prompt, "workload.prompt", p)?,
            own(&w.output, "workload.output", o)?,
        ))
    };
    let synthetic = |arrival: ArrivalProcess| -> Result<WorkloadSource, ScenarioError> {
        let (prompt, output) = lengths()?;
        Ok(WorkloadSource::Synthetic {
            arrival,
            prompt,
            output,
        })
    };
    let rates: f64 = w
        .tenants
        .iter()
        .flat_map(|ts| ts.get_ref().iter())
        .filter_map(|t| t.rate.as_ref().map(|r| *r.get_ref()))
        .sum();
    if rates > 0.0 {
        // Every tenant sends its own stream (checked in lower_tenants); the aggregate
        // process stands for the whole here (the request cap of a duration).
        if !matches!(
            arrival,
            RawArrival::Poisson | RawArrival::Gamma | RawArrival::Constant
        ) {
            return Err(cx.err(
                Some(w.arrival.span()),
                "workload.arrival",
                format!("\"{}\"", arrival.name()),
                "tenants with rates of their own need arrival = \"poisson\", \"gamma\" or \"constant\" (each tenant's process)",
            ));
        }
        if let Some(r) = &w.rate {
            return Err(cx.bad(
                r,
                "workload.rate",
                "each tenant has a rate of its own: remove workload.rate",
            ));
        }
        if let Some(st) = &w.stages {
            return Err(cx.bad(
                st,
                "workload.stages",
                "stages with tenants' own rates are not supported: remove the stages or the tenants' rates",
            ));
        }
        return synthetic(ArrivalProcess::Poisson { rate: rates });
    }
    if let Some(st) = &w.stages {
        let poisson = match arrival {
            RawArrival::Poisson => true,
            RawArrival::Constant => false,
            _ => {
                return Err(cx.bad(
                    st,
                    "workload.stages",
                    &format!(
                        "needs arrival = \"poisson\" or \"constant\" (the process within each stage), not \"{}\"",
                        arrival.name()
                    ),
                ));
            }
        };
        if let Some(r) = &w.rate {
            return Err(cx.bad(
                r,
                "workload.rate",
                "each stage has its own rate: remove workload.rate",
            ));
        }
        let stages: Vec<(f64, f64)> = st
            .get_ref()
            .iter()
            .map(|s| (s.rate, s.duration_s))
            .collect();
        let process = ArrivalProcess::Stages {
            stages: stages.into(),
            poisson,
        };
        if let Err(e) = process.check() {
            return Err(cx.bad(
                st,
                "workload.stages",
                &format!("{e}, e.g. [{{ rate = 5, duration_s = 600 }}]"),
            ));
        }
        return synthetic(process);
    }
    match arrival {
        RawArrival::Poisson => synthetic(ArrivalProcess::Poisson { rate: rate()? }),
        RawArrival::Constant => synthetic(ArrivalProcess::Constant { rate: rate()? }),
        RawArrival::Offline => synthetic(ArrivalProcess::Offline),
        RawArrival::Concurrency => {
            let Some(c) = &w.concurrency else {
                return Err(cx.err(
                    Some(w.arrival.span()),
                    "workload.arrival",
                    "\"concurrency\"".to_string(),
                    "needs workload.concurrency (clients in flight, e.g. 16)",
                ));
            };
            let clients = *c.get_ref();
            if !(1..=1_000_000).contains(&clients) {
                return Err(cx.bad(c, "workload.concurrency", "must be in 1..=1000000"));
            }
            if w.sessions.is_some() {
                return Err(cx.err(
                    Some(w.arrival.span()),
                    "workload.arrival",
                    "\"concurrency\"".to_string(),
                    "is a closed loop of its own: remove [workload.sessions] or use another arrival",
                ));
            }
            synthetic(ArrivalProcess::Concurrency {
                clients: clients as u32,
            })
        }
        RawArrival::Gamma => {
            let (lo, hi) = GAMMA_CV;
            let cv = match &w.cv {
                None => 1.0,
                Some(c) if *c.get_ref() >= lo && *c.get_ref() <= hi => *c.get_ref(),
                Some(c) => {
                    return Err(cx.bad(
                        c,
                        "workload.cv",
                        &format!("must be in {lo}..={hi} (1 = Poisson, > 1 bursty; below {lo} use arrival = \"constant\")"),
                    ));
                }
            };
            synthetic(ArrivalProcess::Gamma { rate: rate()?, cv })
        }
        RawArrival::Trace => lower_trace(cx, w),
    }
}

/// `arrival = "trace"`: the file (it must exist), its format and the replay speed.
fn lower_trace(cx: &Cx, w: &RawWorkload) -> Result<WorkloadSource, ScenarioError> {
    let arrival_at = Some(w.arrival.span());
    let Some(t) = &w.trace else {
        return Err(cx.err(
            arrival_at,
            "workload.arrival",
            "\"trace\"",
            "needs workload.trace = \"path/to/trace\"",
        ));
    };
    let p = cx.resolve(t.get_ref());
    if !cx.files.exists(&p) {
        return Err(cx.bad_str(t, "workload.trace", "file not found"));
    }
    if let Some(r) = &w.rate {
        return Err(cx.bad(r, "workload.rate", "a trace brings its own arrival times: remove rate (workload.time_scale replays it faster or slower)"));
    }
    for (d, key) in [
        (&w.prompt, "workload.prompt"),
        (&w.output, "workload.output"),
    ] {
        if let Some(d) = d {
            return Err(cx.err(
                Some(d.span()),
                key,
                "{ ... }",
                "a trace brings its own lengths: remove it",
            ));
        }
    }
    let time_scale = positive_upto(
        cx,
        &w.time_scale,
        "workload.time_scale",
        (0.0, 1e6),
        1.0,
        "must be positive (and at most 1e6)",
    )?;
    if time_scale < 1e-6 {
        return Err(cx.err(
            w.time_scale.as_ref().map(|s| s.span()),
            "workload.time_scale",
            time_scale,
            "must be at least 1e-6",
        ));
    }
    Ok(WorkloadSource::Trace {
        path: p,
        format: w
            .trace_format
            .as_ref()
            .map_or(TraceFormat::Mooncake, |f| *f.get_ref()),
        time_scale,
    })
}

/// A length distribution (`key` names it in errors).
pub fn lower_dist(
    cx: &Cx,
    key: &str,
    d: Option<&Sp<RawDist>>,
    w: &RawWorkload,
) -> Result<LengthDist, ScenarioError> {
    let Some(d) = d else {
        return Err(cx.err(
            Some(w.arrival.span()),
            "workload.arrival",
            format!("\"{}\"", w.arrival.get_ref().name()),
            &format!("a synthetic workload needs {key} = {{ dist = ... }}"),
        ));
    };
    let at = Some(d.span());
    // Lengths are tokens: positive, finite, and within a u32.
    let length = |v: f64, field: &str| -> Result<f64, ScenarioError> {
        if v >= 1.0 && v <= u32::MAX as f64 {
            Ok(v)
        } else {
            Err(cx.err(
                at.clone(),
                key,
                v,
                &format!("`{field}` must be a length in 1..={}", u32::MAX),
            ))
        }
    };
    let spread = |v: f64, field: &str| -> Result<f64, ScenarioError> {
        if v >= 0.0 && v.is_finite() {
            Ok(v)
        } else {
            Err(cx.err(
                at.clone(),
                key,
                v,
                &format!("`{field}` must be a finite number ≥ 0"),
            ))
        }
    };
    Ok(match d.get_ref() {
        RawDist::Fixed { value } => LengthDist::Fixed {
            value: length(*value, "value")? as u32,
        },
        RawDist::Uniform { min, max } => {
            let (a, b) = (length(*min, "min")?, length(*max, "max")?);
            if a > b {
                return Err(cx.err(
                    at,
                    key,
                    format!("min {a} > max {b}"),
                    "min must not exceed max",
                ));
            }
            LengthDist::Uniform {
                min: a as u32,
                max: b as u32,
            }
        }
        RawDist::Normal { mean, std } => LengthDist::Normal {
            mean: length(*mean, "mean")?,
            std: spread(*std, "std")?,
        },
        RawDist::Lognormal { median, sigma } => LengthDist::LogNormal {
            median: length(*median, "median")?,
            sigma: spread(*sigma, "sigma")?,
        },
        RawDist::Zipf { min, max, exponent } => {
            let (a, b) = (length(*min, "min")?, length(*max, "max")?);
            if a > b || b - a + 1.0 > MAX_ZIPF_SUPPORT {
                return Err(cx.err(
                    at,
                    key,
                    format!("{{ min = {a}, max = {b} }}"),
                    &format!(
                        "zipf needs min ≤ max and at most {MAX_ZIPF_SUPPORT} values between them"
                    ),
                ));
            }
            if !(*exponent > 0.0 && exponent.is_finite()) {
                return Err(cx.err(at, key, exponent, "`exponent` must be positive"));
            }
            LengthDist::Zipf {
                min: a as u32,
                max: b as u32,
                exponent: *exponent,
            }
        }
        RawDist::Empirical { file, column } => LengthDist::Empirical {
            values: empirical(cx, key, at, file, column.as_deref())?,
        },
    })
}

/// The lengths in an empirical file: one number per line, or the CSV column `column` (a
/// header row). Every value must be a length; a line that is not names its number.
fn empirical(
    cx: &Cx,
    key: &str,
    at: Option<Range<usize>>,
    file: &str,
    column: Option<&str>,
) -> Result<Vec<u32>, ScenarioError> {
    let p = cx.resolve(file);
    let text = cx.files.text(&p).map_err(|e| {
        cx.err(
            at.clone(),
            key,
            format!("file = \"{file}\""),
            &format!("cannot read {}: {e}", p.display()),
        )
    })?;
    let mut lines = text.lines().enumerate();
    let col = match column {
        Some(c) => {
            let header = lines.next().map_or("", |(_, l)| l);
            Some(
                header
                    .split(',')
                    .position(|h| h.trim() == c)
                    .ok_or_else(|| {
                        cx.err(
                            at.clone(),
                            key,
                            format!("column = \"{c}\""),
                            &format!("no such column in {}", p.display()),
                        )
                    })?,
            )
        }
        None => None,
    };
    let mut values = Vec::new();
    for (i, l) in lines {
        if l.trim().is_empty() {
            continue;
        }
        let cell = match col {
            Some(c) => l.split(',').nth(c).unwrap_or(""),
            None => l,
        };
        match cell.trim().parse::<f64>() {
            Ok(v) if v >= 1.0 && v <= u32::MAX as f64 => values.push(v.round() as u32),
            _ => {
                return Err(cx.err(
                    at,
                    key,
                    format!("file = \"{file}\""),
                    &format!(
                        "{}:{}: `{}` is not a length (a number ≥ 1)",
                        p.display(),
                        i + 1,
                        cell.trim()
                    ),
                ));
            }
        }
        if values.len() > MAX_EMPIRICAL_VALUES {
            return Err(cx.err(
                at,
                key,
                format!("file = \"{file}\""),
                &format!("holds more than {MAX_EMPIRICAL_VALUES} values"),
            ));
        }
    }
    if values.is_empty() {
        return Err(cx.err(at, key, format!("file = \"{file}\""), "holds no numbers"));
    }
    Ok(values)
}

/// Tenants, RAG documents, few-shot templates and sessions: the prefix structure of synthetic
/// prompts (a trace brings its own).
pub fn lower_sharing(
    cx: &Cx,
    w: &RawWorkload,
    synthetic: bool,
    max_prompt: i64,
) -> Result<Sharing, ScenarioError> {
    let only_synthetic =
        |at: Range<usize>, key: &str, value: &str, rule: &str| -> Result<(), ScenarioError> {
            if synthetic {
                Ok(())
            } else {
                Err(cx.err(Some(at), key, value, rule))
            }
        };
    let mut sharing = Sharing::default();
    if let Some(ts) = &w.tenants {
        only_synthetic(
            ts.span(),
            "workload.tenants",
            "[...]",
            "tenants shape synthetic prompts; a trace brings its own (remove them)",
        )?;
        sharing.tenants = lower_tenants(cx, ts.get_ref(), max_prompt, w)?;
    }
    if let Some(r) = &w.rag {
        only_synthetic(
            r.span(),
            "workload.rag",
            "{...}",
            "RAG shapes synthetic prompts; remove it for a trace",
        )?;
        let r = r.get_ref();
        let documents = int_in(
            cx,
            &Some(r.documents.clone()),
            "workload.rag.documents",
            (1, 100_000_000),
            1,
            "must be in 1..=100000000",
        )?;
        let per_request = *r.per_request.get_ref();
        if !(1..=64).contains(&per_request) || per_request > documents {
            return Err(cx.bad(
                &r.per_request,
                "workload.rag.per_request",
                "must be in 1..=64 and at most the number of documents",
            ));
        }
        let zipf = positive_upto(
            cx,
            &r.zipf,
            "workload.rag.zipf",
            (0.0, 1e3),
            1.0,
            "must be a positive exponent (1 is classic Zipf)",
        )?;
        sharing.rag = Some(Rag {
            documents: documents as u32,
            zipf,
            per_request: per_request as u32,
            document_tokens: lower_dist(
                cx,
                "workload.rag.document_tokens",
                r.document_tokens.as_ref(),
                w,
            )?,
        });
    }
    if let Some(f) = &w.few_shot {
        only_synthetic(
            f.span(),
            "workload.few_shot",
            "{...}",
            "few-shot templates shape synthetic prompts; remove them for a trace",
        )?;
        let f = f.get_ref();
        let (t, n) = (*f.templates.get_ref(), *f.template_tokens.get_ref());
        if !(1..=1_000_000).contains(&t) || !(1..=max_prompt).contains(&n) {
            return Err(cx.err(
                Some(f.templates.span()),
                "workload.few_shot.templates",
                format!("templates = {t}, template_tokens = {n}"),
                &format!(
                    "templates must be in 1..=1000000 and template_tokens in 1..={max_prompt}"
                ),
            ));
        }
        sharing.few_shot = Some(FewShot {
            templates: t as u32,
            template_tokens: n as u32,
        });
    }
    if let Some(ss) = &w.sessions {
        only_synthetic(
            ss.span(),
            "workload.sessions",
            "{...}",
            "sessions shape synthetic prompts; a trace brings its own (remove them)",
        )?;
        if sharing.per_tenant_traffic() {
            return Err(cx.err(
                Some(ss.span()),
                "workload.sessions",
                "{...}",
                "conversations with tenants' own rates are not supported: give the tenants shares and set workload.rate, or remove the sessions",
            ));
        }
        let ss = ss.get_ref();
        let think = *ss.think_time_s.get_ref();
        if !(0.0..=MAX_SECONDS).contains(&think) {
            return Err(cx.bad(
                &ss.think_time_s,
                "workload.sessions.think_time_s",
                &format!("must be a non-negative number of seconds, at most {MAX_SECONDS:e}"),
            ));
        }
        sharing.sessions = Some(Sessions {
            turns: lower_dist(cx, "workload.sessions.turns", ss.turns.as_ref(), w)?,
            think_time_s: think,
            closed_loop: ss.think_from.unwrap_or(RawThinkFrom::Answer) == RawThinkFrom::Answer,
        });
    }
    Ok(sharing)
}

/// `[[workload.tenants]]`: unique names, positive shares (or every tenant a rate of its
/// own, then its lengths and burstiness too), system prompts that fit.
fn lower_tenants(
    cx: &Cx,
    ts: &[super::raw::RawTenant],
    max_prompt: i64,
    w: &RawWorkload,
) -> Result<Vec<Tenant>, ScenarioError> {
    let mut names = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    let own_rates = ts.iter().any(|t| t.rate.is_some());
    for (i, t) in ts.iter().enumerate() {
        let key = |k: &str| format!("workload.tenants[{i}].{k}");
        if !names.insert(t.name.get_ref().as_str()) {
            return Err(cx.bad_str(
                &t.name,
                &key("name"),
                "tenant names must be unique (another tenant has this one)",
            ));
        }
        let traffic = match &t.rate {
            Some(r) => Some(lower_traffic(cx, t, r, &key, w)?),
            None if own_rates => {
                return Err(cx.bad_str(
                    &t.name,
                    &key("rate"),
                    "is missing: when one tenant has a rate of its own, every tenant needs one",
                ));
            }
            None => {
                for (v, k) in [(&t.cv, "cv")] {
                    if let Some(v) = v {
                        return Err(cx.bad(v, &key(k), "only for a tenant with a rate of its own"));
                    }
                }
                for (v, k) in [(&t.prompt, "prompt"), (&t.output, "output")] {
                    if let Some(v) = v {
                        return Err(cx.err(
                            Some(v.span()),
                            &key(k),
                            "{...}",
                            "only for a tenant with a rate of its own",
                        ));
                    }
                }
                None
            }
        };
        let share = match (&t.share, &traffic) {
            (Some(s), Some(_)) => {
                return Err(cx.bad(
                    s,
                    &key("share"),
                    "the tenants' rates set their shares: remove share",
                ));
            }
            (None, Some(tr)) => tr.arrival.rate(),
            (Some(s), None) if *s.get_ref() > 0.0 && s.get_ref().is_finite() => *s.get_ref(),
            (Some(s), None) => {
                return Err(cx.bad(
                    s,
                    &key("share"),
                    "must be a positive number (tenant shares are relative weights)",
                ));
            }
            (None, None) => {
                return Err(cx.bad_str(
                    &t.name,
                    &key("share"),
                    "is missing: give each tenant a share of the requests (or each a rate)",
                ));
            }
        };
        let sys = int_in(
            cx,
            &t.system_prompt_tokens,
            &key("system_prompt_tokens"),
            (0, max_prompt),
            0,
            &format!("must be in 0..={max_prompt} (workload.max_prompt_tokens)"),
        )?;
        let n = int_in(
            cx,
            &t.system_prompts,
            &key("system_prompts"),
            (1, 1_000_000),
            1,
            "must be in 1..=1000000",
        )?;
        out.push(Tenant {
            name: t.name.get_ref().clone(),
            share,
            system_prompt_tokens: sys as u32,
            system_prompts: n as u32,
            traffic,
        });
    }
    Ok(out)
}

/// A tenant's own traffic: its rate in the workload's kind of process (gamma when it has a
/// `cv` of its own), and its lengths where it has them.
fn lower_traffic(
    cx: &Cx,
    t: &super::raw::RawTenant,
    r: &Sp<f64>,
    key: &dyn Fn(&str) -> String,
    w: &RawWorkload,
) -> Result<TenantTraffic, ScenarioError> {
    let rate = *r.get_ref();
    if !(MIN_RATE..=MAX_RATE).contains(&rate) {
        return Err(cx.bad(
            r,
            &key("rate"),
            &format!(
                "must be a positive number of requests per second, in {MIN_RATE:e}..={MAX_RATE:e}"
            ),
        ));
    }
    let (lo, hi) = GAMMA_CV;
    let cv = match t.cv.as_ref().or(w.cv.as_ref()) {
        Some(c) if (lo..=hi).contains(c.get_ref()) => Some(*c.get_ref()),
        Some(c) => {
            return Err(cx.bad(
                c,
                &key("cv"),
                &format!("must be in {lo}..={hi} (1 = Poisson, > 1 bursty)"),
            ));
        }
        None => None,
    };
    let arrival = match (*w.arrival.get_ref(), cv) {
        (_, Some(cv)) if t.cv.is_some() || *w.arrival.get_ref() == RawArrival::Gamma => {
            ArrivalProcess::Gamma { rate, cv }
        }
        (RawArrival::Gamma, _) => ArrivalProcess::Gamma { rate, cv: 1.0 },
        (RawArrival::Constant, _) => ArrivalProcess::Constant { rate },
        _ => ArrivalProcess::Poisson { rate },
    };
    let dist = |d: &Option<Sp<RawDist>>, k: &str| -> Result<Option<LengthDist>, ScenarioError> {
        d.as_ref()
            .map(|d| lower_dist(cx, &key(k), Some(d), w))
            .transpose()
    };
    Ok(TenantTraffic {
        arrival,
        prompt: dist(&t.prompt, "prompt")?,
        output: dist(&t.output, "output")?,
    })
}

/// `[tenants.<name>]` and `engine.tenant_scheduling`: each named tenant's limits and
/// place in the order; tenants without a table have none.
fn lower_tenancy(
    cx: &Cx,
    raw: &super::raw::RawScenario,
    workload: &WorkloadSpec,
    engine: &EngineConfig,
    model: &Model,
) -> Result<Tenancy, ScenarioError> {
    let names: Vec<&str> = workload
        .sharing
        .tenants
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    let known = || {
        if names.is_empty() {
            "there are none: add [[workload.tenants]] tables".to_string()
        } else {
            format!("the tenants are {}", names.join(", "))
        }
    };
    let mut out = Tenancy {
        scheduling: raw
            .engine
            .tenant_scheduling
            .as_ref()
            .map_or(TenantScheduling::Fifo, |s| *s.get_ref()),
        tenants: names.iter().map(|n| TenantPolicy::open(n)).collect(),
    };
    for (name, p) in raw.tenants.iter().flatten() {
        let Some(i) = names.iter().position(|n| n == name) else {
            return Err(cx.err(
                Some(p.span()),
                &format!("tenants.{name}"),
                "{...}",
                &format!(
                    "no tenant is named \"{name}\" in [[workload.tenants]]: {}",
                    known()
                ),
            ));
        };
        let key = |k: &str| format!("tenants.{name}.{k}");
        let p = p.get_ref();
        let t = &mut out.tenants[i];
        t.weight = positive_upto(
            cx,
            &p.weight,
            &key("weight"),
            (0.0, 1e6),
            1.0,
            "must be a positive weight (a tenant's fair share is proportional to it)",
        )?;
        t.priority = int_in(
            cx,
            &p.priority,
            &key("priority"),
            (-1_000_000, 1_000_000),
            0,
            "must be a whole number in -1000000..=1000000 (lower runs first, as vLLM's)",
        )?;
        t.rate_limit = lower_bucket(cx, &p.rate_limit, &key("rate_limit"), "requests")?;
        t.token_rate_limit =
            lower_bucket(cx, &p.token_rate_limit, &key("token_rate_limit"), "tokens")?;
        t.on_limit = p.on_limit.unwrap_or_default();
        let cap = |v: &Option<Sp<i64>>, k: &str| -> Result<Option<u32>, ScenarioError> {
            match v {
                None => Ok(None),
                Some(x) if (1..=10_000_000).contains(x.get_ref()) => Ok(Some(*x.get_ref() as u32)),
                Some(x) => Err(cx.bad(
                    x,
                    &key(k),
                    "must be in 1..=10000000 (remove it for no limit)",
                )),
            }
        };
        t.max_num_seqs = cap(&p.max_num_seqs, "max_num_seqs")?;
        t.max_queue = cap(&p.max_queue, "max_queue")?;
        t.max_prefill_tokens = cap(&p.max_prefill_tokens, "max_prefill_tokens")?;
        t.max_kv_blocks = cap(&p.max_kv_blocks, "max_kv_blocks")?;
        if let Some(v) = &p.prefix_cache_share {
            let share = *v.get_ref();
            if !(share > 0.0 && share <= 1.0) {
                return Err(cx.bad(
                    v,
                    &key("prefix_cache_share"),
                    "must be a share of the KV blocks in (0, 1], e.g. 0.25 (remove it for no cap)",
                ));
            }
            if !engine.prefix_caching || engine.prefix_isolation != Isolation::PerTenant {
                return Err(cx.bad(
                    v,
                    &key("prefix_cache_share"),
                    "caps a tenant's part of a per-tenant prefix cache: set engine.enable_prefix_caching = true and engine.prefix_cache_isolation = \"per_tenant\" (or remove it)",
                ));
            }
            t.prefix_cache_share = Some(share);
        }
        if let Some(l) = &p.lora {
            t.lora = Some(lower_tenant_lora(cx, l, &key("lora"), model)?);
        }
    }
    if let Some(s) = &raw.engine.tenant_scheduling {
        if out.scheduling != TenantScheduling::Fifo && names.is_empty() {
            return Err(cx.bad(
                s,
                "engine.tenant_scheduling",
                &format!("orders tenants, and {}", known()),
            ));
        }
        let first = out.tenants.first().map_or(0, |t| t.priority);
        if out.scheduling == TenantScheduling::Priority
            && out.tenants.iter().all(|t| t.priority == first)
        {
            return Err(cx.bad(
                s,
                "engine.tenant_scheduling",
                "every tenant has the same priority, so \"priority\" orders nothing: set tenants.<name>.priority (lower runs first)",
            ));
        }
    }
    Ok(out)
}

/// A tenant's `lora = { rank, targets, adapters }`.
fn lower_tenant_lora(
    cx: &Cx,
    l: &Sp<super::raw::RawLora>,
    key: &str,
    model: &Model,
) -> Result<TenantLora, ScenarioError> {
    let r = l.get_ref();
    let h = model.hidden_size as i64;
    if !(1..=h).contains(&r.rank) {
        return Err(cx.bad(
            l,
            key,
            &format!(
                "rank must be in 1..={h} (the model's hidden size; adapters are usually 8–64)"
            ),
        ));
    }
    let targets = match &r.targets {
        None => Targets::ATTENTION,
        Some(names) => {
            Targets::parse(names).map_err(|e| cx.bad(l, key, &format!("targets: {e}")))?
        }
    };
    let adapters = r.adapters.unwrap_or(1);
    if !(1..=100_000).contains(&adapters) {
        return Err(cx.bad(
            l,
            key,
            "adapters (distinct fine-tuned models its requests spread over) must be in 1..=100000",
        ));
    }
    if model.moe.is_some() || matches!(model.attention, crate::model::AttentionKind::Mla(_)) {
        return Err(cx.bad(
            l,
            key,
            "LoRA is modelled for dense models with standard attention only (a mixture-of-experts or MLA model's adapter buffers differ): remove lora or choose a dense model",
        ));
    }
    Ok(TenantLora {
        rank: r.rank as u32,
        targets,
        adapters: adapters as u32,
    })
}

/// `engine.enable_lora` / `max_loras` / `max_lora_rank` / `max_cpu_loras`, under vLLM's
/// names and defaults (1, 16, `max_loras`); on when a tenant has adapters.
fn lower_lora(
    cx: &Cx,
    raw: &super::raw::RawScenario,
    engine: &EngineConfig,
) -> Result<Option<LoraEngine>, ScenarioError> {
    let e = &raw.engine;
    let adapted: Vec<&TenantPolicy> = engine
        .tenancy
        .tenants
        .iter()
        .filter(|t| t.lora.is_some())
        .collect();
    let on = match &e.enable_lora {
        Some(v) if !*v.get_ref() && !adapted.is_empty() => {
            return Err(cx.bad(
                v,
                "engine.enable_lora",
                &format!(
                    "is false, but tenant {} has LoRA adapters: remove enable_lora or the tenants' lora",
                    adapted[0].name
                ),
            ));
        }
        Some(v) => *v.get_ref(),
        None => !adapted.is_empty(),
    };
    let set = [&e.max_loras, &e.max_lora_rank, &e.max_cpu_loras];
    if !on {
        if let Some(v) = set.into_iter().flatten().next() {
            return Err(cx.bad(
                v,
                "engine.max_loras",
                "sets LoRA slots, but LoRA is off: give a tenant adapters ([tenants.<name>] lora = { rank = 16, adapters = 8 }) or set engine.enable_lora = true",
            ));
        }
        return Ok(None);
    }
    if engine.scheduler == SchedulerKind::Static {
        return Err(cx.err(
            None,
            "engine.scheduler",
            "static",
            "LoRA adapters are modelled with continuous or chunked-prefill scheduling: set engine.scheduler",
        ));
    }
    let max_loras = int_in(
        cx,
        &e.max_loras,
        "engine.max_loras",
        (1, 1024),
        1,
        "must be in 1..=1024 (adapter slots on the GPU; vLLM's --max-loras, default 1)",
    )? as u32;
    let max_lora_rank = int_in(
        cx,
        &e.max_lora_rank,
        "engine.max_lora_rank",
        (1, 512),
        16,
        "must be one of 1, 8, 16, 32, 64, 128, 256, 320, 512 (vLLM's --max-lora-rank, default 16)",
    )? as u32;
    if ![1, 8, 16, 32, 64, 128, 256, 320, 512].contains(&max_lora_rank) {
        let v = e.max_lora_rank.as_ref().expect("the default is allowed");
        return Err(cx.bad(
            v,
            "engine.max_lora_rank",
            "must be one of 1, 8, 16, 32, 64, 128, 256, 320, 512 (vLLM's --max-lora-rank, default 16)",
        ));
    }
    let max_cpu_loras = int_in(
        cx,
        &e.max_cpu_loras,
        "engine.max_cpu_loras",
        (i64::from(max_loras), 1_000_000),
        i64::from(max_loras),
        &format!(
            "must be at least engine.max_loras ({max_loras}) (adapters kept in host memory; vLLM's --max-cpu-loras)"
        ),
    )? as u32;
    if let Some(t) = adapted
        .iter()
        .find(|t| t.lora.is_some_and(|l| l.rank > max_lora_rank))
    {
        let at = raw
            .tenants
            .as_ref()
            .and_then(|m| m.get(&t.name))
            .and_then(|p| p.get_ref().lora.as_ref());
        let rank = t.lora.map_or(0, |l| l.rank);
        let rule = format!(
            "rank {rank} is above engine.max_lora_rank ({max_lora_rank}); vLLM refuses such an adapter: raise engine.max_lora_rank or lower the rank"
        );
        return Err(match at {
            Some(l) => cx.bad(l, &format!("tenants.{}.lora", t.name), &rule),
            None => cx.err(None, &format!("tenants.{}.lora", t.name), rank, &rule),
        });
    }
    Ok(Some(LoraEngine {
        max_loras,
        max_lora_rank,
        max_cpu_loras,
    }))
}

/// `{ rate, burst }`: a positive rate; a burst of at least one request (or token), one
/// second's worth by default.
fn lower_bucket(
    cx: &Cx,
    b: &Option<Sp<super::raw::RawBucket>>,
    key: &str,
    unit: &str,
) -> Result<Option<Bucket>, ScenarioError> {
    let Some(b) = b else { return Ok(None) };
    let r = b.get_ref();
    let burst = r.burst.unwrap_or(r.rate.max(1.0));
    if !(r.rate > 0.0 && r.rate <= 1e12 && (1.0..=1e15).contains(&burst)) {
        return Err(cx.bad(
            b,
            key,
            &format!("needs rate > 0 ({unit} per second) and burst ≥ 1 ({unit}), e.g. {{ rate = 2, burst = 4 }}"),
        ));
    }
    Ok(Some(Bucket {
        rate: r.rate,
        burst,
    }))
}

/// `[slo]` and `[slo.tenants.<name>]`: percentiles p50/p90/p99 of TTFT, TPOT and E2E.
pub fn lower_slo(cx: &Cx, s: &RawSlo, workload: &WorkloadSpec) -> Result<Slo, ScenarioError> {
    let tenant_names: Vec<&str> = workload
        .sharing
        .tenants
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    let mut tables: Vec<(String, Option<u32>, [&RawPercentiles; 3])> =
        vec![("slo".to_string(), None, [&s.ttft_ms, &s.tpot_ms, &s.e2e_ms])];
    for (name, t) in s.tenants.iter().flatten() {
        let table = format!("slo.tenants.{name}");
        let Some(i) = tenant_names.iter().position(|n| n == name) else {
            let known = if tenant_names.is_empty() {
                "there are none: add [[workload.tenants]] tables, or remove this one".to_string()
            } else {
                format!("the tenants are {}", tenant_names.join(", "))
            };
            let (key, at) = [
                ("ttft_ms", &t.ttft_ms),
                ("tpot_ms", &t.tpot_ms),
                ("e2e_ms", &t.e2e_ms),
            ]
            .into_iter()
            .find_map(|(k, m)| m.as_ref().map(|m| (k, Some(m.span()))))
            .unwrap_or(("ttft_ms", None));
            return Err(cx.err(
                at,
                &format!("{table}.{key}"),
                "...",
                &format!("no tenant is named \"{name}\" in [[workload.tenants]]: {known}"),
            ));
        };
        tables.push((table, Some(i as u32), [&t.ttft_ms, &t.tpot_ms, &t.e2e_ms]));
    }
    let mut slo = Slo::default();
    for (table, tenant, metrics) in &tables {
        for ((metric, key), map) in [
            (SloMetric::Ttft, "ttft_ms"),
            (SloMetric::Tpot, "tpot_ms"),
            (SloMetric::E2e, "e2e_ms"),
        ]
        .into_iter()
        .zip(metrics)
        {
            let Some(map) = map else { continue };
            let at = Some(map.span());
            let key = format!("{table}.{key}");
            for (p, &limit) in map.get_ref() {
                let percentile = match p.as_str() {
                    "p50" => 50.0,
                    "p90" => 90.0,
                    "p99" => 99.0,
                    _ => {
                        return Err(cx.err(
                            at,
                            &key,
                            format!("{{ {p} = {limit} }}"),
                            "percentiles are p50, p90 or p99",
                        ));
                    }
                };
                if !(limit > 0.0 && limit.is_finite()) {
                    return Err(cx.err(
                        at,
                        &key,
                        limit,
                        "must be a positive number of milliseconds",
                    ));
                }
                // Below what any engine reaches: a TTFT or E2E includes the API server's
                // way in and out and a whole step; a TPOT, one decode step. Most likely
                // seconds written as milliseconds.
                let floor = if metric == SloMetric::Tpot { 1.0 } else { 5.0 };
                if limit < floor {
                    return Err(cx.err(
                        at,
                        &key,
                        format!("{{ {p} = {limit} }}"),
                        &format!(
                            "{limit} ms is below what any engine reaches (under {floor} ms); the values are milliseconds: for {limit} s write {}",
                            limit * 1000.0
                        ),
                    ));
                }
                slo.targets.push(SloTarget {
                    metric,
                    percentile,
                    limit_ms: limit,
                    tenant: *tenant,
                });
            }
        }
    }
    Ok(slo)
}
