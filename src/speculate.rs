//! `planner speculate`: where speculative decoding stops paying. The scenario is simulated
//! at a range of loads, without speculation and with each draft length γ, all runs in
//! parallel (rayon; results in input order, so the report is the same on any number of
//! threads). For each γ the report gives the TPOT speedup and the throughput ratio at every
//! load, and the crossover: the lowest load at which speculation makes TPOT worse.

use crate::report::png::{Chart, Mark, RefLine, Series, render_chart};
use crate::report::table::{self, Kind, TableFormat, TableWriter};
use crate::scenario::Scenario;
use crate::simulate::{Prepared, SimOptions, prepare, simulate};
use crate::sweep::parallel::map_in_order;
use crate::sweep::{Load, set_load};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One (load, γ) point; γ = 0 is the baseline without speculation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SweepRow {
    /// Offered load, requests per second.
    pub rate: f64,
    /// Draft tokens per step (0: no speculation).
    pub gamma: u32,
    /// Median TPOT, ms.
    pub tpot_p50_ms: f64,
    /// Median TTFT, ms.
    pub ttft_p50_ms: f64,
    /// Output tokens per second.
    pub throughput_tps: f64,
    /// Mean sequences per iteration.
    pub mean_batch: f64,
    /// Draft tokens accepted / proposed (none for the baseline).
    pub acceptance_rate: Option<f64>,
    /// Baseline median TPOT / this median TPOT (> 1: speculation helps).
    pub tpot_speedup: f64,
    /// This throughput / the baseline's.
    pub throughput_ratio: f64,
}

/// A whole sweep.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sweep {
    /// Rows by load, then γ (baseline first).
    pub rows: Vec<SweepRow>,
    /// Draft lengths swept.
    pub gammas: Vec<u32>,
    /// Loads swept.
    pub rates: Vec<f64>,
}

impl Sweep {
    /// For each γ, the lowest swept load at which speculation makes median TPOT worse
    /// (speedup < 1), if any.
    pub fn crossovers(&self) -> Vec<(u32, Option<f64>)> {
        self.gammas
            .iter()
            .map(|&g| {
                let at = self
                    .rows
                    .iter()
                    .filter(|r| r.gamma == g)
                    .find(|r| r.tpot_speedup < 1.0)
                    .map(|r| r.rate);
                (g, at)
            })
            .collect()
    }

    /// A table for the terminal.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:>9} {:>3} {:>10} {:>10} {:>10} {:>8} {:>8} {:>9}",
            "load/s", "γ", "TPOT p50", "tok/s", "batch", "accept", "speedup", "tput ×"
        );
        for r in &self.rows {
            let _ = writeln!(
                s,
                "{:>9.3} {:>3} {:>8.2}ms {:>10.1} {:>10.1} {:>8} {:>7.2}× {:>8.2}×",
                r.rate,
                r.gamma,
                r.tpot_p50_ms,
                r.throughput_tps,
                r.mean_batch,
                r.acceptance_rate
                    .map_or("-".to_string(), |a| format!("{a:.3}")),
                r.tpot_speedup,
                r.throughput_ratio
            );
        }
        for (g, at) in self.crossovers() {
            let _ = match at {
                Some(rate) => writeln!(
                    s,
                    "γ = {g}: speculation stops paying at {rate:.3} req/s (TPOT worse than without)"
                ),
                None => writeln!(s, "γ = {g}: pays at every swept load"),
            };
        }
        s
    }
}

/// `scn` with its arrivals at `rate` and speculation at `gamma` (0: off).
fn variant(scn: &Scenario, rate: f64, gamma: u32) -> Scenario {
    let mut s = scn.clone();
    set_load(&mut s, rate);
    if gamma == 0 {
        s.engine.speculative = None;
        s.draft = None;
    } else if let Some(sp) = &mut s.engine.speculative {
        sp.num_tokens = gamma;
    }
    s
}

/// The scenario's offered load (requests per second).
pub fn scenario_rate(scn: &Scenario) -> anyhow::Result<f64> {
    match Load::of(scn) {
        Load::Rate(rate) => Ok(rate),
        Load::TimeScale(_) => anyhow::bail!(
            "{}: `speculate` sweeps the arrival rate of a synthetic workload; this one replays a trace",
            scn.path.display()
        ),
    }
}

