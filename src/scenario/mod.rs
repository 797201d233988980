//! Scenarios: one TOML file says what to simulate. Parsed into [`raw::RawScenario`] (a 1:1
//! mirror, unknown keys refused), then validated into [`Scenario`] here: catalog names
//! resolved, units converted, cross-field rules checked. Errors name the file, the line, the
//! key and the fix: `scenarios/x.toml:12: engine.block_size = 0: must be a power of two in
//! 1..=256`.
//!
//! ```toml
//! name = "rag"                  # report folder (default: file stem)
//! seed = 42
//! output_dir = "reports"
//! [model]      name = "llama-3.1-8b"   weight_dtype = "bf16"
//! [hardware]   gpu = "h100-sxm"  tp = 1  replicas = 1  measured = "hardware/measured/….toml"
//! [engine]     scheduler = "chunked_prefill" | "continuous" | "static"
//!              max_num_seqs = 256  max_num_batched_tokens = 8192  block_size = 16
//!              gpu_memory_utilization = 0.9  kv_cache_dtype = "auto" (or cache_type_k/_v)
//!              preemption = "recompute" | "swap"  attention = "flash" | "standard"  max_queue = 0
//! [workload]   arrival = "poisson" | "gamma" (cv) | "constant" | "trace" (trace, trace_format, time_scale)
//!              rate = 10.0  num_requests = 1000  duration_s = 60
//!              max_prompt_tokens  max_output_tokens
//!              prompt = { dist = "lognormal", median = 2000, sigma = 0.6 }
//!              output = { dist = "fixed", value = 128 }   # fixed uniform normal lognormal zipf empirical
//! [slo]        ttft_ms = { p90 = 500 }  tpot_ms = { p90 = 50 }  e2e_ms = { p99 = 20000 }
//! ```

pub mod raw;

use crate::hardware::{GpuSpec, default_hardware_dir, load_gpu};
use crate::kv::{CacheDtype, KvSpec};
use crate::model::{Model, WeightDtype, default_models_dir, load_model};
use crate::serving::config::{AttentionKernel, EngineConfig, Preemption, SchedulerKind};
use crate::sim::Nanos;
use crate::workload::{ArrivalProcess, LengthDist, TraceFormat, WorkloadSource, WorkloadSpec};
use raw::{RawDist, RawScenario};
use std::path::{Path, PathBuf};

/// Largest `num_requests` a scenario may ask for (a guard against typos); raise the constant
/// to go further.
pub const MAX_REQUESTS: i64 = 10_000_000;

/// A scenario that failed to load or validate; the message is complete.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ScenarioError(pub String);

/// An SLO metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// Weight dtype.
    pub weight_dtype: WeightDtype,
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
    /// Workload.
    pub workload: WorkloadSpec,
    /// Targets.
    pub slo: Slo,
}

/// Line (1-based) of `key` inside `[table]` (or at the top for an empty table name).
fn line_of(text: &str, table: &str, key: &str) -> Option<usize> {
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            current = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            continue;
        }
        if current == table {
            let k = t.split('=').next().unwrap_or("").trim();
            if k == key {
                return Some(i + 1);
            }
        }
    }
    None
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
        match line {
            Some(l) => ScenarioError(format!(
                "{}:{l}: {dotted} = {value}: {rule}",
                self.path.display()
            )),
            None => ScenarioError(format!(
                "{}: {dotted} = {value}: {rule}",
                self.path.display()
            )),
        }
    }

    fn resolve(&self, p: &str) -> PathBuf {
        let pb = PathBuf::from(p);
        if pb.is_absolute() {
            return pb;
        }
        let base = self.path.parent().unwrap_or(Path::new("."));
        let candidate = base.join(&pb);
        if candidate.exists() { candidate } else { pb }
    }
}

