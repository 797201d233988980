//! `planner compare RUN_A RUN_B`: two simulation reports side by side: every numeric metric
//! of their `summary.csv` with its difference, and their latency distributions overlaid
//! (from each report's `latency_cdf.csv`).

use crate::report::png::{Chart, Mark, Series, render_chart};
use anyhow::{Context, bail};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One metric in both runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delta {
    /// The summary's key (`ttft_p90_ms`).
    pub metric: String,
    /// Run A's value.
    pub a: f64,
    /// Run B's value.
    pub b: f64,
    /// b − a.
    pub delta: f64,
    /// (b − a) / a, percent; `None` when a is 0.
    pub percent: Option<f64>,
}

/// Two runs compared.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Run A's folder and scenario name.
    pub a: (PathBuf, String),
    /// Run B's folder and scenario name.
    pub b: (PathBuf, String),
    /// Every metric numeric in both, in A's order.
    pub deltas: Vec<Delta>,
    /// Text metrics that differ (engine, GPU, scheduler, …): (key, A, B).
    pub differs: Vec<(String, String, String)>,
}

/// A report's `summary.csv` as (key, value) rows.
fn summary(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let path = dir.join("summary.csv");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{}: no summary.csv: give a `planner simulate` report folder written with CSV \
             tables (not --tables none, not --format parquet)",
            dir.display()
        )
    })?;
    let mut lines = text.lines();
    if lines.next() != Some("metric,value") {
        bail!(
            "{}: not a planner summary (header `metric,value`)",
            path.display()
        );
    }
    Ok(lines
        .filter_map(|l| {
            let (k, v) = l.split_once(',')?;
            Some((k.to_string(), v.trim_matches('"').to_string()))
        })
        .collect())
}

/// The leading number of a summary value (`164.109 (limit 1000, met)` → 164.109).
fn number(v: &str) -> Option<f64> {
    v.split_whitespace().next()?.parse().ok()
}

/// Compare two report folders.
pub fn compare(a: &Path, b: &Path) -> anyhow::Result<Comparison> {
    let (sa, sb) = (summary(a)?, summary(b)?);
    let get = |s: &[(String, String)], k: &str| {
        s.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone())
    };
    let mut deltas = Vec::new();
    let mut differs = Vec::new();
    for (k, va) in &sa {
        let Some(vb) = get(&sb, k) else { continue };
        match (number(va), number(&vb)) {
            (Some(x), Some(y)) if x.is_finite() && y.is_finite() => deltas.push(Delta {
                metric: k.clone(),
                a: x,
                b: y,
                delta: y - x,
                percent: (x != 0.0).then(|| (y - x) / x * 100.0),
            }),
            _ if *va != vb => differs.push((k.clone(), va.clone(), vb)),
            _ => {}
        }
    }
    let name = |s: &[(String, String)]| get(s, "scenario").unwrap_or_default();
    Ok(Comparison {
        a: (a.to_path_buf(), name(&sa)),
        b: (b.to_path_buf(), name(&sb)),
        deltas,
        differs,
    })
}

impl Comparison {
    /// The table printed: what differs in setup, then every metric that changed.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "A: {} ({})\nB: {} ({})\n",
            self.a.0.display(),
            self.a.1,
            self.b.0.display(),
            self.b.1
        );
        for (k, a, b) in &self.differs {
            let _ = writeln!(s, "{k:<40} {a}  →  {b}");
        }
        if !self.differs.is_empty() {
            s.push('\n');
        }
        let _ = writeln!(
            s,
            "{:<40} {:>14} {:>14} {:>14} {:>9}",
            "metric", "A", "B", "B − A", "change"
        );
        for d in self.deltas.iter().filter(|d| d.delta != 0.0) {
            let _ = writeln!(
                s,
                "{:<40} {:>14} {:>14} {:>14} {:>9}",
                d.metric,
                fmt(d.a),
                fmt(d.b),
                fmt(d.delta),
                d.percent.map_or("-".into(), |p| format!("{p:+.1} %"))
            );
        }
        let same = self.deltas.iter().filter(|d| d.delta == 0.0).count();
        let _ = writeln!(s, "({same} metrics equal in both)");
        s
    }
}

