//! Evaluating one configuration: simulate at the target, search the capacity within the SLOs
//! per seed (double or halve from the target, then bisect), price it, judge it within the
//! cost model's error band.

use super::result::{Band, Capacity, ConfigResult, Evaluated, Outcome, Verdict};
use super::{PlanSpec, Point, fmt_num};
use crate::scenario::Scenario;
use crate::simulate::{Prepared, RunSummary, SimOptions, prepare, simulate};
use crate::sweep::set_load;

/// What one simulation said.
#[derive(Clone)]
pub(super) struct Eval {
    point: Point,
    output_tps: f64,
    /// The first failed SLO or refusal, if any.
    failed: Option<String>,
}

fn evaluate(scn: &Scenario, prepared: &Prepared, load: f64, seed: u64) -> anyhow::Result<Eval> {
    let mut s = scn.clone();
    set_load(&mut s, load);
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
    // Refusals by a tenant's own limits are the policy at work, not a lack of capacity.
    let refused = sum.rejected - sum.rejected_by_tenant_limits;
    if refused > 0 {
        failed = Some(format!("{refused} requests refused"));
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
    prepared: &Prepared,
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
pub fn evaluate_config(spec: &PlanSpec, i: usize) -> ConfigResult {
    let label = spec.label(i);
    let table = spec.grid.configure(&spec.base, i);
    let invalid = |reason: String| ConfigResult {
        index: i,
        label: label.clone(),
        outcome: Outcome::Invalid { reason },
        points: Vec::new(),
    };
    let text = match toml::to_string(&table) {
        Ok(t) => t,
        Err(e) => return invalid(e.to_string()),
    };
    let mut scn = match Scenario::from_str(&text, &spec.path, &spec.catalog) {
        Ok(s) => s,
        Err(
            crate::scenario::ScenarioError::Invalid {
                key, value, rule, ..
            }
            | crate::scenario::ScenarioError::UnknownKey {
                key, value, rule, ..
            },
        ) => return invalid(format!("{key} = {value}: {rule}")),
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
    if let Some((usd, from)) = spec.prices.get(&scn.gpu.name) {
        scn.gpu.usd_per_hour = *usd;
        scn.gpu.price_from = from.clone();
    }
    let prepared = match prepare(&scn) {
        Ok(p) => p,
        Err(e) => return invalid(format!("does not fit: {e}")),
    };
    let mut searches = Vec::new();
    for &seed in &spec.seeds {
        match search(&scn, &prepared, spec.target, seed, spec.bisect_steps) {
            Ok(s) => searches.push(s),
            Err(e) => return invalid(format!("simulation failed: {e}")),
        }
    }
    // The fleet: the scenario's replicas, or the fewest that sustain the target.
    let unit_replicas = scn.replicas;
    let mut at_target: Vec<Eval> = searches.iter().map(|s| s.target.clone()).collect();
    let mut no_fleet = None;
    if spec.derive_replicas && !at_target.iter().all(|e| e.point.met) {
        match derive_fleet(spec, &scn, &prepared, &searches) {
            Ok(Derived::Fleet(n, evals)) => {
                scn.replicas = n;
                at_target = evals;
            }
            Ok(Derived::None(why)) => no_fleet = Some(why),
            Err(e) => return invalid(format!("simulation failed: {e}")),
        }
    }
    let band = match spec.cost_model_error {
        None => None,
        Some(e) => match band(spec, &scn, &prepared, e) {
            Ok(b) => Some(b),
            Err(x) => return invalid(format!("simulation failed: {x}")),
        },
    };
    let fleet = Fleet {
        replicas: scn.replicas,
        unit_replicas,
        gpus: scn.tp * scn.replicas,
        usd_per_gpu_hour: scn.gpu.usd_per_hour,
        price: format!(
            "{}: ${}/GPU-hour from {}",
            scn.gpu.name,
            fmt_num(scn.gpu.usd_per_hour),
            scn.gpu.price_from
        ),
    };
    let mut judged = judge(spec, &searches, &at_target, &fleet, band);
    if let Some(why) = no_fleet {
        judged.reason = format!("{why}; {}", judged.reason);
    }
    ConfigResult {
        index: i,
        label,
        points: searches[0].points.clone(),
        outcome: Outcome::Evaluated(judged),
    }
}

/// A derived fleet, or why there is none.
enum Derived {
    /// Replicas and their evaluations at the target, per seed.
    Fleet(u32, Vec<Eval>),
    /// No fleet: why.
    None(String),
}

/// The fleet a configuration is priced and judged as.
struct Fleet {
    /// Replicas run at the target.
    replicas: u32,
    /// Replicas the capacity was searched with (the scenario's).
    unit_replicas: u32,
    /// GPUs in the fleet (TP × replicas).
    gpus: u32,
    /// The GPU's price.
    usd_per_gpu_hour: f64,
    /// The price and where it comes from, in words.
    price: String,
}

/// Fleets tried beyond the first estimate before giving up.
const FLEET_TRIES: usize = 4;

/// The fewest replicas that meet the target on every seed: estimated from the median seed's
/// capacity of the scenario's replicas (`n = ⌈replicas × target / capacity⌉`), confirmed by
/// simulating that fleet at the target on every seed, one replica more while a seed misses
/// (at most [`FLEET_TRIES`] fleets, none over `max_replicas`); when the estimate meets at
/// once, bisected down to the fewest that meet (a larger fleet absorbs bursts better, so
/// its capacity per replica is higher than one replica's). `None` when the scenario's
/// replicas sustain no load within the SLOs (more of them cannot help), or the estimate is
/// over `max_replicas`; otherwise the last fleet tried and its evaluations per seed.
fn derive_fleet(
    spec: &PlanSpec,
    scn: &Scenario,
    prepared: &Prepared,
    searches: &[Search],
) -> anyhow::Result<Derived> {
    let mut caps: Vec<f64> = searches.iter().map(|s| s.capacity).collect();
    caps.sort_by(f64::total_cmp);
    let median = caps[(caps.len() - 1) / 2];
    let unit = if scn.replicas == 1 {
        "one replica".to_string()
    } else {
        format!("{} replicas", scn.replicas)
    };
    if median <= 0.0 {
        let floor = searches
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.load))
            .fold(f64::INFINITY, f64::min);
        return Ok(Derived::None(format!(
            "{unit} meets the SLOs at no load tried (down to {} {}), so no number of \
             replicas does",
            fmt_num(floor),
            spec.load_unit()
        )));
    }
    let estimate = (scn.replicas as f64 * spec.target / median).ceil();
    if estimate > spec.max_replicas as f64 {
        return Ok(Derived::None(format!(
            "{unit} sustains {} {}: the target needs about {estimate} replicas, over \
             [plan] max_replicas = {}",
            fmt_num(median),
            spec.load_unit(),
            spec.max_replicas
        )));
    }
    let fleet = |n: u32| -> anyhow::Result<(bool, Vec<Eval>)> {
        let mut s = scn.clone();
        s.replicas = n;
        let evals = spec
            .seeds
            .iter()
            .map(|&seed| evaluate(&s, prepared, spec.target, seed))
            .collect::<anyhow::Result<Vec<Eval>>>()?;
        Ok((evals.iter().all(|e| e.point.met), evals))
    };
    let first = (estimate as u32).max(scn.replicas + 1);
    let mut last = None;
    for n in (first..).take(FLEET_TRIES) {
        if n > spec.max_replicas {
            break;
        }
        let (met, evals) = fleet(n)?;
        last = Some((n, evals, met));
        if met {
            break;
        }
    }
    // A fleet spreads the arrivals' bursts over its replicas: when the estimate met at once,
    // fewer may do. Bisect between the scenario's replicas (they miss) and the estimate.
    if let Some((n, _, true)) = &last
        && *n == first
    {
        let (mut lo, mut hi) = (scn.replicas, first);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            let (met, evals) = fleet(mid)?;
            if met {
                hi = mid;
                last = Some((mid, evals, met));
            } else {
                lo = mid;
            }
        }
    }
    let last = last.map(|(n, evals, _)| (n, evals));
    Ok(match last {
        Some((n, evals)) => Derived::Fleet(n, evals),
        None => Derived::None(format!(
            "no fleet within [plan] max_replicas = {}",
            spec.max_replicas
        )),
    })
}

