//! `planner plan`: which configuration to rent. A scenario's `[plan]` table names axes over
//! any scenario key (`"hardware.gpu" = ["h100-sxm", "l40s"]`, `"engine.max_num_seqs" =
//! { from = 64, to = 256, step = 64 }`, …), a target load and the seeds to try; the grid is
//! their cartesian product (the last axis varies fastest), each point a configuration.
//!
//! For each configuration, in-process and with one cost table: simulate at the target load
//! (does it meet the scenario's `[slo]`?), then search the highest load it sustains within
//! the SLOs (double or halve from the target until the answer changes, then bisect), once
//! per seed. Its price (GPUs × the catalog's $/GPU-hour, an assumption the catalog marks) then
//! gives the cost per hour, per million output tokens and per thousand requests at that
//! capacity. The answer is the cheapest configuration that meets the target on every seed,
//! the runners-up, and for every rejected one the reason.
//!
//! Configurations run in parallel (rayon); each is a pure function of the scenario, the
//! configuration and the seeds, so results are the same on any number of threads and are
//! reported in input order. Each finished configuration is appended at once to a journal
//! (`plan.journal.jsonl`, one JSON line per configuration): an interrupted plan keeps its
//! work, and `--resume` skips what the journal holds. `--shard i/n` evaluates the
//! configurations whose index is `i` mod `n` into `plan.shard-i-of-n.jsonl`, for a cluster
//! scheduler's array job; [`merge`](crate::plan::merge) turns the shards' journals into the same report as one
//! unsharded run, byte for byte.
//!
//! The report (`<output_dir>/<name>/plan/`): `plan.csv` (one row per configuration),
//! `latency_vs_load.csv`/`.png` (every simulated point), `cost_vs_capacity.csv`/`.png` (the
//! Pareto front, the chosen point marked), `answer.md` and an index `README.md`.

use crate::catalog::Catalog;
use crate::report::Staged;
use crate::report::png::{Chart, Mark, RefLine, Series, render_chart};
use crate::report::table::{self, Kind, TableFormat, TableWriter};
use crate::scenario::{Scenario, SloMetric, line_of};
use crate::simulate::{RunSummary, SimOptions, prepare, simulate};
use crate::workload::{ArrivalProcess, WorkloadSource};
use anyhow::{Context, anyhow, bail};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::io::{BufRead, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Configurations a plan may have unless `[plan] max_configs` raises it.
pub const DEFAULT_MAX_CONFIGS: usize = 1_000;
/// `max_configs` above this is refused (a typo, not a plan).
pub const HARD_MAX_CONFIGS: usize = 1_000_000;

/// `[plan]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    axes: Option<toml::Table>,
    target_rate: Option<f64>,
    seeds: Option<Vec<i64>>,
    requests: Option<i64>,
    max_configs: Option<i64>,
    bisect_steps: Option<i64>,
    cost_model_error: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct PlanFile {
    plan: Option<RawPlan>,
}

/// One axis: a scenario key and its values, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Dotted scenario key, e.g. `hardware.gpu`.
    pub key: String,
    /// Values to try.
    pub values: Vec<toml::Value>,
}

/// A validated `[plan]`.
#[derive(Debug, Clone)]
pub struct PlanSpec {
    /// The scenario file.
    pub path: PathBuf,
    /// The scenario without `[plan]`, as a TOML table: every configuration is this with its
    /// axis values set.
    base: toml::Table,
    /// The scenario as written (for its name, output folder and SLOs).
    pub scenario: Scenario,
    /// Axes, in the order written.
    pub axes: Vec<Axis>,
    /// The load every configuration must sustain: requests per second for a synthetic
    /// workload, the replay speed (time_scale) for a trace.
    pub target: f64,
    /// `true`: the load knob is a trace's `time_scale`; `false`: `workload.rate`.
    pub trace: bool,
    /// Seeds each configuration is simulated with.
    pub seeds: Vec<u64>,
    /// Requests per simulation (the scenario's `num_requests` unless set).
    pub requests: Option<u64>,
    /// Bisection steps after bracketing the capacity.
    pub bisect_steps: u32,
    /// The cost model's relative error (e.g. 0.071, `planner validate`'s median on Vidur's
    /// A100 profiles): each configuration is also judged at the target with every iteration
    /// that much faster and slower, and flagged if its verdict flips.
    pub cost_model_error: Option<f64>,
    /// Number of configurations.
    pub configs: usize,
    /// Identifies the plan (scenario text and grid) in shard files.
    pub id: String,
    /// The catalogs every configuration's model and GPU names resolve in.
    pub catalog: Catalog,
}

/// The line of the `[name]` header.
fn header_line(text: &str, name: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.trim()
                .strip_prefix('[')
                .and_then(|r| r.split(']').next())
                .is_some_and(|h| h.trim() == name)
        })
        .map(|i| i + 1)
}

fn at(path: &Path, line: Option<usize>) -> String {
    match line {
        Some(l) => format!("{}:{l}", path.display()),
        None => path.display().to_string(),
    }
}

/// Expand an axis value: a list, a `{ from, to, step }` range (by index: `from + k·step`,
/// integers when all three are), or one value.
fn expand(v: &toml::Value) -> Result<Vec<toml::Value>, String> {
    use toml::Value as V;
    match v {
        V::Array(a) => Ok(a.clone()),
        V::Table(t) if t.contains_key("from") => {
            let get = |k: &str| t.get(k).ok_or_else(|| format!("a range needs `{k}`"));
            if let Some(k) = t
                .keys()
                .find(|k| !["from", "to", "step"].contains(&k.as_str()))
            {
                return Err(format!(
                    "unknown range key `{k}` (a range is {{ from, to, step }})"
                ));
            }
            let (from, to, step) = (get("from")?, get("to")?, get("step")?);
            if let (V::Integer(f), V::Integer(t), V::Integer(s)) = (from, to, step) {
                if *s <= 0 || t < f {
                    return Err("a range needs step > 0 and to ≥ from".into());
                }
                let n = (t - f) / s + 1;
                if n > HARD_MAX_CONFIGS as i64 {
                    return Err(format!("the range has {n} values"));
                }
                return Ok((0..n).map(|k| V::Integer(f + k * s)).collect());
            }
            let num = |v: &V| match v {
                V::Integer(i) => Some(*i as f64),
                V::Float(x) => Some(*x),
                _ => None,
            };
            let (Some(f), Some(t), Some(s)) = (num(from), num(to), num(step)) else {
                return Err("from, to and step must be numbers".into());
            };
            if !(s > 0.0 && t >= f && f.is_finite() && t.is_finite()) {
                return Err("a range needs step > 0 and to ≥ from".into());
            }
            // By index, with a tolerance so `to` itself is included despite rounding.
            let n = ((t - f) / s + 1e-9).floor() as i64 + 1;
            if n > HARD_MAX_CONFIGS as i64 {
                return Err(format!("the range has {n} values"));
            }
            Ok((0..n).map(|k| V::Float(f + k as f64 * s)).collect())
        }
        other => Ok(vec![other.clone()]),
    }
}

