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

mod evaluate;
mod report;
pub mod result;

use crate::catalog::Catalog;
use crate::scenario::{Scenario, line_of};
use crate::sweep::Load;
use crate::sweep::grid::{self, Axis, Grid, expand, is_table_at, set_key};
use crate::sweep::journal::{self, Head};
use crate::sweep::parallel::map_in_order;
use crate::workload::WorkloadSource;
use anyhow::{Context, anyhow, bail};
use evaluate::evaluate_config;
use report::finish;
pub use result::{COLUMNS, ConfigResult};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Configurations a plan may have unless `[plan] max_configs` raises it.
pub const DEFAULT_MAX_CONFIGS: usize = 1_000;
/// The most replicas a derived fleet may have unless `[plan] max_replicas` says otherwise.
pub const DEFAULT_MAX_REPLICAS: u32 = 64;
/// `max_configs` above this is refused (a typo, not a plan).
pub const HARD_MAX_CONFIGS: usize = grid::MAX_RANGE as usize;

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
    max_replicas: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct PlanFile {
    plan: Option<RawPlan>,
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
    /// The axes and their product.
    pub grid: Grid,
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
    /// Replicas are derived per configuration (the fewest that sustain the target), unless
    /// `hardware.replicas` is an axis: then each configuration runs the replicas it names.
    pub derive_replicas: bool,
    /// The most replicas a derived fleet may have (`[plan] max_replicas`, default 64).
    pub max_replicas: u32,
    /// Number of configurations.
    pub configs: usize,
    /// Identifies the plan (scenario text and grid) in shard files.
    pub id: String,
    /// The catalogs every configuration's model and GPU names resolve in.
    pub catalog: Catalog,
    /// Prices per GPU (catalog name → USD per GPU-hour, where from) given on the command
    /// line (`--price`, `--prices FILE`); they override the scenario's and the catalog's.
    pub prices: std::collections::BTreeMap<String, (f64, String)>,
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

impl PlanSpec {
    /// Read `[plan]` from a scenario file; names resolve in `catalog`.
    pub fn load(path: &Path, catalog: &Catalog) -> anyhow::Result<PlanSpec> {
        Self::load_with(path, catalog, &[])
    }

    /// Read `[plan]` from a scenario file with keys set on the command line (`--set`, also
    /// `plan.*` keys); the plan's identity (for shards and `--resume`) covers them.
    pub fn load_with(
        path: &Path,
        catalog: &Catalog,
        overrides: &[crate::scenario::overrides::Override],
    ) -> anyhow::Result<PlanSpec> {
        let original = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        // The scenario's errors name the file's line or `--set`; the rest reads the text with
        // the overrides written in, and names `--set` for a key the command line set, or the
        // key's line in the file as written.
        let scenario = crate::scenario::overrides::load(path, catalog, overrides)?;
        let text = crate::scenario::overrides::apply(&original, path, overrides)?;
        let place = |table: &str, k: &str| {
            let key = if table.is_empty() {
                k.to_string()
            } else {
                format!("{table}.{k}")
            };
            match overrides.iter().any(|o| o.covers(&key)) {
                true => "--set".to_string(),
                false => at(path, line_of(&original, table, k)),
            }
        };
        let file: PlanFile = match toml::from_str(&text) {
            Ok(f) => f,
            Err(e) => {
                return Err(match toml::from_str::<PlanFile>(&original) {
                    Err(own) => {
                        crate::scenario::ScenarioError::from_toml(&own, &original, path).into()
                    }
                    Ok(_) => crate::scenario::ScenarioError::from_toml(&e, &text, path)
                        .at_set()
                        .into(),
                });
            }
        };
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
            anyhow!("{}: plan.{key} = {value}: {rule}", place(table, k))
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
            (None, false) => Load::of(&scenario).value(),
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
        let max_replicas = match raw.max_replicas {
            None => DEFAULT_MAX_REPLICAS,
            Some(n) if (1..=4096).contains(&n) => n as u32,
            Some(n) => return Err(err("max_replicas", &n, "must be in 1..=4096")),
        };
        let raw_axes = raw.axes.unwrap_or_default();
        if raw_axes.is_empty() {
            bail!(
                "{}: [plan] has no axes: add [plan.axes] with at least one key, e.g. \
                 \"hardware.tp\" = [1, 2]",
                at(
                    path,
                    line_of(&original, "", "plan").or(line_of(&original, "plan", "target_rate"))
                )
            );
        }
        let axes = read_axes(&raw_axes, &base, path, catalog, &err)?;
        let derive_replicas = !axes.iter().any(|a| a.key == "hardware.replicas");
        let priced = base
            .get("hardware")
            .and_then(|h| h.get("usd_per_hour"))
            .is_some();
        if priced
            && axes.iter().any(|a| a.key == "hardware.gpu")
            && !axes.iter().any(|a| a.key == "hardware.usd_per_hour")
        {
            bail!(
                "{}: hardware.usd_per_hour would price every GPU of the \"hardware.gpu\" axis \
                 alike: remove it and price each GPU with --price GPU=USD or --prices FILE",
                place("hardware", "usd_per_hour")
            );
        }
        let grid = Grid { axes };
        let configs = grid.len();
        if configs > max_configs {
            bail!(
                "{}: the plan's grid has {configs} configurations ({}), over the cap of \
                 {max_configs}: narrow the axes, shard the plan (--shard i/n), or raise \
                 [plan] max_configs (up to {HARD_MAX_CONFIGS})",
                match overrides.iter().any(|o| o.covers("plan.axes")) {
                    true => "--set".to_string(),
                    false => at(path, header_line(&original, "plan.axes")),
                },
                grid.axes
                    .iter()
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
            grid,
            target,
            trace,
            seeds,
            requests,
            bisect_steps,
            cost_model_error,
            derive_replicas,
            max_replicas,
            configs,
            id,
            catalog: catalog.clone(),
            prices: Default::default(),
        })
    }

    /// Set GPU prices (`--price GPU=USD`, `--prices FILE` of `gpu = usd` lines), each GPU
    /// named as the catalog knows it (an alias or a typo is an error before anything runs).
    pub fn set_prices(&mut self, prices: &[(String, f64, String)]) -> anyhow::Result<()> {
        for (gpu, usd, from) in prices {
            let spec = self
                .catalog
                .gpu(gpu)
                .map_err(|e| anyhow!("{from}: {gpu}: {e}"))?;
            if !(*usd > 0.0 && usd.is_finite()) {
                bail!("{from}: {gpu} = {usd}: give a positive price per GPU-hour in USD");
            }
            self.prices.insert(spec.name, (*usd, from.clone()));
        }
        // Plan identity covers the prices: shards priced differently do not merge.
        if !self.prices.is_empty() {
            let text = format!("{:?}", self.prices);
            self.id = format!(
                "{}-{:08x}",
                self.id,
                crate::hash::fnv1a(text.as_bytes()) as u32
            );
        }
        Ok(())
    }

    /// The axis values of configuration `i`.
    pub fn values(&self, i: usize) -> Vec<&toml::Value> {
        self.grid.values(i)
    }

    /// `key=value key=value …` for configuration `i`.
    pub fn label(&self, i: usize) -> String {
        self.grid.label(i)
    }

    /// The load knob's name and unit, for the report.
    pub(crate) fn load_unit(&self) -> &'static str {
        if self.trace {
            "× trace speed"
        } else {
            "req/s"
        }
    }
}