/// The verdict at the target with every iteration `e` faster and `e` slower (first seed).
fn band(spec: &PlanSpec, scn: &Scenario, prepared: &Prepared, e: f64) -> anyhow::Result<Band> {
    let verdict = |f: f64| -> anyhow::Result<bool> {
        let p = Prepared {
            num_blocks: prepared.num_blocks,
            kv_bytes_per_token: prepared.kv_bytes_per_token,
            budget: prepared.budget.clone(),
            cost: prepared.cost.scaled(f),
            draft_cost: prepared.draft_cost.as_ref().map(|c| c.scaled(f)),
            lora: prepared.lora.clone(),
        };
        Ok(evaluate(scn, &p, spec.target, spec.seeds[0])?.point.met)
    };
    Ok(if verdict(1.0 - e)? == verdict(1.0 + e)? {
        Band::Holds
    } else {
        Band::Flips { percent: e * 100.0 }
    })
}

/// A configuration's result from its searches (one per seed) and its fleet's evaluations at
/// the target (one per seed).
fn judge(
    spec: &PlanSpec,
    searches: &[Search],
    at_target: &[Eval],
    fleet: &Fleet,
    band: Option<Band>,
) -> Evaluated {
    let met: Vec<bool> = at_target.iter().map(|e| e.point.met).collect();
    let verdict = if met.iter().all(|&m| m) {
        Verdict::Meets
    } else if met.iter().any(|&m| m) {
        Verdict::Flips
    } else {
        Verdict::Misses
    };
    // The median seed's capacity (the lower middle for an even count).
    let mut order: Vec<usize> = (0..searches.len()).collect();
    order.sort_by(|&a, &b| searches[a].capacity.total_cmp(&searches[b].capacity));
    let mid = &searches[order[(order.len() - 1) / 2]];
    // Costs per token and per request at capacity: the searched unit's price over its
    // throughput (a fleet of n units costs n times as much for n times the throughput).
    let unit_usd =
        fleet.usd_per_gpu_hour * (fleet.gpus / fleet.replicas * fleet.unit_replicas) as f64;
    let (per_m, per_1k) = match &mid.best {
        Some(e) if e.output_tps > 0.0 => (
            Some(unit_usd / (e.output_tps * 3600.0) * 1e6),
            Some(unit_usd / (e.point.throughput_rps * 3600.0) * 1e3),
        ),
        _ => (None, None),
    };
    Evaluated {
        gpus: fleet.gpus,
        replicas: fleet.replicas,
        usd_per_hour: fleet.usd_per_gpu_hour * fleet.gpus as f64,
        price: fleet.price.clone(),
        verdict,
        band,
        capacity: Capacity {
            median: mid.capacity,
            min: searches[order[0]].capacity,
            max: searches[order[order.len() - 1]].capacity,
            at_ceiling: mid.at_ceiling,
        },
        ttft_p90_ms_at_target: at_target[0].point.ttft_p90_ms,
        tpot_p90_ms_at_target: at_target[0].point.tpot_p90_ms,
        usd_per_m_output_tokens: per_m,
        usd_per_1k_requests: per_1k,
        reason: reason(spec, at_target, fleet, verdict),
    }
}

/// Why a configuration that misses the target (on some seeds) is rejected.
fn reason(spec: &PlanSpec, at_target: &[Eval], fleet: &Fleet, verdict: Verdict) -> String {
    if verdict == Verdict::Meets {
        return String::new();
    }
    let failing = at_target
        .iter()
        .zip(&spec.seeds)
        .find(|(e, _)| !e.point.met)
        .map(|(e, seed)| {
            format!(
                "{} at {} {}{} (seed {seed})",
                e.failed.clone().unwrap_or_else(|| "SLO missed".into()),
                fmt_num(spec.target),
                spec.load_unit(),
                if fleet.replicas > fleet.unit_replicas {
                    format!(" on {} replicas", fleet.replicas)
                } else {
                    String::new()
                }
            )
        })
        .unwrap_or_default();
    if verdict == Verdict::Flips {
        format!("meets the target on some seeds only: {failing}")
    } else {
        failing
    }
}