/// Whether dotted `key` holds a table in `table`.
fn is_table_at(table: &toml::Table, key: &str) -> bool {
    let mut t = table;
    let mut parts = key.split('.').peekable();
    while let Some(p) = parts.next() {
        match t.get(p) {
            Some(toml::Value::Table(inner)) if parts.peek().is_some() => t = inner,
            Some(v) => return parts.peek().is_none() && v.is_table(),
            None => return false,
        }
    }
    false
}

/// Configuration `values` of `axes` written into `base`. The value `"off"` for a key that
/// holds a table in the scenario removes it, after every other axis is set (so
/// `"engine.speculative" = ["on", "off"]` beside an axis inside that table turns it off
/// whole); `"on"` keeps it as written.
fn configure(base: &toml::Table, axes: &[Axis], values: &[&toml::Value]) -> toml::Table {
    let mut table = base.clone();
    let mut off = Vec::new();
    for (a, v) in axes.iter().zip(values) {
        if is_table_at(base, &a.key) && v.as_str() == Some("off") {
            off.push(a.key.as_str());
        } else {
            set_key(&mut table, &a.key, v);
        }
    }
    for key in off {
        remove_key(&mut table, key);
    }
    table
}

/// Remove dotted `key` from `table` (nothing if it is not there).
fn remove_key(table: &mut toml::Table, key: &str) {
    match key.split_once('.') {
        Some((head, rest)) => {
            if let Some(inner) = table.get_mut(head).and_then(toml::Value::as_table_mut) {
                remove_key(inner, rest);
            }
        }
        None => {
            table.remove(key);
        }
    }
}

/// Set dotted `key` in `table` to `value`, creating tables on the way; `"on"` for a key that
/// holds a table keeps it as written.
fn set_key(table: &mut toml::Table, key: &str, value: &toml::Value) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or(key);
    let mut t = table;
    for p in parts {
        t = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .expect("checked when the plan was read: every axis key's parents are tables");
    }
    if t.get(last).is_some_and(toml::Value::is_table) && value.as_str() == Some("on") {
        return;
    }
    t.insert(last.to_string(), value.clone());
}