/// The `[plan.axes]`: each expanded, each naming a scenario key (its parents tables in the
/// scenario, and a scenario with its first value set loading without an unknown key), none
/// inside another's table unless that one only turns it on and off.
fn read_axes(
    raw_axes: &toml::Table,
    base: &toml::Table,
    path: &Path,
    catalog: &Catalog,
    err: &dyn Fn(&str, &dyn std::fmt::Display, &str) -> anyhow::Error,
) -> anyhow::Result<Vec<Axis>> {
    // An axis inside another axis's table needs that table to stay a table: the outer
    // axis may only turn it "on" or "off".
    for (outer, v) in raw_axes {
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
    for (key, v) in raw_axes {
        let values = expand(v).map_err(|r| err(&format!("axes.{key}"), v, &r))?;
        if values.is_empty() {
            return Err(err(
                &format!("axes.{key}"),
                v,
                "an axis needs at least one value",
            ));
        }
        // Catalog names are checked now, not as rejected configurations after the run.
        for v in &values {
            let Some(name) = v.as_str() else { continue };
            if crate::catalog::is_path(name) {
                continue;
            }
            let unknown = match key.as_str() {
                "hardware.gpu" => catalog.gpu(name).err().map(|e| e.to_string()),
                "model.name" | "engine.speculative.draft_model" => {
                    catalog.model(name).err().map(|e| e.to_string())
                }
                _ => None,
            };
            if let Some(e) = unknown {
                return Err(err(&format!("axes.{key}"), v, &e));
            }
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
        if !is_table_at(base, key) {
            set_key(&mut probe, key, &values[0]);
        }
        let probe_text = toml::to_string(&probe).map_err(|e| anyhow!("{e}"))?;
        if let Err(crate::scenario::ScenarioError::UnknownKey { .. }) =
            Scenario::from_str(&probe_text, path, catalog)
        {
            return Err(err(
                &format!("axes.{key}"),
                v,
                "not a scenario key (see every key in docs/scenario.md; an axis names \
                 one as a dotted path, e.g. \"engine.max_num_seqs\")",
            ));
        }
        axes.push(Axis {
            key: key.clone(),
            values,
        });
    }
    Ok(axes)
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
    /// Every SLO met, nothing refused (beyond a tenant's own limits).
    pub met: bool,
}

/// A number as short as it reads: `3`, `2.5`, `0.125`.
pub(crate) fn fmt_num(x: f64) -> String {
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
    crate::report::mark(&dir, None)?;
    let path = match opts.shard {
        Some((i, n)) => dir.join(format!("plan.shard-{i}-of-{n}.jsonl")),
        None => dir.join("plan.journal.jsonl"),
    };
    let head = Head {
        plan: spec.id.clone(),
        configs: spec.configs,
        shard: opts.shard,
    };
    let (journal, done) = journal::open::<ConfigResult>(&path, &head, opts.resume)?;
    let mine: Vec<usize> = (0..spec.configs)
        .filter(|&i| head.owns(i))
        .filter(|i| !done.iter().any(|r| r.index == *i))
        .collect();
    let fresh: Vec<anyhow::Result<ConfigResult>> =
        map_in_order(&mine, opts.progress, "configurations", |&i| {
            let row = evaluate_config(spec, i);
            journal.append(&row)?;
            Ok(row)
        });
    let mut rows = done;
    for r in fresh {
        rows.push(r?);
    }
    if opts.shard.is_some() {
        return Ok((vec![path], None));
    }
    rows.sort_by_key(|r| r.index);
    let (files, answer) = finish(spec, &rows, &dir)?;
    std::fs::remove_file(journal.path()).ok();
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
    let mut rows: Vec<ConfigResult> = Vec::new();
    let mut seen: Vec<Option<PathBuf>> = vec![None; spec.configs];
    for path in shards {
        let (head, shard_rows) = journal::read::<ConfigResult>(path)?;
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
    /// The chosen fleet in words (`2 × (TP1 on NVIDIA L40S 48GB GDDR6, vllm)`) and the
    /// engine command line that runs it.
    pub deployment: Option<(String, String)>,
    /// Every configuration's result, in grid order.
    pub rows: Vec<ConfigResult>,
}

impl Answer {
    /// `plan --json`: schema `planner.plan` (docs/json.md).
    pub fn to_json(&self, spec: &PlanSpec) -> String {
        #[derive(Serialize)]
        struct Out<'a> {
            scenario: &'a str,
            target: f64,
            load_unit: &'a str,
            seeds: &'a [u64],
            chosen: Option<usize>,
            fleet: Option<&'a str>,
            command: Option<&'a str>,
            runners_up: &'a [usize],
            configurations: &'a [ConfigResult],
        }
        let out = Out {
            scenario: &spec.scenario.name,
            target: spec.target,
            load_unit: spec.load_unit(),
            seeds: &spec.seeds,
            chosen: self.chosen,
            fleet: self.deployment.as_ref().map(|d| d.0.as_str()),
            command: self.deployment.as_ref().map(|d| d.1.as_str()),
            runners_up: &self.runners_up,
            configurations: &self.rows,
        };
        crate::util::json_envelope("planner.plan", "plan", &out)
    }
}