/// Run the sweep: every load × (baseline, every γ).
pub fn sweep(scn: &Scenario, rates: &[f64], gammas: &[u32]) -> anyhow::Result<Sweep> {
    if scn.engine.speculative.is_none() {
        anyhow::bail!(
            "{}: no [engine.speculative] table: add one (method, draft model, acceptance) to sweep",
            scn.path.display()
        );
    }
    scenario_rate(scn)?;
    if rates.is_empty() || gammas.is_empty() {
        anyhow::bail!("give at least one load and one γ to sweep");
    }
    if let Some(g) = gammas.iter().find(|g| !(1..=16).contains(*g)) {
        anyhow::bail!("γ = {g}: draft lengths must be in 1..=16");
    }
    if let Some(r) = rates.iter().find(|r| !(r.is_finite() && **r > 0.0)) {
        anyhow::bail!("load {r}: rates must be positive req/s");
    }
    // One cost table per γ (γ changes the draft's memory and the verification's shape).
    let mut all_g = vec![0];
    all_g.extend_from_slice(gammas);
    let prepared: Vec<Prepared> = all_g
        .iter()
        .map(|&g| prepare(&variant(scn, rates[0], g)))
        .collect::<anyhow::Result<_>>()?;
    let points: Vec<(usize, usize)> = (0..rates.len())
        .flat_map(|ri| (0..all_g.len()).map(move |gi| (ri, gi)))
        .collect();
    let rows: Vec<anyhow::Result<SweepRow>> =
        map_in_order(&points, false, "points", |&(ri, gi)| {
            let v = variant(scn, rates[ri], all_g[gi]);
            let s = simulate(
                &v,
                &prepared[gi],
                &SimOptions {
                    no_files: true,
                    ..Default::default()
                },
            )?;
            Ok(SweepRow {
                rate: rates[ri],
                gamma: all_g[gi],
                tpot_p50_ms: s.tpot.p50 * 1e3,
                ttft_p50_ms: s.ttft.p50 * 1e3,
                throughput_tps: s.output_tokens as f64 / s.duration_s,
                mean_batch: s.mean_batch_size,
                acceptance_rate: s
                    .spec
                    .as_ref()
                    .filter(|_| gi > 0)
                    .map(|sp| sp.accepted as f64 / sp.drafted.max(1) as f64),
                // Filled in below, against the baseline at the same load.
                tpot_speedup: f64::NAN,
                throughput_ratio: f64::NAN,
            })
        });
    let mut rows = rows.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    let mut base = (f64::NAN, f64::NAN);
    for r in &mut rows {
        if r.gamma == 0 {
            base = (r.tpot_p50_ms, r.throughput_tps);
        }
        r.tpot_speedup = base.0 / r.tpot_p50_ms;
        r.throughput_ratio = r.throughput_tps / base.1;
    }
    Ok(Sweep {
        rows,
        gammas: gammas.to_vec(),
        rates: rates.to_vec(),
    })
}

/// Write `speculation.csv` and `speculation.png` (TPOT speedup vs load, one line per γ)
/// into `dir`.
pub fn write_report(sweep: &Sweep, scn: &Scenario, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    crate::report::check_dir(dir)?;
    let cols = [
        ("rate_rps", Kind::F64),
        ("gamma", Kind::U64),
        ("tpot_p50_ms", Kind::F64),
        ("ttft_p50_ms", Kind::F64),
        ("output_tokens_per_s", Kind::F64),
        ("mean_batch_size", Kind::F64),
        ("acceptance_rate", Kind::F64),
        ("tpot_speedup", Kind::F64),
        ("throughput_ratio", Kind::F64),
    ];
    let mut t = TableWriter::create(dir, "speculation", TableFormat::Csv, &cols)?;
    for r in &sweep.rows {
        t.f64(0, Some(r.rate));
        t.u64(1, r.gamma as u64);
        t.f64(2, Some(r.tpot_p50_ms));
        t.f64(3, Some(r.ttft_p50_ms));
        t.f64(4, Some(r.throughput_tps));
        t.f64(5, Some(r.mean_batch));
        t.f64(6, r.acceptance_rate);
        t.f64(7, Some(r.tpot_speedup));
        t.f64(8, Some(r.throughput_ratio));
        t.end_row()?;
    }
    let csv = t.finish()?;
    let sp = scn.engine.speculative.as_ref();
    let mut chart = Chart::new(
        format!(
            "{}: speculative decoding ({}, α ≈ {:.2}) vs load",
            scn.name,
            sp.map_or("-", |s| s.method.name()),
            sp.map_or(f64::NAN, |s| s.acceptance.mean_alpha())
        ),
        "offered load (requests/s)",
        "TPOT speedup over no speculation (×)",
    );
    chart.x_log = true;
    for &g in &sweep.gammas {
        chart.series.push(Series {
            name: format!("γ = {g}"),
            points: sweep
                .rows
                .iter()
                .filter(|r| r.gamma == g)
                .map(|r| (r.rate, r.tpot_speedup))
                .collect(),
            mark: Mark::LinePoints,
        });
    }
    chart.ref_lines.push(RefLine {
        label: "break-even (1×)".into(),
        value: 1.0,
        horizontal: true,
    });
    let mut staged = crate::report::Staged::default();
    render_chart(&chart, &staged.path(dir, "speculation.png"))?;
    let index = format!(
        "# Speculative decoding: {}\n\n![speculation.png](speculation.png)\n\nTPOT speedup \
         over no speculation against offered load, one line per draft length γ; below 1× \
         speculation costs more than it saves. Data (with TTFT, throughput, batch size and \
         acceptance per point): speculation.csv.\n",
        scn.name
    );
    staged.text(dir, "README.md", &index)?;
    // The same as one page, the chart as SVG, the crossover per γ first.
    let verdicts = sweep
        .crossovers()
        .into_iter()
        .map(|(g, at)| match at {
            Some(r) => (
                false,
                format!("γ = {g}: speculation makes median TPOT worse from {r} req/s"),
            ),
            None => (true, format!("γ = {g}: pays at every load swept")),
        })
        .collect();
    let svg = crate::report::png::chart_svg(&chart, &dir.join("speculation.png"))?;
    let page = crate::report::html::render(&crate::report::html::Page {
        title: format!("Speculative decoding: {}", scn.name),
        warnings: Vec::new(),
        verdicts,
        summary: &[],
        sections: vec![("Sweep".to_string(), sweep.render())],
        charts: vec![(
            "speculation.png".to_string(),
            "TPOT speedup over no speculation against offered load, one line per draft length \
             γ; below 1× speculation costs more than it saves."
                .to_string(),
            svg,
            Some("speculation.csv".to_string()),
        )],
        appendix: Vec::new(),
        tables: vec!["speculation.csv".to_string()],
        scenario: (
            scn.path.display().to_string(),
            std::fs::read_to_string(&scn.path).unwrap_or_default(),
        ),
    });
    staged.text(dir, "index.html", &page)?;
    let mut out = table::commit(vec![csv])?;
    out.extend(staged.commit()?);
    crate::report::mark(dir, None)?;
    Ok(out)
}