/// How a value reads in a configuration's label.
fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl PlanSpec {
    /// Read `[plan]` from a scenario file; names resolve in `catalog`.
    pub fn load(path: &Path, catalog: &Catalog) -> anyhow::Result<PlanSpec> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        let scenario = Scenario::from_str(&text, path, catalog)?;
        let file: PlanFile =
            toml::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let Some(raw) = file.plan else {
            bail!(
                "{}: no [plan] table: add one with the axes to search, e.g.\n  [plan]\n  \
                 target_rate = 5.0\n  [plan.axes]\n  \"hardware.gpu\" = [\"h100-sxm\", \"l40s\"]",
                path.display()
            );
        };
        let mut base: toml::Table = toml::from_str(&text).map_err(|e| anyhow!("{e}"))?;
        base.remove("plan");
        let err = |key: &str, value: &dyn std::fmt::Display, rule: &str| {
            let (table, k) = match key.strip_prefix("axes.") {
                Some(k) => ("plan.axes", k),
                None => ("plan", key),
            };
            anyhow!(
                "{}: plan.{key} = {value}: {rule}",
                at(path, line_of(&text, table, k))
            )
        };
        let trace = matches!(scenario.workload.source, WorkloadSource::Trace { .. });
        let target = match (raw.target_rate, trace) {
            (Some(r), false) if r > 0.0 && r.is_finite() => r,
            (Some(r), false) => {
                return Err(err(
                    "target_rate",
                    &r,
                    "must be a positive number of requests/s",
                ));
            }
            (None, false) => crate::speculate::scenario_rate(&scenario)?,
            (Some(r), true) => {
                return Err(err(
                    "target_rate",
                    &r,
                    "this scenario replays a trace: its load is the replay speed \
                     (workload.time_scale), so the target is the trace as recorded; remove \
                     target_rate",
                ));
            }
            (None, true) => match &scenario.workload.source {
                WorkloadSource::Trace { time_scale, .. } => *time_scale,
                _ => unreachable!("trace checked above"),
            },
        };
        let seeds: Vec<u64> = match raw.seeds {
            None => vec![scenario.seed],
            Some(s) if s.is_empty() || s.len() > 64 => {
                return Err(err("seeds", &format!("{s:?}"), "give 1 to 64 seeds"));
            }
            Some(s) => s
                .iter()
                .map(|&x| u64::try_from(x).map_err(|_| err("seeds", &x, "seeds are ≥ 0")))
                .collect::<anyhow::Result<_>>()?,
        };
        let requests = match raw.requests {
            None => None,
            Some(n) if (1..=10_000_000).contains(&n) => Some(n as u64),
            Some(n) => return Err(err("requests", &n, "must be in 1..=10000000")),
        };
        let bisect_steps = match raw.bisect_steps {
            None => 5,
            Some(n) if (0..=20).contains(&n) => n as u32,
            Some(n) => return Err(err("bisect_steps", &n, "must be in 0..=20")),
        };
        let cost_model_error = match raw.cost_model_error {
            None => None,
            Some(e) if (0.0..0.9).contains(&e) => Some(e),
            Some(e) => {
                return Err(err(
                    "cost_model_error",
                    &e,
                    "must be a fraction in [0, 0.9), e.g. 0.07 for ±7 %",
                ));
            }
        };
        let max_configs = match raw.max_configs {
            None => DEFAULT_MAX_CONFIGS,
            Some(n) if n >= 1 && n as usize <= HARD_MAX_CONFIGS => n as usize,
            Some(n) => {
                return Err(err(
                    "max_configs",
                    &n,
                    &format!("must be in 1..={HARD_MAX_CONFIGS}"),
                ));
            }
        };
        let raw_axes = raw.axes.unwrap_or_default();
        if raw_axes.is_empty() {
            bail!(
                "{}: [plan] has no axes: add [plan.axes] with at least one key, e.g. \
                 \"hardware.tp\" = [1, 2]",
                at(
                    path,
                    line_of(&text, "", "plan").or(line_of(&text, "plan", "target_rate"))
                )
            );
        }
        // An axis inside another axis's table needs that table to stay a table: the outer
        // axis may only turn it "on" or "off".
        for (outer, v) in &raw_axes {
            let toggles = expand(v).is_ok_and(|vs| {
                vs.iter()
                    .all(|x| matches!(x.as_str(), Some("on") | Some("off")))
            });
            if let Some(inner) = raw_axes
                .keys()
                .find(|k| k.starts_with(&format!("{outer}.")))
                && !toggles
            {
                return Err(err(
                    &format!("axes.{inner}"),
                    &raw_axes[inner],
                    &format!(
                        "lies inside the axis \"{outer}\", which replaces that whole table: \
                         give \"{outer}\" only \"on\"/\"off\", or keep one of the two axes"
                    ),
                ));
            }
        }
        let mut axes = Vec::new();
        for (key, v) in &raw_axes {
            let values = expand(v).map_err(|r| err(&format!("axes.{key}"), v, &r))?;
            if values.is_empty() {
                return Err(err(
                    &format!("axes.{key}"),
                    v,
                    "an axis needs at least one value",
                ));
            }
            // The key must name a scenario setting: its parents must be tables, and the
            // scenario with the first value set must not fail on an unknown field.
            let mut probe = base.clone();
            let mut t = &probe;
            let parts: Vec<&str> = key.split('.').collect();
            for p in &parts[..parts.len() - 1] {
                match t.get(*p) {
                    Some(toml::Value::Table(inner)) => t = inner,
                    None => break,
                    Some(_) => {
                        return Err(err(
                            &format!("axes.{key}"),
                            v,
                            &format!("`{p}` is not a table in the scenario"),
                        ));
                    }
                }
            }
            if !is_table_at(&base, key) {
                set_key(&mut probe, key, &values[0]);
            }
            let probe_text = toml::to_string(&probe).map_err(|e| anyhow!("{e}"))?;
            if let Err(crate::scenario::ScenarioError::UnknownKey { .. }) =
                Scenario::from_str(&probe_text, path, catalog)
            {
                return Err(err(
                    &format!("axes.{key}"),
                    v,
                    "not a scenario key (see the keys in src/scenario/mod.rs; an axis names \
                     one as a dotted path, e.g. \"engine.max_num_seqs\")",
                ));
            }
            axes.push(Axis {
                key: key.clone(),
                values,
            });
        }
        let configs = axes
            .iter()
            .try_fold(1usize, |n, a| n.checked_mul(a.values.len()))
            .unwrap_or(usize::MAX);
        if configs > max_configs {
            bail!(
                "{}: the plan's grid has {configs} configurations ({}), over the cap of \
                 {max_configs}: narrow the axes, shard the plan (--shard i/n), or raise \
                 [plan] max_configs (up to {HARD_MAX_CONFIGS})",
                at(path, header_line(&text, "plan.axes")),
                axes.iter()
                    .map(|a| format!("{} × {}", a.values.len(), a.key))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if scenario.slo.targets.is_empty() {
            bail!(
                "{}: a plan needs latency targets: add [slo], e.g. ttft_ms = {{ p90 = 500 }}",
                path.display()
            );
        }
        // FNV-1a over the file: shards of one file (unchanged) merge; others are refused.
        let hash = crate::hash::fnv1a(text.as_bytes());
        let id = format!("{hash:016x}-{configs}");
        Ok(PlanSpec {
            path: path.to_path_buf(),
            base,
            scenario,
            axes,
            target,
            trace,
            seeds,
            requests,
            bisect_steps,
            cost_model_error,
            configs,
            id,
            catalog: catalog.clone(),
        })
    }

    /// The axis values of configuration `i`.
    pub fn values(&self, mut i: usize) -> Vec<&toml::Value> {
        let mut out = vec![&self.axes[0].values[0]; self.axes.len()];
        for (k, a) in self.axes.iter().enumerate().rev() {
            out[k] = &a.values[i % a.values.len()];
            i /= a.values.len();
        }
        out
    }

    /// `key=value key=value …` for configuration `i`.
    pub fn label(&self, i: usize) -> String {
        self.axes
            .iter()
            .zip(self.values(i))
            .map(|(a, v)| format!("{}={}", a.key, show(v)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The load knob's name and unit, for the report.
    fn load_unit(&self) -> &'static str {
        if self.trace {
            "× trace speed"
        } else {
            "req/s"
        }
    }
}

/// One simulated point of a configuration (the first seed's search).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Load (req/s, or replay speed for a trace).
    pub load: f64,
    /// Measured request throughput, req/s.
    pub throughput_rps: f64,
    /// TTFT p90, ms.
    pub ttft_p90_ms: f64,
    /// TPOT p90, ms.
    pub tpot_p90_ms: f64,
    /// Every SLO met, nothing refused.
    pub met: bool,
}

/// A configuration's result, every field already formatted as it is reported, so that a
/// report built from a journal is byte-identical to one built in-process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Position in the grid.
    pub index: usize,
    /// `key=value …`.
    pub label: String,
    /// `plan.csv` cells, in [`COLUMNS`] order after the axis columns.
    pub cells: Vec<String>,
    /// Simulated points (first seed).
    pub points: Vec<Point>,
}

/// `plan.csv` columns after `index`, `config` and one per axis.
pub const COLUMNS: [&str; 12] = [
    "gpus",
    "usd_per_hour",
    "meets_target",
    "cost_model_band",
    "capacity",
    "capacity_min",
    "capacity_max",
    "ttft_p90_ms_at_target",
    "tpot_p90_ms_at_target",
    "usd_per_m_output_tokens",
    "usd_per_1k_requests",
    "reason",
];

/// What one simulation said.
#[derive(Clone)]
struct Eval {
    point: Point,
    output_tps: f64,
    /// The first failed SLO or refusal, if any.
    failed: Option<String>,
}

fn evaluate(
    scn: &Scenario,
    prepared: &crate::simulate::Prepared,
    load: f64,
    seed: u64,
) -> anyhow::Result<Eval> {
    let mut s = scn.clone();
    match &mut s.workload.source {
        WorkloadSource::Synthetic { arrival, .. } => {
            *arrival = match *arrival {
                ArrivalProcess::Poisson { .. } => ArrivalProcess::Poisson { rate: load },
                ArrivalProcess::Gamma { cv, .. } => ArrivalProcess::Gamma { rate: load, cv },
                ArrivalProcess::Constant { .. } => ArrivalProcess::Constant { rate: load },
            }
        }
        WorkloadSource::Trace { time_scale, .. } => *time_scale = load,
    }
    let sum: RunSummary = simulate(
        &s,
        prepared,
        &SimOptions {
            no_files: true,
            seed: Some(seed),
            ..Default::default()
        },
    )?;
    let mut failed = None;
    if sum.rejected > 0 {
        failed = Some(format!("{} requests refused", sum.rejected));
    }
    if failed.is_none()
        && let Some(v) = sum.slo.iter().find(|v| !v.met)
    {
        failed = Some(format!(
            "{} {:.3} ms > {} ms",
            v.name(),
            v.measured_ms,
            v.limit_ms
        ));
    }
    Ok(Eval {
        point: Point {
            load,
            throughput_rps: sum.finished as f64 / sum.duration_s.max(1e-9),
            ttft_p90_ms: sum.ttft.p90 * 1e3,
            tpot_p90_ms: sum.tpot.p90 * 1e3,
            met: sum.slo_met,
        },
        output_tps: sum.output_tokens as f64 / sum.duration_s.max(1e-9),
        failed,
    })
}

/// The highest load within the SLOs for one seed: (capacity, whether the search hit its
/// ceiling, the eval at capacity, the eval at the target, every point).
struct Search {
    capacity: f64,
    at_ceiling: bool,
    best: Option<Eval>,
    target: Eval,
    points: Vec<Point>,
}

fn search(
    scn: &Scenario,
    prepared: &crate::simulate::Prepared,
    target: f64,
    seed: u64,
    steps: u32,
) -> anyhow::Result<Search> {
    let mut points = Vec::new();
    let mut run = |load: f64| -> anyhow::Result<Eval> {
        let e = evaluate(scn, prepared, load, seed)?;
        points.push(e.point.clone());
        Ok(e)
    };
    let at_target = run(target)?;
    let (mut lo, mut hi): (Option<(f64, Eval)>, Option<f64>) = (None, None);
    let mut at_ceiling = false;
    if at_target.point.met {
        let mut x = target;
        let mut last = None;
        for _ in 0..4 {
            x *= 2.0;
            let e = run(x)?;
            if e.point.met {
                last = Some((x, e));
            } else {
                hi = Some(x);
                break;
            }
        }
        at_ceiling = hi.is_none();
        lo = last.or(Some((target, at_target.clone())));
    } else {
        let mut x = target;
        hi = Some(target);
        for _ in 0..6 {
            x /= 2.0;
            let e = run(x)?;
            if e.point.met {
                lo = Some((x, e));
                break;
            }
            hi = Some(x);
        }
    }
    if let (Some((mut l, mut le)), Some(mut h)) = (lo.take(), hi) {
        for _ in 0..steps {
            let mid = 0.5 * (l + h);
            let e = run(mid)?;
            if e.point.met {
                (l, le) = (mid, e);
            } else {
                h = mid;
            }
        }
        lo = Some((l, le));
    }
    let (capacity, best) = match lo {
        Some((l, e)) => (l, Some(e)),
        None => (0.0, None),
    };
    Ok(Search {
        capacity,
        at_ceiling,
        best,
        target: at_target,
        points,
    })
}

/// Evaluate configuration `i`.
fn evaluate_config(spec: &PlanSpec, i: usize) -> Row {
    let label = spec.label(i);
    let table = configure(&spec.base, &spec.axes, &spec.values(i));
    let invalid = |why: String| Row {
        index: i,
        label: label.clone(),
        cells: vec![
            String::new(),
            String::new(),
            "invalid".into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            why,
        ],
        points: Vec::new(),
    };
    let text = match toml::to_string(&table) {
        Ok(t) => t,
        Err(e) => return invalid(e.to_string()),
    };
    let mut scn = match Scenario::from_str(&text, &spec.path, &spec.catalog) {
        Ok(s) => s,
        Err(crate::scenario::ScenarioError::Invalid {
            key, value, rule, ..
        }) => return invalid(format!("{key} = {value}: {rule}")),
        // The toml crate's message points into the generated text; its last line says what.
        Err(crate::scenario::ScenarioError::Toml { message, .. }) => {
            let what = message.lines().rev().find(|l| !l.trim().is_empty());
            return invalid(format!(
                "not a valid scenario: {}",
                what.unwrap_or(&message).trim()
            ));
        }
        Err(e) => return invalid(e.to_string()),
    };
    if let Some(n) = spec.requests {
        scn.workload.num_requests = Some(n);
    }
    let prepared = match prepare(&scn) {
        Ok(p) => p,
        Err(e) => return invalid(format!("does not fit: {e}")),
    };
    let gpus = scn.tp * scn.replicas;
    let usd_per_hour = scn.gpu.usd_per_hour * gpus as f64;
    let mut searches = Vec::new();
    for &seed in &spec.seeds {
        match search(&scn, &prepared, spec.target, seed, spec.bisect_steps) {
            Ok(s) => searches.push(s),
            Err(e) => return invalid(format!("simulation failed: {e}")),
        }
    }
    let met: Vec<bool> = searches.iter().map(|s| s.target.point.met).collect();
    let meets = if met.iter().all(|&m| m) {
        "yes"
    } else if met.iter().any(|&m| m) {
        "flips"
    } else {
        "no"
    };
    // The median seed's capacity (the lower middle for an even count).
    let mut order: Vec<usize> = (0..searches.len()).collect();
    order.sort_by(|&a, &b| searches[a].capacity.total_cmp(&searches[b].capacity));
    let mid = &searches[order[(order.len() - 1) / 2]];
    let (cmin, cmax) = (
        searches[order[0]].capacity,
        searches[order[order.len() - 1]].capacity,
    );
    let fmt_cap = |s: &Search| {
        if s.at_ceiling {
            format!("≥{:.3}", s.capacity)
        } else {
            format!("{:.3}", s.capacity)
        }
    };
    let (per_m, per_1k) = match &mid.best {
        Some(e) if e.output_tps > 0.0 => (
            format!("{:.4}", usd_per_hour / (e.output_tps * 3600.0) * 1e6),
            format!(
                "{:.4}",
                usd_per_hour / (e.point.throughput_rps * 3600.0) * 1e3
            ),
        ),
        _ => (String::new(), String::new()),
    };
    let first = &searches[0];
    // Within the cost model's error band: the verdict at the target with every iteration
    // e faster and e slower (first seed).
    let band = match spec.cost_model_error {
        None => String::new(),
        Some(e) => {
            let verdict = |f: f64| -> anyhow::Result<bool> {
                let p = crate::simulate::Prepared {
                    num_blocks: prepared.num_blocks,
                    kv_bytes_per_token: prepared.kv_bytes_per_token,
                    budget: prepared.budget.clone(),
                    cost: prepared.cost.scaled(f),
                    draft_cost: prepared.draft_cost.as_ref().map(|c| c.scaled(f)),
                };
                Ok(evaluate(&scn, &p, spec.target, spec.seeds[0])?.point.met)
            };
            match (verdict(1.0 - e), verdict(1.0 + e)) {
                (Ok(fast), Ok(slow)) if fast == slow => "holds".to_string(),
                (Ok(_), Ok(_)) => format!("flips within ±{:.0} %", e * 100.0),
                (Err(x), _) | (_, Err(x)) => return invalid(format!("simulation failed: {x}")),
            }
        }
    };
    let reason = match meets {
        "yes" => String::new(),
        _ => {
            let failing = searches
                .iter()
                .zip(&spec.seeds)
                .find(|(s, _)| !s.target.point.met)
                .map(|(s, seed)| {
                    format!(
                        "{} at {} {} (seed {seed})",
                        s.target
                            .failed
                            .clone()
                            .unwrap_or_else(|| "SLO missed".into()),
                        fmt_num(spec.target),
                        spec.load_unit()
                    )
                })
                .unwrap_or_default();
            if meets == "flips" {
                format!("meets the target on some seeds only: {failing}")
            } else {
                failing
            }
        }
    };
    Row {
        index: i,
        label,
        cells: vec![
            gpus.to_string(),
            format!("{usd_per_hour:.2}"),
            meets.to_string(),
            band,
            fmt_cap(mid),
            format!("{cmin:.3}"),
            format!("{cmax:.3}"),
            format!("{:.3}", first.target.point.ttft_p90_ms),
            format!("{:.3}", first.target.point.tpot_p90_ms),
            per_m,
            per_1k,
            reason,
        ],
        points: first.points.clone(),
    }
}

fn fmt_num(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// How to run a plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Report folder (default `<output_dir>/<name>/plan`).
    pub out: Option<PathBuf>,
    /// `(i, n)`: evaluate only configurations with index ≡ i (mod n), into a shard file.
    pub shard: Option<(usize, usize)>,
    /// Skip configurations already in the journal (or shard file).
    pub resume: bool,
    /// Show a progress bar.
    pub progress: bool,
}

/// The journal's first line: which plan (and shard) it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct JournalHead {
    plan: String,
    configs: usize,
    shard: Option<(usize, usize)>,
}

