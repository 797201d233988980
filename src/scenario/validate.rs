//! `RawScenario` → [`Scenario`]: resolve catalog names, convert units, check every rule.

use super::raw::{RawAcceptance, RawDist, RawScenario};
use super::{MAX_REQUESTS, Scenario, ScenarioError, Slo, SloMetric, SloTarget};
use crate::catalog::{Catalog, is_path};
use crate::kv::{CacheDtype, KvSpec};
use crate::model::WeightDtype;
use crate::serving::config::{AttentionKernel, EngineConfig, Preemption, Router, SchedulerKind};
use crate::serving::spec::{Acceptance, SpecMethod, Speculative};
use crate::sim::Nanos;
use crate::workload::{
    ArrivalProcess, FewShot, LengthDist, Rag, Sessions, Sharing, Tenant, TraceFormat,
    WorkloadSource, WorkloadSpec,
};
use std::path::{Path, PathBuf};

/// Largest Zipf support (max − min + 1): its CDF is precomputed, 8 bytes per point.
const MAX_ZIPF_SUPPORT: f64 = 16_777_216.0;

/// Line (1-based) where `key` is set inside `[table]` (`table = ""`: before any header), or
/// written as the dotted `table.key` at the top. A line-oriented search, enough for the
/// hand-written files scenarios are; `None` when the key is not written (a default).
pub fn line_of(text: &str, table: &str, key: &str) -> Option<usize> {
    let dotted = format!("{table}.{key}");
    let mut current = "";
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix('[') {
            current = rest.split(']').next().unwrap_or("").trim();
            continue;
        }
        let Some((k, _)) = t.split_once('=') else {
            continue;
        };
        let k: String = k
            .split('.')
            .map(|p| p.trim().trim_matches('"'))
            .collect::<Vec<_>>()
            .join(".");
        if (current == table && k == key) || (current.is_empty() && k == dotted) {
            return Some(i + 1);
        }
    }
    None
}

/// The line of `key` in the `index`-th `[[table]]` of an array of tables (0-based), or of
/// that table's header when the key is not written there.
fn line_in_array(text: &str, table: &str, index: usize, key: &str) -> Option<usize> {
    let mut seen = 0usize;
    let mut header = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("[[") {
            let name = rest.split("]]").next().unwrap_or("").trim();
            if header.is_some() {
                break;
            }
            if name == table {
                if seen == index {
                    header = Some(i + 1);
                }
                seen += 1;
            }
            continue;
        }
        if t.starts_with('[') {
            if header.is_some() {
                break;
            }
            continue;
        }
        if header.is_some()
            && let Some((k, _)) = t.split_once('=')
            && k.trim().trim_matches('"') == key
        {
            return Some(i + 1);
        }
    }
    header
}