fn fmt(x: f64) -> String {
    if x.abs() >= 1e6 || x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.3}")
    }
}

/// A report's `latency_cdf.csv`: (metric, latency ms, fraction) rows.
fn cdf(dir: &Path) -> anyhow::Result<Vec<(String, f64, f64)>> {
    let path = dir.join("latency_cdf.csv");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split(',');
            let m = f.next()?.to_string();
            let x = f.next()?.parse().ok()?;
            let y = f.next()?.parse().ok()?;
            Some((m, x, y))
        })
        .collect())
}

/// Write `compare.csv` and `latency_cdf_compare.png` into `out`; the files written.
pub fn write(c: &Comparison, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    crate::report::check_dir(out)?;
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    crate::report::mark(out, None)?;
    let mut csv = String::from("metric,a,b,delta,percent\n");
    for d in &c.deltas {
        let _ = writeln!(
            csv,
            "{},{},{},{},{}",
            d.metric,
            d.a,
            d.b,
            d.delta,
            d.percent.map_or(String::new(), |p| format!("{p:.3}"))
        );
    }
    let mut files = vec![out.join("compare.csv")];
    crate::util::write_atomic(&files[0], csv.as_bytes())?;
    let (ca, cb) = (cdf(&c.a.0)?, cdf(&c.b.0)?);
    let folder = |p: &Path| {
        p.file_name().map_or(p.display().to_string(), |n| {
            n.to_string_lossy().into_owned()
        })
    };
    let mut chart = Chart::new(
        format!(
            "{} (A) vs {} (B): latency distributions",
            folder(&c.a.0),
            folder(&c.b.0)
        ),
        "latency (ms, log scale)",
        "fraction of requests at or below",
    );
    chart.x_log = true;
    for metric in ["ttft", "tpot"] {
        for (tag, rows) in [("A", &ca), ("B", &cb)] {
            let points: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| r.0 == metric)
                .map(|r| (r.1, r.2))
                .collect();
            if !points.is_empty() {
                chart.series.push(Series {
                    name: format!("{} {tag}", metric.to_ascii_uppercase()),
                    points,
                    mark: Mark::Line,
                });
            }
        }
    }
    let mut charts = Vec::new();
    if !chart.series.is_empty() {
        let png = out.join("latency_cdf_compare.png");
        render_chart(&chart, &png)?;
        files.push(png);
        charts.push((
            "latency_cdf_compare.png".to_string(),
            "TTFT and TPOT distributions of both runs (from each report's latency_cdf.csv)."
                .to_string(),
            crate::report::png::chart_svg(&chart, &out.join("latency_cdf_compare.png"))?,
            None,
        ));
    }
    let page = crate::report::html::render(&crate::report::html::Page {
        title: format!("Compare: {} (A) vs {} (B)", folder(&c.a.0), folder(&c.b.0)),
        warnings: Vec::new(),
        verdicts: Vec::new(),
        summary: &[],
        sections: vec![("Metrics".to_string(), c.render())],
        charts,
        appendix: Vec::new(),
        tables: vec!["compare.csv".to_string()],
        scenario: (String::new(), String::new()),
    });
    let html = out.join("index.html");
    crate::util::write_atomic(&html, page.as_bytes())?;
    files.push(html);
    let index = format!(
        "# Compare: {} (A) vs {} (B)\n\nA: `{}`\nB: `{}`\n\n```text\n{}```\n\n\
         ![latency_cdf_compare.png](latency_cdf_compare.png)\n\nTTFT and TPOT distributions \
         of both runs (from each report's latency_cdf.csv); every metric in compare.csv.\n",
        c.a.1,
        c.b.1,
        c.a.0.display(),
        c.b.0.display(),
        c.render()
    );
    let readme = out.join("README.md");
    crate::util::write_atomic(&readme, index.as_bytes())?;
    files.push(readme);
    Ok(files)
}