/// Read a journal: its head and rows. Errors name the file and line.
fn read_journal(path: &Path) -> anyhow::Result<(JournalHead, Vec<Row>)> {
    let f =
        std::fs::File::open(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut lines = std::io::BufReader::new(f).lines();
    let bad = |n: usize, why: &dyn std::fmt::Display| {
        anyhow!(
            "{}:{n}: not a plan journal line ({why}): the file is corrupt or from another \
             tool; rerun that shard",
            path.display()
        )
    };
    let head: JournalHead = match lines.next() {
        Some(Ok(l)) => serde_json::from_str(&l).map_err(|e| bad(1, &e))?,
        Some(Err(e)) => return Err(bad(1, &e)),
        None => return Err(bad(1, &"empty file")),
    };
    let mut rows = Vec::new();
    for (n, l) in lines.enumerate() {
        let l = l.map_err(|e| bad(n + 2, &e))?;
        if l.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Row>(&l) {
            Ok(r) if r.cells.len() == COLUMNS.len() && r.index < head.configs => rows.push(r),
            Ok(r) => {
                return Err(bad(
                    n + 2,
                    &format!("row {} does not fit the plan", r.index),
                ));
            }
            Err(e) => return Err(bad(n + 2, &e)),
        }
    }
    Ok((head, rows))
}

/// Run a plan (or one shard of it). Returns the report files written (the shard file alone
/// for a shard) and, for a whole plan, the answer.
pub fn run(spec: &PlanSpec, opts: &PlanOptions) -> anyhow::Result<(Vec<PathBuf>, Option<Answer>)> {
    let dir = opts.out.clone().unwrap_or_else(|| {
        spec.scenario
            .output_dir
            .join(&spec.scenario.name)
            .join("plan")
    });
    crate::report::check_dir(&dir)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    crate::report::mark(&dir)?;
    let journal = match opts.shard {
        Some((i, n)) => dir.join(format!("plan.shard-{i}-of-{n}.jsonl")),
        None => dir.join("plan.journal.jsonl"),
    };
    let head = JournalHead {
        plan: spec.id.clone(),
        configs: spec.configs,
        shard: opts.shard,
    };
    let mut done: Vec<Row> = Vec::new();
    if opts.resume && journal.exists() {
        let (h, rows) = read_journal(&journal)?;
        if h != head {
            bail!(
                "{}: this journal belongs to another plan or shard (the scenario or its grid \
                 changed): remove it, or run without --resume",
                journal.display()
            );
        }
        done = rows;
    }
    let mine: Vec<usize> = (0..spec.configs)
        .filter(|i| opts.shard.is_none_or(|(k, n)| i % n == k))
        .filter(|i| !done.iter().any(|r| r.index == *i))
        .collect();
    // Rewrite the journal with what is kept, then append as configurations finish.
    {
        let mut f = std::fs::File::create(&journal)
            .with_context(|| format!("{}: cannot write", journal.display()))?;
        writeln!(f, "{}", serde_json::to_string(&head)?)?;
        for r in &done {
            writeln!(f, "{}", serde_json::to_string(r)?)?;
        }
    }
    let file = Mutex::new(
        std::fs::OpenOptions::new()
            .append(true)
            .open(&journal)
            .with_context(|| format!("{}: cannot write", journal.display()))?,
    );
    let bar = opts.progress.then(|| {
        let b = indicatif::ProgressBar::new(mine.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} configurations, ETA {eta}",
            )
            .expect("a valid template"),
        );
        b
    });
    let fresh: Vec<anyhow::Result<Row>> = mine
        .par_iter()
        .map(|&i| {
            let row = evaluate_config(spec, i);
            let line = serde_json::to_string(&row)?;
            let mut f = file.lock().map_err(|_| anyhow!("journal lock poisoned"))?;
            writeln!(f, "{line}")
                .and_then(|_| f.flush())
                .with_context(|| format!("{}: cannot write", journal.display()))?;
            if let Some(b) = &bar {
                b.inc(1);
            }
            Ok(row)
        })
        .collect();
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let mut rows = done;
    for r in fresh {
        rows.push(r?);
    }
    if opts.shard.is_some() {
        return Ok((vec![journal], None));
    }
    rows.sort_by_key(|r| r.index);
    let (files, answer) = finish(spec, &rows, &dir)?;
    std::fs::remove_file(&journal).ok();
    Ok((files, Some(answer)))
}