impl Scenario {
    /// Read and validate a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError(format!("{}: cannot read: {e}", path.display())))?;
        Scenario::from_str(&text, path)
    }

    /// Validate scenario text (`path` names it in errors and anchors relative paths).
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario =
            toml::from_str(text).map_err(|e| ScenarioError(format!("{}: {e}", path.display())))?;
        let cx = Ctx { text, path };
        let model = load_model(&raw.model.name, &default_models_dir()).map_err(|e| {
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
            None => WeightDtype::Bf16,
        };
        let gpu = load_gpu(&raw.hardware.gpu, &default_hardware_dir()).map_err(|e| {
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
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(cx.err("engine", "kv_cache_dtype", "…", "set either kv_cache_dtype (both K and V) or cache_type_k / cache_type_v, not both"));
            }
            (Some(d), None, None) => {
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

        let w = &raw.workload;
        let max_ctx = model.max_position_embeddings.min(u32::MAX as u64) as i64;
        let max_prompt = w.max_prompt_tokens.unwrap_or(max_ctx);
        if max_prompt < 1 || max_prompt > max_ctx {
            return Err(cx.err(
                "workload",
                "max_prompt_tokens",
                max_prompt,
                &format!("must be in 1..={max_ctx} (the model's max_position_embeddings)"),
            ));
        }
        let max_output = w.max_output_tokens.unwrap_or(4096);
        if max_output < 1 || max_prompt + max_output > max_ctx.max(2) {
            return Err(cx.err(
                "workload",
                "max_output_tokens",
                max_output,
                &format!("must be ≥ 1 with max_prompt_tokens + max_output_tokens ≤ {max_ctx}"),
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
                "zipf" => LengthDist::Zipf {
                    min: pos(need(d.min, "min")?, "min")? as u32,
                    max: pos(need(d.max, "max")?, "max")? as u32,
                    exponent: pos(need(d.exponent, "exponent")?, "exponent")?,
                },
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
            && !(1..=MAX_REQUESTS).contains(&n)
        {
            return Err(cx.err(
                "workload",
                "num_requests",
                n,
                &format!("must be in 1..={MAX_REQUESTS} (the cap is scenario::MAX_REQUESTS)"),
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
        let workload = WorkloadSpec {
            source,
            num_requests: w.num_requests.map(|n| n as u64),
            duration: w.duration_s.map(Nanos::from_secs_f64),
            max_prompt_tokens: max_prompt as u32,
            max_output_tokens: max_output as u32,
        };

        let mut slo = Slo::default();
        for (metric, key, table) in [
            (SloMetric::Ttft, "ttft_ms", &raw.slo.ttft_ms),
            (SloMetric::Tpot, "tpot_ms", &raw.slo.tpot_ms),
            (SloMetric::E2e, "e2e_ms", &raw.slo.e2e_ms),
        ] {
            for (p, &limit) in table.iter().flatten() {
                let percentile = match p.as_str() {
                    "p50" => 50.0,
                    "p90" => 90.0,
                    "p99" => 99.0,
                    _ => {
                        return Err(cx.err(
                            "slo",
                            key,
                            format!("{{ {p} = {limit} }}"),
                            "percentiles are p50, p90 or p99",
                        ));
                    }
                };
                if !(limit > 0.0 && limit.is_finite()) {
                    return Err(cx.err(
                        "slo",
                        key,
                        limit,
                        "must be a positive number of milliseconds",
                    ));
                }
                slo.targets.push(SloTarget {
                    metric,
                    percentile,
                    limit_ms: limit,
                });
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
            workload,
            slo,
        })
    }
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
        Scenario::from_str(text, Path::new("scenarios/x.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn valid_scenario() {
        let s = Scenario::from_str(BASE, Path::new("x.toml")).unwrap();
        assert_eq!(s.engine.block_size, 16);
        assert_eq!(s.engine.scheduler, SchedulerKind::ChunkedPrefill);
        assert_eq!(s.engine.cache_type_k, CacheDtype::Bf16);
        assert_eq!(s.workload.num_requests, Some(10));
        assert_eq!(
            s.slo.targets,
            vec![SloTarget {
                metric: SloMetric::Ttft,
                percentile: 90.0,
                limit_ms: 500.0
            }]
        );
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = err(&BASE.replace("block_size = 16", "block_size = 0"));
        assert_eq!(
            e,
            "scenarios/x.toml:8: engine.block_size = 0: must be a power of two in 1..=256 (vLLM uses 16)"
        );
        let e = err(&BASE.replace("block_size = 16", "block_sise = 16"));
        assert!(
            e.contains("scenarios/x.toml") && e.contains("block_sise"),
            "{e}"
        );
        let e = err(&BASE.replace("rate = 5.0", "rate = -1.0"));
        assert!(
            e.starts_with("scenarios/x.toml:11: workload.rate = -1"),
            "{e}"
        );
        let e = err(&BASE.replace("gpu = \"h100-sxm\"", "gpu = \"h100\""));
        assert!(e.contains("hardware.gpu") && e.contains("h100-sxm"), "{e}");
        let e = err(&BASE.replace(
            "[engine]",
            "[engine]\nscheduler = \"continuous\"\nmax_num_batched_tokens = 2048",
        ));
        assert!(
            e.contains("engine.max_num_batched_tokens = 2048") && e.contains("at least 4096"),
            "{e}"
        );
        let e = err(&BASE.replace(
            "[engine]",
            "[engine]\nkv_cache_dtype = \"fp8\"\ncache_type_k = \"q8_0\"",
        ));
        assert!(e.contains("not both"), "{e}");
        let e = err(&BASE.replace("p90 = 500", "p95 = 500"));
        assert!(
            e.contains("slo.ttft_ms") && e.contains("p50, p90 or p99"),
            "{e}"
        );
        let e = err(&BASE.replace("[hardware]", "[hardware]\ntp = 3"));
        assert!(
            e.contains("hardware.tp = 3") && e.contains("does not divide"),
            "{e}"
        );
        let e = err(&BASE.replace("num_requests = 10", "num_requests = 100000000"));
        assert!(e.contains("MAX_REQUESTS"), "{e}");
        let e = err(&BASE.replace("block_size = 16", "block_size = \"x\""));
        assert!(
            e.contains("scenarios/x.toml") && e.contains("block_size"),
            "{e}"
        );
    }
}