struct Ctx<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Ctx<'_> {
    fn err(
        &self,
        table: &str,
        key: &str,
        value: impl std::fmt::Display,
        rule: &str,
    ) -> ScenarioError {
        let line = line_of(self.text, table, key)
            .or_else(|| line_of(self.text, table, key.split('.').next().unwrap_or(key)));
        let dotted = if table.is_empty() {
            key.to_string()
        } else {
            format!("{table}.{key}")
        };
        ScenarioError::Invalid {
            path: self.path.to_path_buf(),
            line,
            key: dotted,
            value: value.to_string(),
            rule: rule.to_string(),
        }
    }

    /// An error in the `index`-th `[[table]]` entry's `key` (`table[index].key` in the
    /// message, the entry's line).
    fn err_in_array(
        &self,
        table: &str,
        index: usize,
        key: &str,
        value: impl std::fmt::Display,
        rule: &str,
    ) -> ScenarioError {
        ScenarioError::Invalid {
            path: self.path.to_path_buf(),
            line: line_in_array(self.text, table, index, key),
            key: format!("{table}[{index}].{key}"),
            value: value.to_string(),
            rule: rule.to_string(),
        }
    }

    /// A path as written in the scenario: relative to the scenario file's folder (one rule
    /// for every path-valued key), or absolute.
    fn resolve(&self, p: &str) -> PathBuf {
        let pb = PathBuf::from(p);
        if pb.is_absolute() {
            return pb;
        }
        self.path.parent().unwrap_or(Path::new("")).join(pb)
    }

    /// A catalog spec as written: a path (see [`is_path`]) resolved against the scenario's
    /// folder, a catalog name unchanged.
    fn catalog_spec(&self, spec: &str) -> String {
        if is_path(spec) {
            self.resolve(spec).to_string_lossy().into_owned()
        } else {
            spec.to_string()
        }
    }
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

    /// Validate scenario text (`path` names it in errors and anchors relative paths).
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str, path: &Path, catalog: &Catalog) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = toml::from_str(text).map_err(|e| ScenarioError::Toml {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let cx = Ctx { text, path };
        let model = catalog
            .model(&cx.catalog_spec(&raw.model.name))
            .map_err(|e| {
                cx.err(
                    "model",
                    "name",
                    format!("\"{}\"", raw.model.name),
                    &e.to_string(),
                )
            })?;
        let weight_dtype: WeightDtype = match &raw.model.weight_dtype {
            Some(s) => s.parse().map_err(|e: crate::model::ModelError| {
                cx.err("model", "weight_dtype", format!("\"{s}\""), &e.to_string())
            })?,
            None if model.torch_dtype.as_deref() == Some("float16") => WeightDtype::Fp16,
            None => WeightDtype::Bf16,
        };
        let gpu = catalog
            .gpu(&cx.catalog_spec(&raw.hardware.gpu))
            .map_err(|e| {
                cx.err(
                    "hardware",
                    "gpu",
                    format!("\"{}\"", raw.hardware.gpu),
                    &e.to_string(),
                )
            })?;
        let tp = raw.hardware.tp.unwrap_or(1);
        if tp < 1 {
            return Err(cx.err("hardware", "tp", tp, "must be at least 1"));
        }
        let replicas = raw.hardware.replicas.unwrap_or(1);
        if !(1..=4096).contains(&replicas) {
            return Err(cx.err("hardware", "replicas", replicas, "must be in 1..=4096"));
        }
        let router = match raw.hardware.router.as_deref() {
            None | Some("round_robin") => Router::RoundRobin,
            Some("least_outstanding") => Router::LeastOutstanding,
            Some("prefix_affinity") => Router::PrefixAffinity,
            Some(other) => {
                return Err(cx.err(
                    "hardware",
                    "router",
                    format!("\"{other}\""),
                    "must be \"round_robin\", \"least_outstanding\" or \"prefix_affinity\"",
                ));
            }
        };
        let measured = raw.hardware.measured.as_ref().map(|m| cx.resolve(m));
        if let Some(m) = &measured
            && !m.exists()
        {
            return Err(cx.err(
                "hardware",
                "measured",
                format!("\"{}\"", m.display()),
                "file not found (write one with `planner bench`)",
            ));
        }

        let e = &raw.engine;
        let mut engine = EngineConfig::default();
        if let Some(s) = &e.scheduler {
            engine.scheduler = match s.as_str() {
                "static" => SchedulerKind::Static,
                "continuous" => SchedulerKind::Continuous,
                "chunked_prefill" => SchedulerKind::ChunkedPrefill,
                _ => {
                    return Err(cx.err(
                        "engine",
                        "scheduler",
                        format!("\"{s}\""),
                        "must be \"static\", \"continuous\" or \"chunked_prefill\"",
                    ));
                }
            };
        }
        let positive =
            |key: &str, v: Option<i64>, default: u32, max: i64| -> Result<u32, ScenarioError> {
                match v {
                    None => Ok(default),
                    Some(x) if x >= 1 && x <= max => Ok(x as u32),
                    Some(x) => Err(cx.err("engine", key, x, &format!("must be in 1..={max}"))),
                }
            };
        engine.max_num_seqs =
            positive("max_num_seqs", e.max_num_seqs, engine.max_num_seqs, 65_536)?;
        engine.max_num_batched_tokens = positive(
            "max_num_batched_tokens",
            e.max_num_batched_tokens,
            engine.max_num_batched_tokens,
            1 << 20,
        )?;
        if let Some(b) = e.block_size {
            if !(1..=256).contains(&b) || !(b as u64).is_power_of_two() {
                return Err(cx.err(
                    "engine",
                    "block_size",
                    b,
                    "must be a power of two in 1..=256 (vLLM uses 16)",
                ));
            }
            engine.block_size = b as u32;
        }
        if let Some(u) = e.gpu_memory_utilization {
            if !(u > 0.0 && u <= 1.0) {
                return Err(cx.err(
                    "engine",
                    "gpu_memory_utilization",
                    u,
                    "must be in (0, 1], e.g. 0.9",
                ));
            }
            engine.gpu_memory_utilization = u;
        }
        let auto = if model.torch_dtype.as_deref() == Some("float16") {
            CacheDtype::F16
        } else {
            CacheDtype::Bf16
        };
        let dtype = |key: &str, s: &str| -> Result<CacheDtype, ScenarioError> {
            if s == "auto" {
                return Ok(auto);
            }
            s.parse()
                .map_err(|m: String| cx.err("engine", key, format!("\"{s}\""), &m))
        };
        match (&e.kv_cache_dtype, &e.cache_type_k, &e.cache_type_v) {
            (Some(d), _, _) if e.cache_type_k.is_some() || e.cache_type_v.is_some() => {
                return Err(cx.err(
                    "engine",
                    "kv_cache_dtype",
                    format!("\"{d}\""),
                    "set either kv_cache_dtype (K and V alike) or cache_type_k / cache_type_v, not both; remove one",
                ));
            }
            (Some(d), _, _) => {
                engine.cache_type_k = dtype("kv_cache_dtype", d)?;
                engine.cache_type_v = engine.cache_type_k;
            }
            (None, k, v) => {
                engine.cache_type_k = k
                    .as_deref()
                    .map_or(Ok(auto), |s| dtype("cache_type_k", s))?;
                engine.cache_type_v = v
                    .as_deref()
                    .map_or(Ok(auto), |s| dtype("cache_type_v", s))?;
            }
        }
        if let Some(p) = &e.preemption {
            engine.preemption = match p.as_str() {
                "recompute" => Preemption::Recompute,
                "swap" => Preemption::Swap,
                _ => {
                    return Err(cx.err(
                        "engine",
                        "preemption",
                        format!("\"{p}\""),
                        "must be \"recompute\" or \"swap\"",
                    ));
                }
            };
        }
        if let Some(a) = &e.attention {
            engine.attention = match a.as_str() {
                "flash" => AttentionKernel::Flash,
                "standard" => AttentionKernel::Standard,
                _ => {
                    return Err(cx.err(
                        "engine",
                        "attention",
                        format!("\"{a}\""),
                        "must be \"flash\" or \"standard\"",
                    ));
                }
            };
        }
        if let Some(q) = e.max_queue {
            if q < 0 {
                return Err(cx.err("engine", "max_queue", q, "must be ≥ 0 (0 = unbounded)"));
            }
            engine.max_queue = q as u32;
        }
        KvSpec::new(&model, engine.cache_type_k, engine.cache_type_v, tp as u64)
            .map_err(|k| cx.err("hardware", "tp", tp, &k.to_string()))?;
        if let Some(on) = e.enable_prefix_caching {
            engine.prefix_caching = on;
        }
        if let Some(iso) = &e.prefix_cache_isolation {
            engine.prefix_isolation = match iso.as_str() {
                "per_tenant" => crate::kv::Isolation::PerTenant,
                "shared" => crate::kv::Isolation::Shared,
                _ => {
                    return Err(cx.err(
                        "engine",
                        "prefix_cache_isolation",
                        format!("\"{iso}\""),
                        "must be \"per_tenant\" (the default: no tenant reuses another's blocks) or \"shared\" (single-tenant deployments)",
                    ));
                }
            };
        }
        let mut draft = None;
        if let Some(sp) = &e.speculative {
            let (spec, d) = speculative(&cx, catalog, sp, &model, engine.scheduler)?;
            engine.speculative = Some(spec);
            draft = d;
        }

        let w = &raw.workload;
        let max_ctx = model.max_position_embeddings.min(u32::MAX as u64) as i64;
        // Defaults keep prompt + output within the context: output min(4096, what is left),
        // prompt the rest.
        let max_output = w.max_output_tokens.unwrap_or_else(|| {
            let left = match w.max_prompt_tokens {
                Some(p) => max_ctx - p,
                None => max_ctx / 2,
            };
            left.clamp(1, 4096)
        });
        let max_prompt = w.max_prompt_tokens.unwrap_or((max_ctx - max_output).max(1));
        if max_prompt < 1 || max_prompt > max_ctx {
            return Err(cx.err(
                "workload",
                "max_prompt_tokens",
                max_prompt,
                &format!("must be in 1..={max_ctx} (the model's max_position_embeddings)"),
            ));
        }
        if max_output < 1 || max_prompt + max_output > max_ctx.max(2) {
            return Err(cx.err(
                "workload",
                "max_output_tokens",
                max_output,
                &format!("must be ≥ 1 with max_prompt_tokens + max_output_tokens ≤ {max_ctx} (the model's max_position_embeddings); lower one of them"),
            ));
        }
        if engine.scheduler != SchedulerKind::ChunkedPrefill
            && (engine.max_num_batched_tokens as i64) < max_prompt
        {
            return Err(cx.err(
                "engine",
                "max_num_batched_tokens",
                engine.max_num_batched_tokens,
                &format!("must hold a whole prompt without chunking: raise it to at least {max_prompt} (workload.max_prompt_tokens) or use scheduler = \"chunked_prefill\""),
            ));
        }
        let rate = |required: bool| -> Result<f64, ScenarioError> {
            match w.rate {
                Some(r) if r > 0.0 && r.is_finite() => Ok(r),
                Some(r) => Err(cx.err(
                    "workload",
                    "rate",
                    r,
                    "must be a positive number of requests per second",
                )),
                None if required => Err(cx.err(
                    "workload",
                    "arrival",
                    format!("\"{}\"", w.arrival),
                    "needs workload.rate (requests per second)",
                )),
                None => Ok(1.0),
            }
        };
        let dist = |key: &str, d: &Option<RawDist>| -> Result<LengthDist, ScenarioError> {
            let Some(d) = d else {
                return Err(cx.err(
                    "workload",
                    "arrival",
                    format!("\"{}\"", w.arrival),
                    &format!("a synthetic workload needs workload.{key} = {{ dist = ... }}"),
                ));
            };
            let need = |v: Option<f64>, field: &str| {
                v.ok_or_else(|| {
                    cx.err(
                        "workload",
                        key,
                        format!("{{ dist = \"{}\" }}", d.dist),
                        &format!("needs `{field}`"),
                    )
                })
            };
            let pos = |v: f64, field: &str| {
                if v > 0.0 && v.is_finite() {
                    Ok(v)
                } else {
                    Err(cx.err("workload", key, v, &format!("`{field}` must be positive")))
                }
            };
            Ok(match d.dist.as_str() {
                "fixed" => LengthDist::Fixed {
                    value: pos(need(d.value, "value")?, "value")? as u32,
                },
                "uniform" => {
                    let (a, b) = (
                        pos(need(d.min, "min")?, "min")?,
                        pos(need(d.max, "max")?, "max")?,
                    );
                    if a > b {
                        return Err(cx.err(
                            "workload",
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
                "normal" => LengthDist::Normal {
                    mean: pos(need(d.mean, "mean")?, "mean")?,
                    std: need(d.std, "std")?.abs(),
                },
                "lognormal" => LengthDist::LogNormal {
                    median: pos(need(d.median, "median")?, "median")?,
                    sigma: need(d.sigma, "sigma")?.abs(),
                },
                "zipf" => {
                    let (a, b) = (
                        pos(need(d.min, "min")?, "min")?,
                        pos(need(d.max, "max")?, "max")?,
                    );
                    if a > b || b - a + 1.0 > MAX_ZIPF_SUPPORT {
                        return Err(cx.err(
                            "workload",
                            key,
                            format!("{{ min = {a}, max = {b} }}"),
                            &format!("zipf needs min ≤ max and at most {MAX_ZIPF_SUPPORT} values between them"),
                        ));
                    }
                    LengthDist::Zipf {
                        min: a as u32,
                        max: b as u32,
                        exponent: pos(need(d.exponent, "exponent")?, "exponent")?,
                    }
                }
                "empirical" => {
                    let file = d.file.as_ref().ok_or_else(|| {
                        cx.err("workload", key, "{ dist = \"empirical\" }", "needs `file`")
                    })?;
                    let p = cx.resolve(file);
                    let text = std::fs::read_to_string(&p).map_err(|e| {
                        cx.err(
                            "workload",
                            key,
                            format!("file = \"{file}\""),
                            &format!("cannot read {}: {e}", p.display()),
                        )
                    })?;
                    let mut lines = text.lines();
                    let col = match &d.column {
                        Some(c) => {
                            let header = lines.next().unwrap_or("");
                            Some(header.split(',').position(|h| h.trim() == c).ok_or_else(
                                || {
                                    cx.err(
                                        "workload",
                                        key,
                                        format!("column = \"{c}\""),
                                        &format!("no such column in {}", p.display()),
                                    )
                                },
                            )?)
                        }
                        None => None,
                    };
                    let values: Vec<u32> = lines
                        .filter_map(|l| {
                            let cell = match col {
                                Some(i) => l.split(',').nth(i)?,
                                None => l,
                            };
                            cell.trim().parse::<f64>().ok().map(|v| v.max(1.0) as u32)
                        })
                        .collect();
                    if values.is_empty() {
                        return Err(cx.err(
                            "workload",
                            key,
                            format!("file = \"{file}\""),
                            "holds no numbers",
                        ));
                    }
                    LengthDist::Empirical { values }
                }
                other => {
                    return Err(cx.err(
                        "workload",
                        key,
                        format!("{{ dist = \"{other}\" }}"),
                        "dist must be fixed, uniform, normal, lognormal, zipf or empirical",
                    ));
                }
            })
        };
        let source = match w.arrival.as_str() {
            "poisson" => WorkloadSource::Synthetic {
                arrival: ArrivalProcess::Poisson { rate: rate(true)? },
                prompt: dist("prompt", &w.prompt)?,
                output: dist("output", &w.output)?,
            },
            "constant" => WorkloadSource::Synthetic {
                arrival: ArrivalProcess::Constant { rate: rate(true)? },
                prompt: dist("prompt", &w.prompt)?,
                output: dist("output", &w.output)?,
            },
            "gamma" => {
                let cv = w.cv.unwrap_or(1.0);
                if !(cv > 0.0 && cv.is_finite()) {
                    return Err(cx.err(
                        "workload",
                        "cv",
                        cv,
                        "must be positive (1 = Poisson, > 1 bursty)",
                    ));
                }
                WorkloadSource::Synthetic {
                    arrival: ArrivalProcess::Gamma {
                        rate: rate(true)?,
                        cv,
                    },
                    prompt: dist("prompt", &w.prompt)?,
                    output: dist("output", &w.output)?,
                }
            }
            "trace" => {
                let t = w.trace.as_ref().ok_or_else(|| {
                    cx.err(
                        "workload",
                        "arrival",
                        "\"trace\"",
                        "needs workload.trace = \"path/to/trace\"",
                    )
                })?;
                let p = cx.resolve(t);
                if !p.exists() {
                    return Err(cx.err("workload", "trace", format!("\"{t}\""), "file not found"));
                }
                let format = match w.trace_format.as_deref().unwrap_or("mooncake") {
                    "mooncake" => TraceFormat::Mooncake,
                    "azure" => TraceFormat::Azure,
                    f => {
                        return Err(cx.err(
                            "workload",
                            "trace_format",
                            format!("\"{f}\""),
                            "must be \"mooncake\" or \"azure\"",
                        ));
                    }
                };
                let ts = w.time_scale.unwrap_or(1.0);
                if !(ts > 0.0 && ts.is_finite()) {
                    return Err(cx.err("workload", "time_scale", ts, "must be positive"));
                }
                WorkloadSource::Trace {
                    path: p,
                    format,
                    time_scale: ts,
                }
            }
            other => {
                return Err(cx.err(
                    "workload",
                    "arrival",
                    format!("\"{other}\""),
                    "must be poisson, gamma, constant or trace",
                ));
            }
        };
        if let Some(n) = w.num_requests
            && !(n >= 1 && n as u64 <= MAX_REQUESTS)
        {
            return Err(cx.err(
                "workload",
                "num_requests",
                n,
                &format!("must be in 1..={MAX_REQUESTS} (a cap against typos; raise it by editing scenario::MAX_REQUESTS)"),
            ));
        }
        if let Some(d) = w.duration_s
            && !(d > 0.0 && d.is_finite())
        {
            return Err(cx.err(
                "workload",
                "duration_s",
                d,
                "must be a positive number of seconds",
            ));
        }
        if w.num_requests.is_none()
            && w.duration_s.is_none()
            && !matches!(source, WorkloadSource::Trace { .. })
        {
            return Err(cx.err(
                "workload",
                "arrival",
                format!("\"{}\"", w.arrival),
                "needs workload.num_requests or workload.duration_s",
            ));
        }
        let mut sharing = Sharing::default();
        let synthetic = matches!(source, WorkloadSource::Synthetic { .. });
        if let Some(ts) = &w.tenants {
            if !synthetic {
                return Err(cx.err(
                    "workload",
                    "tenants",
                    "[...]",
                    "tenants shape synthetic prompts; a trace brings its own (remove them)",
                ));
            }
            let mut names = std::collections::BTreeSet::new();
            const TT: &str = "workload.tenants";
            for (i, t) in ts.iter().enumerate() {
                if !names.insert(t.name.as_str()) {
                    return Err(cx.err_in_array(
                        TT,
                        i,
                        "name",
                        format!("\"{}\"", t.name),
                        "tenant names must be unique (another tenant has this one)",
                    ));
                }
                if !(t.share > 0.0 && t.share.is_finite()) {
                    return Err(cx.err_in_array(
                        TT,
                        i,
                        "share",
                        t.share,
                        "must be a positive number (tenant shares are relative weights)",
                    ));
                }
                let sys = t.system_prompt_tokens.unwrap_or(0);
                if !(0..=max_prompt).contains(&sys) {
                    return Err(cx.err_in_array(
                        TT,
                        i,
                        "system_prompt_tokens",
                        sys,
                        &format!("must be in 0..={max_prompt} (workload.max_prompt_tokens)"),
                    ));
                }
                let n = t.system_prompts.unwrap_or(1);
                if !(1..=1_000_000).contains(&n) {
                    return Err(cx.err_in_array(
                        TT,
                        i,
                        "system_prompts",
                        n,
                        "must be in 1..=1000000",
                    ));
                }
                sharing.tenants.push(Tenant {
                    name: t.name.clone(),
                    share: t.share,
                    system_prompt_tokens: sys as u32,
                    system_prompts: n as u32,
                });
            }
        }
        if let Some(r) = &w.rag {
            if !synthetic {
                return Err(cx.err(
                    "workload",
                    "rag",
                    "{...}",
                    "RAG shapes synthetic prompts; remove it for a trace",
                ));
            }
            if !(1..=100_000_000).contains(&r.documents) {
                return Err(cx.err(
                    "workload.rag",
                    "documents",
                    r.documents,
                    "must be in 1..=100000000",
                ));
            }
            if !(1..=64).contains(&r.per_request) || r.per_request > r.documents {
                return Err(cx.err(
                    "workload.rag",
                    "per_request",
                    r.per_request,
                    "must be in 1..=64 and at most the number of documents",
                ));
            }
            let zipf = r.zipf.unwrap_or(1.0);
            if !(zipf > 0.0 && zipf.is_finite()) {
                return Err(cx.err(
                    "workload.rag",
                    "zipf",
                    zipf,
                    "must be a positive exponent (1 is classic Zipf)",
                ));
            }
            sharing.rag = Some(Rag {
                documents: r.documents as u32,
                zipf,
                per_request: r.per_request as u32,
                document_tokens: dist("rag.document_tokens", &r.document_tokens)?,
            });
        }
        if let Some(f) = &w.few_shot {
            if !synthetic {
                return Err(cx.err(
                    "workload",
                    "few_shot",
                    "{...}",
                    "few-shot templates shape synthetic prompts; remove them for a trace",
                ));
            }
            if !(1..=1_000_000).contains(&f.templates)
                || !(1..=max_prompt).contains(&f.template_tokens)
            {
                return Err(cx.err(
                    "workload.few_shot",
                    "templates",
                    format!(
                        "templates = {}, template_tokens = {}",
                        f.templates, f.template_tokens
                    ),
                    &format!(
                        "templates must be in 1..=1000000 and template_tokens in 1..={max_prompt}"
                    ),
                ));
            }
            sharing.few_shot = Some(FewShot {
                templates: f.templates as u32,
                template_tokens: f.template_tokens as u32,
            });
        }
        if let Some(ss) = &w.sessions {
            if !synthetic {
                return Err(cx.err(
                    "workload",
                    "sessions",
                    "{...}",
                    "sessions shape synthetic prompts; a trace brings its own (remove them)",
                ));
            }
            if !(ss.think_time_s >= 0.0 && ss.think_time_s.is_finite()) {
                return Err(cx.err(
                    "workload.sessions",
                    "think_time_s",
                    ss.think_time_s,
                    "must be a non-negative number of seconds",
                ));
            }
            let closed_loop = match ss.think_from.as_deref() {
                None | Some("answer") => true,
                Some("arrival") => false,
                Some(other) => {
                    return Err(cx.err(
                        "workload.sessions",
                        "think_from",
                        format!("{other:?}"),
                        "must be \"answer\" (the next turn comes a think time after the \
                         previous answer ends) or \"arrival\" (after the previous turn arrives)",
                    ));
                }
            };
            sharing.sessions = Some(Sessions {
                turns: dist("sessions.turns", &ss.turns)?,
                think_time_s: ss.think_time_s,
                closed_loop,
            });
        }
        let workload = WorkloadSpec {
            source,
            num_requests: w.num_requests.map(|n| n as u64),
            duration: w.duration_s.map(Nanos::from_secs_f64),
            max_prompt_tokens: max_prompt as u32,
            max_output_tokens: max_output as u32,
            sharing,
            lenient: w.lenient.unwrap_or(false),
        };

        let mut slo = Slo::default();
        let tenant_names: Vec<&str> = workload
            .sharing
            .tenants
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        type Percentiles = Option<std::collections::BTreeMap<String, f64>>;
        let mut tables: Vec<(String, Option<u32>, [&Percentiles; 3])> = vec![(
            "slo".to_string(),
            None,
            [&raw.slo.ttft_ms, &raw.slo.tpot_ms, &raw.slo.e2e_ms],
        )];
        for (name, t) in raw.slo.tenants.iter().flatten() {
            let table = format!("slo.tenants.{name}");
            let Some(i) = tenant_names.iter().position(|n| n == name) else {
                let known = if tenant_names.is_empty() {
                    "there are none: add [[workload.tenants]] tables, or remove this one"
                        .to_string()
                } else {
                    format!("the tenants are {}", tenant_names.join(", "))
                };
                let key = ["ttft_ms", "tpot_ms", "e2e_ms"]
                    .into_iter()
                    .find(|k| line_of(cx.text, &table, k).is_some())
                    .unwrap_or("ttft_ms");
                return Err(cx.err(
                    &table,
                    key,
                    "...",
                    &format!("no tenant is named \"{name}\" in [[workload.tenants]]: {known}"),
                ));
            };
            tables.push((table, Some(i as u32), [&t.ttft_ms, &t.tpot_ms, &t.e2e_ms]));
        }
        for (table, tenant, metrics) in &tables {
            for ((metric, key), map) in [
                (SloMetric::Ttft, "ttft_ms"),
                (SloMetric::Tpot, "tpot_ms"),
                (SloMetric::E2e, "e2e_ms"),
            ]
            .into_iter()
            .zip(metrics)
            {
                for (p, &limit) in map.iter().flatten() {
                    let percentile = match p.as_str() {
                        "p50" => 50.0,
                        "p90" => 90.0,
                        "p99" => 99.0,
                        _ => {
                            return Err(cx.err(
                                table,
                                key,
                                format!("{{ {p} = {limit} }}"),
                                "percentiles are p50, p90 or p99",
                            ));
                        }
                    };
                    if !(limit > 0.0 && limit.is_finite()) {
                        return Err(cx.err(
                            table,
                            key,
                            limit,
                            "must be a positive number of milliseconds",
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
        let name = raw.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("scenario")
                .to_string()
        });
        if name.is_empty() || name.contains(['/', '\\']) || name == ".." {
            return Err(cx.err(
                "",
                "name",
                format!("\"{name}\""),
                "must be a plain folder name",
            ));
        }
        Ok(Scenario {
            name,
            path: path.to_path_buf(),
            seed: raw.seed,
            output_dir: PathBuf::from(raw.output_dir.clone().unwrap_or_else(|| "reports".into())),
            model,
            weight_dtype,
            gpu,
            tp: tp as u32,
            replicas: replicas as u32,
            measured,
            engine,
            router,
            draft,
            workload,
            slo,
        })
    }
}

/// `[engine.speculative]` → the settings and, for a draft model, the model.
fn speculative(
    cx: &Ctx,
    catalog: &Catalog,
    sp: &super::raw::RawSpeculative,
    target: &crate::model::Model,
    scheduler: SchedulerKind,
) -> Result<(Speculative, Option<crate::model::Model>), ScenarioError> {
    const T: &str = "engine.speculative";
    if scheduler == SchedulerKind::Static {
        return Err(cx.err(
            "engine",
            "scheduler",
            "\"static\"",
            "speculative decoding needs iteration-level scheduling: use \"continuous\" or \"chunked_prefill\"",
        ));
    }
    if !["draft_model", "ngram", "head"].contains(&sp.method.as_str()) {
        return Err(cx.err(
            T,
            "method",
            format!("\"{}\"", sp.method),
            "must be \"draft_model\", \"ngram\" or \"head\"",
        ));
    }
    let gamma = sp.num_speculative_tokens.ok_or_else(|| {
        cx.err(
            T,
            "num_speculative_tokens",
            "(missing)",
            "set the draft length γ, e.g. 4",
        )
    })?;
    if !(1..=16).contains(&gamma) {
        return Err(cx.err(
            T,
            "num_speculative_tokens",
            gamma,
            "must be in 1..=16 (γ = 0 is no speculation: remove [engine.speculative])",
        ));
    }
    let acceptance = match &sp.acceptance {
        None => {
            return Err(cx.err(
                T,
                "acceptance",
                "(missing)",
                "give the draft acceptance rate: a number (α = 0.7), a list per position ([0.9, 0.8, 0.6]) or { beta = [7, 3] }",
            ));
        }
        Some(RawAcceptance::Constant(a)) => Acceptance::Constant(*a),
        Some(RawAcceptance::Curve(v)) => Acceptance::PerPosition(v.clone()),
        Some(RawAcceptance::Beta { beta }) if beta.len() == 2 => Acceptance::Beta {
            a: beta[0],
            b: beta[1],
        },
        Some(RawAcceptance::Beta { beta }) => {
            return Err(cx.err(
                T,
                "acceptance",
                format!("{{ beta = {beta:?} }}"),
                "beta takes two shapes: { beta = [a, b] }",
            ));
        }
        Some(RawAcceptance::Other(v)) => {
            return Err(cx.err(
                T,
                "acceptance",
                v,
                "must be a number (α = 0.7), a list of numbers, one per draft position \
                 ([0.9, 0.8, 0.6]), or { beta = [a, b] } for a per-request α",
            ));
        }
    };
    acceptance
        .check()
        .map_err(|m| cx.err(T, "acceptance", format!("{:?}", sp.acceptance), &m))?;
    if sp.draft_model.is_some() && sp.method != "draft_model" {
        return Err(cx.err(
            T,
            "draft_model",
            format!("\"{}\"", sp.draft_model.as_deref().unwrap_or("")),
            "only method = \"draft_model\" takes a draft model; remove it",
        ));
    }
    if sp.head_layer_fraction.is_some() && sp.method != "head" {
        return Err(cx.err(
            T,
            "head_layer_fraction",
            sp.head_layer_fraction.unwrap_or(0.0),
            "only method = \"head\" takes a layer fraction; remove it",
        ));
    }
    let (method, draft) = match sp.method.as_str() {
        "head" => {
            let f = sp.head_layer_fraction.unwrap_or(1.0);
            if !(f > 0.0 && f <= 8.0) {
                return Err(cx.err(
                    T,
                    "head_layer_fraction",
                    f,
                    "must be in (0, 8] target layers (EAGLE-1: 1)",
                ));
            }
            (SpecMethod::Head { layer_fraction: f }, None)
        }
        "draft_model" => {
            let name = sp.draft_model.as_deref().ok_or_else(|| {
                cx.err(
                    T,
                    "draft_model",
                    "(missing)",
                    "name the draft model, e.g. draft_model = \"llama-3.2-1b\"",
                )
            })?;
            let d = catalog
                .model(&cx.catalog_spec(name))
                .map_err(|e| cx.err(T, "draft_model", format!("\"{name}\""), &e.to_string()))?;
            if d.params_total() >= target.params_total() {
                return Err(cx.err(
                    T,
                    "draft_model",
                    format!("\"{name}\""),
                    &format!(
                        "the draft ({:.2} B parameters) is not smaller than the target {} ({:.2} B): choose a smaller draft",
                        d.params_total() as f64 / 1e9,
                        target.name,
                        target.params_total() as f64 / 1e9
                    ),
                ));
            }
            if d.vocab_size != target.vocab_size {
                return Err(cx.err(
                    T,
                    "draft_model",
                    format!("\"{name}\""),
                    &format!(
                        "the draft's vocabulary ({} tokens) differs from the target's ({}): its tokens cannot be verified; choose a draft of the same family",
                        d.vocab_size, target.vocab_size
                    ),
                ));
            }
            (SpecMethod::DraftModel(d.name.clone()), Some(d))
        }
        // "ngram", the one other name the check above lets through.
        _ => (SpecMethod::Ngram, None),
    };
    Ok((
        Speculative {
            method,
            num_tokens: gamma as u32,
            acceptance,
        },
        draft,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"name = "t"
seed = 1
[model]
name = "llama-3.1-8b"
[hardware]
gpu = "h100-sxm"
[engine]
block_size = 16
[workload]
arrival = "poisson"
rate = 5.0
num_requests = 10
max_prompt_tokens = 4096
prompt = { dist = "fixed", value = 100 }
output = { dist = "fixed", value = 10 }
[slo]
ttft_ms = { p90 = 500 }
"#;

    fn err(text: &str) -> String {
        Scenario::from_str(text, Path::new("scenarios/x.toml"), &Catalog::builtin())
            .unwrap_err()
            .to_string()
    }

    /// Replace `from` (which must occur) in BASE and return the error message.
    fn err_with(from: &str, to: &str) -> String {
        assert!(BASE.contains(from), "{from}");
        err(&BASE.replace(from, to))
    }

    #[test]
    fn full_scenario_parses_into_engine_workload_and_slo() {
        let text = r#"# a comment
name = "rag"
seed = 42
output_dir = "out"
[model]   # the model
name = "llama-3.1-8b"
weight_dtype = "fp8"
[hardware]
gpu = "h100-sxm"
tp = 2
replicas = 3
[engine]   # engine knobs
scheduler = "continuous"
max_num_seqs = 128
max_num_batched_tokens = 16384
block_size = 32
gpu_memory_utilization = 0.85
cache_type_k = "q8_0"
cache_type_v = "q4_0"
preemption = "swap"
attention = "standard"
max_queue = 100
[workload]
arrival = "gamma"
rate = 4.0
cv = 2.5
num_requests = 500
duration_s = 30.0
max_prompt_tokens = 16000
max_output_tokens = 2000
prompt = { dist = "zipf", min = 10, max = 9000, exponent = 1.1 }
output = { dist = "lognormal", median = 200, sigma = 0.5 }
[slo]
ttft_ms = { p50 = 200, p99 = 900 }
tpot_ms = { p90 = 50 }
e2e_ms = { p99 = 20000 }
"#;
        let s =
            Scenario::from_str(text, Path::new("scenarios/rag.toml"), &Catalog::builtin()).unwrap();
        assert_eq!((s.name.as_str(), s.seed), ("rag", 42));
        assert_eq!(s.output_dir, PathBuf::from("out"));
        assert_eq!(s.weight_dtype, WeightDtype::Fp8);
        assert_eq!((s.tp, s.replicas, s.measured.as_ref()), (2, 3, None));
        assert_eq!(
            s.engine,
            EngineConfig {
                scheduler: SchedulerKind::Continuous,
                max_num_seqs: 128,
                max_num_batched_tokens: 16384,
                block_size: 32,
                gpu_memory_utilization: 0.85,
                cache_type_k: "q8_0".parse().unwrap(),
                cache_type_v: "q4_0".parse().unwrap(),
                preemption: Preemption::Swap,
                attention: AttentionKernel::Standard,
                max_queue: 100,
                speculative: None,
                prefix_caching: true,
                prefix_isolation: crate::kv::Isolation::PerTenant,
            }
        );
        assert_eq!(
            s.workload,
            WorkloadSpec {
                source: WorkloadSource::Synthetic {
                    arrival: ArrivalProcess::Gamma { rate: 4.0, cv: 2.5 },
                    prompt: LengthDist::Zipf {
                        min: 10,
                        max: 9000,
                        exponent: 1.1
                    },
                    output: LengthDist::LogNormal {
                        median: 200.0,
                        sigma: 0.5
                    },
                },
                num_requests: Some(500),
                duration: Some(Nanos::from_secs_f64(30.0)),
                max_prompt_tokens: 16000,
                max_output_tokens: 2000,
                sharing: Sharing::default(),
                lenient: false,
            }
        );
        let t = |metric, percentile, limit_ms| SloTarget {
            tenant: None,
            metric,
            percentile,
            limit_ms,
        };
        assert_eq!(
            s.slo.targets,
            vec![
                t(SloMetric::Ttft, 50.0, 200.0),
                t(SloMetric::Ttft, 99.0, 900.0),
                t(SloMetric::Tpot, 90.0, 50.0),
                t(SloMetric::E2e, 99.0, 20000.0),
            ]
        );
    }

    #[test]
    fn defaults_fill_what_is_not_written() {
        let text = BASE
            .replace("[engine]\nblock_size = 16\n", "")
            .replace("name = \"t\"\n", "")
            .replace("max_prompt_tokens = 4096\n", "");
        let s =
            Scenario::from_str(&text, Path::new("dir/my_run.toml"), &Catalog::builtin()).unwrap();
        assert_eq!(s.name, "my_run");
        assert_eq!(s.output_dir, PathBuf::from("reports"));
        assert_eq!(s.engine, EngineConfig::default());
        assert_eq!((s.tp, s.replicas), (1, 1));
        assert_eq!(s.weight_dtype, WeightDtype::Bf16);
        assert_eq!(s.workload.max_output_tokens, 4096);
        assert_eq!(s.workload.max_prompt_tokens, 131_072 - 4096);
        // A short-context model still gets defaults that fit it.
        let s = Scenario::from_str(
            &text.replace("llama-3.1-8b", "pythia-1.4b"),
            Path::new("x.toml"),
            &Catalog::builtin(),
        )
        .unwrap();
        assert_eq!(
            (s.workload.max_prompt_tokens, s.workload.max_output_tokens),
            (1024, 1024)
        );
        // pythia's torch_dtype is float16: auto K/V and the default weights follow it.
        assert_eq!(s.engine.cache_type_k, CacheDtype::F16);
        assert_eq!(s.weight_dtype, WeightDtype::Fp16);
    }

    #[test]
    fn each_rule_names_file_line_and_key() {
        // (replace, with, expected start of the message, expected words in the rule)
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                "block_size = 16",
                "block_size = 0",
                "scenarios/x.toml:8: engine.block_size = 0: ",
                "power of two in 1..=256",
            ),
            (
                "block_size = 16",
                "block_size = 24",
                "scenarios/x.toml:8: engine.block_size = 24: ",
                "power of two",
            ),
            (
                "block_size = 16",
                "block_size = 512",
                "scenarios/x.toml:8: engine.block_size = 512: ",
                "1..=256",
            ),
            (
                "block_size = 16",
                "gpu_memory_utilization = 0.0",
                "scenarios/x.toml:8: engine.gpu_memory_utilization = 0: ",
                "(0, 1]",
            ),
            (
                "block_size = 16",
                "gpu_memory_utilization = 1.5",
                "scenarios/x.toml:8: engine.gpu_memory_utilization = 1.5: ",
                "(0, 1]",
            ),
            (
                "block_size = 16",
                "max_num_seqs = 0",
                "scenarios/x.toml:8: engine.max_num_seqs = 0: ",
                "1..=",
            ),
            (
                "block_size = 16",
                "max_num_batched_tokens = 0",
                "scenarios/x.toml:8: engine.max_num_batched_tokens = 0: ",
                "1..=",
            ),
            (
                "block_size = 16",
                "scheduler = \"static\"\nmax_num_batched_tokens = 2048",
                "scenarios/x.toml:9: engine.max_num_batched_tokens = 2048: ",
                "raise it to at least 4096 (workload.max_prompt_tokens) or use scheduler = \"chunked_prefill\"",
            ),
            (
                "block_size = 16",
                "scheduler = \"fifo\"",
                "scenarios/x.toml:8: engine.scheduler = \"fifo\": ",
                "\"static\", \"continuous\" or \"chunked_prefill\"",
            ),
            (
                "rate = 5.0",
                "rate = -1.0",
                "scenarios/x.toml:11: workload.rate = -1: ",
                "positive",
            ),
            (
                "rate = 5.0",
                "rate = inf",
                "scenarios/x.toml:11: workload.rate = inf: ",
                "positive",
            ),
            (
                "rate = 5.0\n",
                "",
                "scenarios/x.toml:10: workload.arrival = \"poisson\": ",
                "needs workload.rate",
            ),
            (
                "gpu = \"h100-sxm\"",
                "gpu = \"h100-sxm\"\ntp = 3",
                "scenarios/x.toml:7: hardware.tp = 3: ",
                "does not divide",
            ),
            (
                "gpu = \"h100-sxm\"",
                "gpu = \"h100-sxm\"\ntp = 0",
                "scenarios/x.toml:7: hardware.tp = 0: ",
                "at least 1",
            ),
            (
                "gpu = \"h100-sxm\"",
                "gpu = \"h100-sxm\"\nreplicas = 0",
                "scenarios/x.toml:7: hardware.replicas = 0: ",
                "1..=",
            ),
            (
                "num_requests = 10\n",
                "",
                "scenarios/x.toml:10: workload.arrival = \"poisson\": ",
                "num_requests or workload.duration_s",
            ),
            (
                "num_requests = 10",
                "num_requests = 10000001",
                "scenarios/x.toml:12: workload.num_requests = 10000001: ",
                "raise it by editing scenario::MAX_REQUESTS",
            ),
            (
                "num_requests = 10",
                "duration_s = 0.0",
                "scenarios/x.toml:12: workload.duration_s = 0: ",
                "positive",
            ),
            (
                "p90 = 500",
                "p95 = 500",
                "scenarios/x.toml:17: slo.ttft_ms = { p95 = 500 }: ",
                "p50, p90 or p99",
            ),
            (
                "gpu = \"h100-sxm\"",
                "gpu = \"h100\"",
                "scenarios/x.toml:6: hardware.gpu = \"h100\": ",
                "h100-sxm",
            ),
            (
                "name = \"llama-3.1-8b\"",
                "name = \"llama-9\"",
                "scenarios/x.toml:4: model.name = \"llama-9\": ",
                "llama-3.1-8b",
            ),
            (
                "{ dist = \"fixed\", value = 100 }",
                "{ dist = \"zipf\", min = 50, max = 10, exponent = 1.0 }",
                "scenarios/x.toml:14: workload.prompt = ",
                "min ≤ max",
            ),
            (
                "arrival = \"poisson\"",
                "arrival = \"trace\"\ntrace = \"no/such/file.jsonl\"",
                "scenarios/x.toml:11: workload.trace = \"no/such/file.jsonl\": ",
                "not found",
            ),
        ];
        for (from, to, start, rule) in cases {
            let e = err_with(from, to);
            assert!(e.starts_with(start) && e.contains(rule), "{to}\n→ {e}");
        }
    }

    #[test]
    fn cache_dtype_forms_are_exclusive() {
        let e = err_with(
            "block_size = 16",
            "kv_cache_dtype = \"fp8\"\ncache_type_k = \"q8_0\"",
        );
        assert!(
            e.starts_with("scenarios/x.toml:8: engine.kv_cache_dtype = \"fp8\": ")
                && e.contains("not both"),
            "{e}"
        );
        let s = Scenario::from_str(
            &BASE.replace("block_size = 16", "kv_cache_dtype = \"fp8\""),
            Path::new("x.toml"),
            &Catalog::builtin(),
        )
        .unwrap();
        assert_eq!(s.engine.cache_type_k, s.engine.cache_type_v);
        assert_ne!(s.engine.cache_type_k, CacheDtype::Bf16);
    }

    #[test]
    fn toml_errors_keep_the_parsers_message() {
        let e = err_with("block_size = 16", "block_sise = 16");
        assert!(
            e.starts_with("scenarios/x.toml: ") && e.contains("block_sise") && e.contains("line 8"),
            "{e}"
        );
        let e = err_with("block_size = 16", "block_size = \"x\"");
        assert!(
            e.starts_with("scenarios/x.toml: ") && e.contains("line 8"),
            "{e}"
        );
        let e = err_with("seed = 1", "seed = 1\nbogus = true");
        assert!(e.contains("bogus"), "{e}");
        let e = err_with(
            "{ dist = \"fixed\", value = 100 }",
            "{ dist = \"fixed\", valu = 100 }",
        );
        assert!(e.contains("valu"), "{e}");
    }

    #[test]
    fn tenant_errors_name_the_entry_and_its_line() {
        let two = BASE.replace(
            "[slo]\n",
            "[[workload.tenants]]\nname = \"a\"\nshare = 1.0\n\
             [[workload.tenants]]\nname = \"b\"\nshare = 0.0\n[slo]\n",
        );
        let e = err(&two);
        assert!(
            e.contains("x.toml:21: workload.tenants[1].share = 0: must be a positive"),
            "{e}"
        );
        let e = err(&two.replace("name = \"b\"", "name = \"a\""));
        assert!(
            e.contains("x.toml:20: workload.tenants[1].name = \"a\": tenant names must be unique"),
            "{e}"
        );
        // A tenant's own SLO must name a tenant that exists.
        let ok = two.replace("share = 0.0", "share = 2.0");
        let with_slo = |name: &str| format!("{ok}[slo.tenants.{name}]\ntpot_ms = {{ p90 = 30 }}\n");
        let s =
            Scenario::from_str(&with_slo("b"), Path::new("x.toml"), &Catalog::builtin()).unwrap();
        assert_eq!(s.slo.targets.len(), 2);
        assert_eq!(s.slo.targets[1].tenant, Some(1));
        let e = err(&with_slo("c"));
        assert!(
            e.contains("x.toml:25: slo.tenants.c.tpot_ms")
                && e.contains(
                    "no tenant is named \"c\" in [[workload.tenants]]: the tenants are a, b"
                ),
            "{e}"
        );
        let e = err(&format!("{BASE}[slo.tenants.c]\nttft_ms = {{ p50 = 9 }}\n"));
        assert!(e.contains("there are none"), "{e}");
        // Acceptance of a kind it cannot take: the forms it can.
        let e = err(&format!(
            "{BASE}[engine.speculative]\nmethod = \"ngram\"\nnum_speculative_tokens = 4\nacceptance = \"high\"\n"
        ));
        assert!(
            e.contains("x.toml:21: engine.speculative.acceptance = \"high\": must be a number"),
            "{e}"
        );
    }

    #[test]
    fn line_of_finds_keys_in_their_table() {
        let text = "seed = 1\n[engine]  # knobs\n\"block_size\" = 8\n[workload]\nblock_size = 3\n";
        assert_eq!(line_of(text, "engine", "block_size"), Some(3));
        assert_eq!(line_of(text, "workload", "block_size"), Some(5));
        assert_eq!(line_of(text, "", "seed"), Some(1));
        assert_eq!(line_of(text, "engine", "seed"), None);
        assert_eq!(
            line_of("engine.max_queue = 2\n", "engine", "max_queue"),
            Some(1)
        );
    }

    #[test]
    fn trace_paths_are_relative_to_the_scenario() {
        let dir = std::env::temp_dir().join(format!("planner-scn-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("traces")).unwrap();
        std::fs::write(dir.join("traces/t.jsonl"), "").unwrap();
        let text = BASE.replace(
            "arrival = \"poisson\"",
            "arrival = \"trace\"\ntrace = \"traces/t.jsonl\"\ntime_scale = 2.0",
        );
        let s = Scenario::from_str(&text, &dir.join("s.toml"), &Catalog::builtin()).unwrap();
        assert_eq!(
            s.workload.source,
            WorkloadSource::Trace {
                path: dir.join("traces/t.jsonl"),
                format: TraceFormat::Mooncake,
                time_scale: 2.0
            }
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Model and GPU paths in a scenario resolve against its folder, never the working
    /// folder; names go to the catalog (here: the built-ins).
    #[test]
    fn catalog_paths_are_relative_to_the_scenario() {
        let dir = std::env::temp_dir().join(format!("planner-scn-cat-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("mine")).unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let gpu = std::fs::read_to_string(root.join("hardware/l4.toml")).unwrap();
        std::fs::write(dir.join("mine/gpu.toml"), gpu).unwrap();
        let model = std::fs::read_to_string(root.join("models/qwen2.5-0.5b.toml")).unwrap();
        std::fs::write(dir.join("mine/m.toml"), model).unwrap();
        let text = BASE
            .replace("gpu = \"h100-sxm\"", "gpu = \"mine/gpu.toml\"")
            .replace("name = \"llama-3.1-8b\"", "name = \"mine/m.toml\"");
        assert_ne!(text, BASE);
        let s = Scenario::from_str(&text, &dir.join("s.toml"), &Catalog::builtin()).unwrap();
        assert_eq!(s.gpu.source, dir.join("mine/gpu.toml"));
        assert_eq!(s.model.source, dir.join("mine/m.toml"));
        // The same text anchored elsewhere does not find them (no fallback to the working
        // folder or anywhere else).
        let err = Scenario::from_str(&text, Path::new("elsewhere/s.toml"), &Catalog::builtin())
            .unwrap_err()
            .to_string();
        assert!(err.contains("elsewhere/mine/m.toml: cannot read"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn shipped_scenarios_validate() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        for name in ["chat", "code", "rag", "long_context"] {
            let path = dir.join(format!("{name}.toml"));
            let s = Scenario::load(&path, &Catalog::builtin()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(s.name, name);
        }
    }
}