/// Combine shard files into the report one unsharded run writes (byte for byte). Every
/// configuration must be in exactly one shard, all of the same plan.
pub fn merge(
    spec: &PlanSpec,
    shards: &[PathBuf],
    out: Option<PathBuf>,
) -> anyhow::Result<(Vec<PathBuf>, Answer)> {
    if shards.is_empty() {
        bail!("merge: give the shard files (plan.shard-*-of-*.jsonl)");
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut seen: Vec<Option<PathBuf>> = vec![None; spec.configs];
    for path in shards {
        let (head, shard_rows) = read_journal(path)?;
        if head.plan != spec.id || head.configs != spec.configs {
            bail!(
                "{}: a shard of another plan (plan {} with {} configurations; {} has plan {} \
                 with {}): merge shards of one scenario file, unchanged since they ran",
                path.display(),
                head.plan,
                head.configs,
                spec.path.display(),
                spec.id,
                spec.configs
            );
        }
        for r in shard_rows {
            if let Some(other) = &seen[r.index] {
                bail!(
                    "{}: configuration {} is also in {}: give each shard once",
                    path.display(),
                    r.index,
                    other.display()
                );
            }
            seen[r.index] = Some(path.clone());
            rows.push(r);
        }
    }
    let missing: Vec<usize> = (0..spec.configs).filter(|&i| seen[i].is_none()).collect();
    if !missing.is_empty() {
        bail!(
            "merge: {} of {} configurations are in no shard (first: {}): a shard is missing \
             or was interrupted (rerun it with --resume)",
            missing.len(),
            spec.configs,
            missing[0]
        );
    }
    rows.sort_by_key(|r| r.index);
    let dir = out.unwrap_or_else(|| {
        spec.scenario
            .output_dir
            .join(&spec.scenario.name)
            .join("plan")
    });
    let (files, answer) = finish(spec, &rows, &dir)?;
    Ok((files, answer))
}

/// The answer to a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The cheapest configuration that meets the target on every seed.
    pub chosen: Option<usize>,
    /// The next cheapest that meet it.
    pub runners_up: Vec<usize>,
    /// The text of `answer.md`.
    pub text: String,
}

fn num(s: &str) -> Option<f64> {
    s.trim_start_matches('≥').parse().ok()
}

/// Choose, and write the report: plan.csv, latency_vs_load.csv/.png,
/// cost_vs_capacity.csv/.png, answer.md and README.md, all renamed into place together.
fn finish(spec: &PlanSpec, rows: &[Row], dir: &Path) -> anyhow::Result<(Vec<PathBuf>, Answer)> {
    let cost = |r: &Row| num(&r.cells[1]).unwrap_or(f64::INFINITY);
    let cap = |r: &Row| num(&r.cells[4]).unwrap_or(0.0);
    let mut meeting: Vec<&Row> = rows.iter().filter(|r| r.cells[2] == "yes").collect();
    meeting.sort_by(|a, b| {
        cost(a)
            .total_cmp(&cost(b))
            .then(cap(b).total_cmp(&cap(a)))
            .then(a.index.cmp(&b.index))
    });
    let chosen = meeting.first().map(|r| r.index);
    let runners_up: Vec<usize> = meeting.iter().skip(1).take(3).map(|r| r.index).collect();
    let unit = spec.load_unit();
    let slos = spec
        .scenario
        .slo
        .targets
        .iter()
        .map(|t| {
            let who = t.tenant.map_or(String::new(), |i| {
                format!(
                    "tenant {} ",
                    spec.scenario.workload.sharing.tenants[i as usize].name
                )
            });
            format!(
                "{who}{} p{} ≤ {} ms",
                t.metric.name(),
                t.percentile as u32,
                t.limit_ms
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut md = String::new();
    let _ = writeln!(md, "# Plan: {}\n", spec.scenario.name);
    let _ = writeln!(
        md,
        "{} configurations of `{}`; target {} {unit} within {slos}, with nothing refused; \
         seeds {}.\n",
        spec.configs,
        spec.path.display(),
        fmt_num(spec.target),
        spec.seeds
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let line = |r: &Row| {
        format!(
            "| {} | {} | {} | ${} | {} ({}–{}) | {} | {} |",
            r.index,
            r.label,
            r.cells[0],
            r.cells[1],
            r.cells[4],
            r.cells[5],
            r.cells[6],
            if r.cells[9].is_empty() {
                "-".into()
            } else {
                format!("${}", r.cells[9])
            },
            if r.cells[10].is_empty() {
                "-".into()
            } else {
                format!("${}", r.cells[10])
            },
        )
    };
    let header = format!(
        "| # | configuration | GPUs | $/hour | capacity {unit} (seeds' range) | $ per M output tokens | $ per 1k requests |\n|---|---|---|---|---|---|---|"
    );
    match chosen {
        Some(c) => {
            let r = &rows[c];
            let _ = writeln!(
                md,
                "**Chosen:** #{} `{}`: {} GPU(s), ${}/hour, sustains {} {unit} within the \
                 SLOs (target {}).\n",
                r.index,
                r.label,
                r.cells[0],
                r.cells[1],
                r.cells[4],
                fmt_num(spec.target)
            );
            let _ = writeln!(md, "{header}\n{}", line(r));
            for &i in &runners_up {
                let _ = writeln!(md, "{}", line(&rows[i]));
            }
            let _ = writeln!(md);
        }
        None => {
            // The closest: the highest capacity relative to the target.
            let best = rows
                .iter()
                .filter(|r| r.cells[2] != "invalid")
                .max_by(|a, b| cap(a).total_cmp(&cap(b)).then(b.index.cmp(&a.index)));
            let _ = match best {
                Some(r) => writeln!(
                    md,
                    "**No configuration meets the target.** Closest: #{} `{}` sustains {} \
                     {unit} of the {} asked ({:.0} %); at the target: {}.\n",
                    r.index,
                    r.label,
                    r.cells[4],
                    fmt_num(spec.target),
                    100.0 * cap(r) / spec.target,
                    r.cells[11]
                ),
                None => writeln!(
                    md,
                    "**No configuration is valid**: every one was refused (reasons below).\n"
                ),
            };
        }
    }
    let rejected: Vec<&Row> = rows.iter().filter(|r| r.cells[2] != "yes").collect();
    if !rejected.is_empty() {
        let _ = writeln!(
            md,
            "Rejected ({}):\n\n| # | configuration | $/hour | why |\n|---|---|---|---|",
            rejected.len()
        );
        for r in rejected {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                r.index,
                r.label,
                if r.cells[1].is_empty() {
                    "-".into()
                } else {
                    format!("${}", r.cells[1])
                },
                r.cells[11].replace('|', "/")
            );
        }
        let _ = writeln!(md);
    }
    let flips = rows.iter().filter(|r| r.cells[2] == "flips").count();
    if flips > 0 || spec.seeds.len() > 1 {
        let _ = writeln!(
            md,
            "Uncertainty: capacities are the median over {} seed(s), with the range; {flips} \
             configuration(s) meet the target on some seeds only (marked `flips`, not chosen).{}\n",
            spec.seeds.len(),
            match chosen {
                Some(c) if num(&rows[c].cells[5]).unwrap_or(0.0) < spec.target * 1.1 =>
                    " The chosen configuration's lowest capacity is within 10 % of the target: the choice is close.",
                _ => "",
            }
        );
    }
    if let Some(e) = spec.cost_model_error {
        let banded: Vec<&Row> = rows
            .iter()
            .filter(|r| r.cells[3].starts_with("flips"))
            .collect();
        let _ = writeln!(
            md,
            "Cost-model error band (±{:.0} %, every iteration that much faster and slower, at \
             the target, first seed): the verdict flips for {} configuration(s){}.{}\n",
            e * 100.0,
            banded.len(),
            if banded.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    banded
                        .iter()
                        .map(|r| format!("#{}", r.index))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            match chosen {
                Some(c) if rows[c].cells[3].starts_with("flips") => {
                    " **The chosen configuration is one of them: within the model's error it \
                     may miss the target; consider the runner-up or measure.**"
                }
                Some(_) => " The chosen configuration's verdict holds across the band.",
                None => "",
            }
        );
    }
    let _ = writeln!(
        md,
        "Prices are the catalog's $/GPU-hour (`hardware/*.toml`, marked there as assumptions)."
    );

    // Tables.
    crate::report::check_dir(dir)?;
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    crate::report::mark(dir)?;
    let mut cols: Vec<(&str, Kind)> = vec![("index", Kind::U64), ("config", Kind::Str)];
    cols.extend(spec.axes.iter().map(|a| (a.key.as_str(), Kind::Str)));
    cols.extend(COLUMNS.iter().map(|&c| (c, Kind::Str)));
    let mut t = TableWriter::create(dir, "plan", TableFormat::Csv, &cols)?;
    for r in rows {
        t.u64(0, r.index as u64);
        t.str(1, &r.label);
        for (k, v) in spec.values(r.index).into_iter().enumerate() {
            t.str(2 + k, &show(v));
        }
        for (k, c) in r.cells.iter().enumerate() {
            t.str(2 + spec.axes.len() + k, c);
        }
        t.end_row()?;
    }
    let plan_csv = t.finish()?;
    let mut t = TableWriter::create(
        dir,
        "latency_vs_load",
        TableFormat::Csv,
        &[
            ("index", Kind::U64),
            ("load", Kind::F64),
            ("throughput_rps", Kind::F64),
            ("ttft_p90_ms", Kind::F64),
            ("tpot_p90_ms", Kind::F64),
            ("met", Kind::Str),
        ],
    )?;
    for r in rows {
        let mut pts = r.points.clone();
        pts.sort_by(|a, b| a.load.total_cmp(&b.load));
        for p in pts {
            t.u64(0, r.index as u64);
            t.f64(1, Some(p.load));
            t.f64(2, Some(p.throughput_rps));
            t.f64(3, Some(p.ttft_p90_ms));
            t.f64(4, Some(p.tpot_p90_ms));
            t.str(5, if p.met { "yes" } else { "no" });
            t.end_row()?;
        }
    }
    let curves_csv = t.finish()?;
    // Pareto front over valid configurations: no other is both cheaper (or as cheap) and
    // of more (or as much) capacity.
    let valid: Vec<&Row> = rows.iter().filter(|r| r.cells[2] != "invalid").collect();
    let on_front = |r: &Row| {
        !valid.iter().any(|o| {
            o.index != r.index
                && cost(o) <= cost(r)
                && cap(o) >= cap(r)
                && (cost(o) < cost(r) || cap(o) > cap(r))
        })
    };
    let mut t = TableWriter::create(
        dir,
        "cost_vs_capacity",
        TableFormat::Csv,
        &[
            ("index", Kind::U64),
            ("capacity", Kind::F64),
            ("usd_per_hour", Kind::F64),
            ("meets_target", Kind::Str),
            ("pareto", Kind::Str),
            ("chosen", Kind::Str),
        ],
    )?;
    for r in &valid {
        t.u64(0, r.index as u64);
        t.f64(1, Some(cap(r)));
        t.f64(2, Some(cost(r)));
        t.str(3, &r.cells[2]);
        t.str(4, if on_front(r) { "yes" } else { "no" });
        t.str(5, if Some(r.index) == chosen { "yes" } else { "no" });
        t.end_row()?;
    }
    let pareto_csv = t.finish()?;

    // Charts, under temporary names until everything is written.
    let mut staged = Staged::default();
    let first_slo = spec
        .scenario
        .slo
        .targets
        .iter()
        .find(|t| t.metric == SloMetric::Ttft && t.tenant.is_none());
    let mut chart = Chart::new(
        format!(
            "{}: TTFT p90 vs load (chosen, runners-up, closest rejected)",
            spec.scenario.name
        ),
        format!("load ({unit})"),
        "TTFT p90 (ms)",
    );
    chart.y_log = true;
    let mut shown: Vec<usize> = chosen
        .into_iter()
        .chain(runners_up.iter().copied())
        .collect();
    let mut others: Vec<&Row> = rows
        .iter()
        .filter(|r| r.cells[2] != "yes" && !r.points.is_empty())
        .collect();
    others.sort_by(|a, b| cap(b).total_cmp(&cap(a)).then(a.index.cmp(&b.index)));
    shown.extend(
        others
            .iter()
            .take(8usize.saturating_sub(shown.len()))
            .map(|r| r.index),
    );
    for &i in &shown {
        let r = &rows[i];
        let mut pts: Vec<(f64, f64)> = r.points.iter().map(|p| (p.load, p.ttft_p90_ms)).collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let tag = if Some(i) == chosen { " (chosen)" } else { "" };
        chart.series.push(Series {
            name: format!("#{i}{tag} ${}/h", r.cells[1]),
            points: pts,
            mark: Mark::LinePoints,
        });
    }
    if let Some(t) = first_slo {
        chart.ref_lines.push(RefLine {
            label: format!("TTFT p{} SLO {} ms", t.percentile as u32, t.limit_ms),
            value: t.limit_ms,
            horizontal: true,
        });
    }
    chart.ref_lines.push(RefLine {
        label: format!("target {} {unit}", fmt_num(spec.target)),
        value: spec.target,
        horizontal: false,
    });
    if !chart.series.is_empty() {
        render_chart(&chart, &staged.path(dir, "latency_vs_load.png"))?;
    }
    let mut chart = Chart::new(
        format!("{}: cost vs capacity within the SLOs", spec.scenario.name),
        format!("capacity within the SLOs ({unit})"),
        "cost ($/hour)",
    );
    let pts = |f: &dyn Fn(&Row) -> bool| -> Vec<(f64, f64)> {
        valid
            .iter()
            .filter(|r| f(r))
            .map(|r| (cap(r), cost(r)))
            .collect()
    };
    chart.series.push(Series {
        name: "configurations".into(),
        points: pts(&|_| true),
        mark: Mark::Points,
    });
    let mut front = pts(&|r| on_front(r));
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    chart.series.push(Series {
        name: "Pareto front".into(),
        points: front,
        mark: Mark::LinePoints,
    });
    if let Some(c) = chosen {
        chart.series.push(Series {
            name: format!("chosen #{c}"),
            points: vec![(cap(&rows[c]), cost(&rows[c]))],
            mark: Mark::Points,
        });
    }
    chart.ref_lines.push(RefLine {
        label: format!("target {} {unit}", fmt_num(spec.target)),
        value: spec.target,
        horizontal: false,
    });
    if chart.series[0].points.iter().any(|p| p.0 > 0.0) {
        render_chart(&chart, &staged.path(dir, "cost_vs_capacity.png"))?;
    }
    let mut index = String::new();
    let _ = writeln!(index, "# Plan report: {}\n", spec.scenario.name);
    let _ = writeln!(
        index,
        "- [answer.md](answer.md): the chosen configuration, the runners-up, and why each other was rejected."
    );
    let _ = writeln!(
        index,
        "- [plan.csv](plan.csv): one row per configuration: price, whether it meets the target, capacity within the SLOs (median and range over seeds), cost per million output tokens and per thousand requests at that capacity."
    );
    for name in ["latency_vs_load.png", "cost_vs_capacity.png"] {
        if !staged.has(name) {
            continue;
        }
        let caption = if name.starts_with("latency") {
            "TTFT p90 against load for the chosen configuration, the runners-up and the closest rejected ones, with the SLO and the target (a configuration rejected on TPOT can sit under the TTFT line: answer.md says why each was rejected); data in latency_vs_load.csv (every simulated point of every configuration, TPOT included)."
        } else {
            "Cost per hour against the load each configuration sustains within the SLOs; the Pareto front joined, the chosen point marked; data in cost_vs_capacity.csv."
        };
        let _ = writeln!(index, "\n![{name}]({name})\n\n{caption}");
    }
    staged.text(dir, "answer.md", &md)?;
    staged.text(dir, "README.md", &index)?;
    let mut files = table::commit(vec![plan_csv, curves_csv, pareto_csv])?;
    files.extend(staged.commit()?);
    Ok((
        files,
        Answer {
            chosen,
            runners_up,
            text: md,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_expand_by_index_and_off_removes_a_table_after_the_other_axes() {
        let v: toml::Value =
            toml::from_str::<toml::Table>("r = { from = 0.1, to = 0.3, step = 0.1 }").unwrap()["r"]
                .clone();
        let got: Vec<f64> = expand(&v)
            .unwrap()
            .iter()
            .map(|x| x.as_float().unwrap())
            .collect();
        assert_eq!(
            got.len(),
            3,
            "{got:?}: 0.3 itself is included despite rounding"
        );
        let v = toml::Value::Table(toml::from_str("from = 64\nto = 256\nstep = 64").unwrap());
        assert_eq!(expand(&v).unwrap().len(), 4);

        let base: toml::Table =
            toml::from_str("[engine]\nmax_num_seqs = 8\n[engine.speculative]\nmethod = \"ngram\"\nnum_speculative_tokens = 4\n")
                .unwrap();
        let axes = [
            Axis {
                key: "engine.speculative".into(),
                values: vec![],
            },
            Axis {
                key: "engine.speculative.num_speculative_tokens".into(),
                values: vec![],
            },
        ];
        let (on, off, two) = (
            toml::Value::from("on"),
            toml::Value::from("off"),
            toml::Value::from(2),
        );
        let t = configure(&base, &axes, &[&off, &two]);
        assert!(t["engine"].get("speculative").is_none(), "{t}");
        assert_eq!(t["engine"]["max_num_seqs"].as_integer(), Some(8));
        let t = configure(&base, &axes, &[&on, &two]);
        assert_eq!(
            t["engine"]["speculative"]["num_speculative_tokens"].as_integer(),
            Some(2)
        );
        assert_eq!(t["engine"]["speculative"]["method"].as_str(), Some("ngram"));
    }
}
