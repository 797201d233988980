//! The charts of a `simulate` report, each with the CSV of exactly what it shows, and the
//! report folder's index (`README.md`, one line of caption per chart):
//!
//! - `latency_cdf.png`: TTFT and TPOT distributions (CDFs, log latency axis), SLO lines;
//! - `tenant_latency_cdf.png` (several tenants): each tenant's TTFT and TPOT CDFs in one
//!   chart, with the per-tenant table in the index;
//! - `kv_blocks_over_time.png`: KV blocks in use per replica over the run, the pool size;
//! - `batch_size_over_time.png`: sequences per iteration over the run;
//! - `prefix_hit_rate.png`: the prefix-cache hit rate by tenant (with caching on);
//! - `memory.png`: one GPU's memory: weights, activations, runtime reserve, KV cache, and
//!   what `gpu_memory_utilization` leaves unused.
//!
//! Charts are drawn under temporary names and renamed by the caller with the tables, so a
//! failed run leaves no half report.

use super::Staged;
use super::png::{
    BarChart, Chart, Mark, RefLine, Series, bars_svg, chart_svg, render_bars, render_chart,
};
use super::table::{Finished, Kind, TableFormat, TableWriter};
use crate::kv::Budget;
use crate::metrics::timeline::Timeline;
use std::fmt::Write as _;
use std::path::Path;

/// What the charts of one run show.
pub struct SimCharts<'a> {
    /// Scenario name (titles).
    pub name: &'a str,
    /// TTFT of finished requests, seconds, sorted ascending.
    pub ttft_s: &'a [f32],
    /// TPOT of finished requests with more than one output token, seconds, sorted.
    pub tpot_s: &'a [f32],
    /// SLO lines: (label, milliseconds, on the TTFT axis?).
    pub slo_lines: Vec<(String, f64)>,
    /// Batch size and KV blocks over time.
    pub timeline: &'a Timeline,
    /// KV blocks per replica (the pool).
    pub kv_blocks: u32,
    /// Per tenant: (name, prompt tokens admitted, tokens found cached); empty when prefix
    /// caching is off.
    pub tenants: Vec<(String, u64, u64)>,
    /// One GPU's memory budget.
    pub budget: &'a Budget,
    /// "GPU name, TP n".
    pub gpu: String,
    /// The format of the summary, requests and iterations tables (the index names them).
    pub tables: TableFormat,
    /// Which tables the report has.
    pub written: crate::report::run_tables::Tables,
    /// Per tenant (when there are several): name, sorted TTFT and TPOT samples, seconds.
    pub tenant_latency: Vec<(&'a str, &'a [f32], &'a [f32])>,
    /// Per tenant: the summary's figures (the index's table).
    pub tenant_summary: &'a [crate::metrics::summary::TenantSummary],
    /// Per-tenant SLO lines: (tenant, label, milliseconds).
    pub tenant_slo_lines: Vec<(String, String, f64)>,
    /// Comparisons of the same traffic (markdown for the index): under each tenant
    /// scheduling, with 1, 8 and 64 LoRA adapters; empty when none applies.
    pub comparisons: String,
    /// The summary's rows (key, value), as `summary.csv` has them (for `index.html`).
    pub summary_rows: Vec<(String, String)>,
    /// What would mislead a reader (tag, sentence): overload, clamped lengths.
    pub warnings: Vec<(String, String)>,
    /// The SLO verdicts (met?, line).
    pub verdicts: Vec<(bool, String)>,
    /// The scenario file's name and text (for `index.html`).
    pub scenario: (String, String),
}

/// Points of a sorted sample's CDF, at most `n` of them (evenly spaced in rank).
fn cdf(sorted: &[f32], n: usize) -> Vec<(f64, f64)> {
    if sorted.is_empty() {
        return Vec::new();
    }
    let len = sorted.len();
    let k = n.min(len);
    (0..k)
        .map(|j| {
            let i = if k == 1 {
                len - 1
            } else {
                j * (len - 1) / (k - 1)
            };
            (sorted[i] as f64 * 1e3, (i + 1) as f64 / len as f64)
        })
        .collect()
}

/// What the charts write: the tables (finished, not yet committed), the staged PNGs and the
/// index's captions.
#[derive(Default)]
struct Out {
    tables: Vec<Finished>,
    staged: Staged,
    captions: Vec<(&'static str, String)>,
    /// Each chart as SVG, by PNG name (for `index.html`).
    svgs: Vec<(&'static str, String)>,
}

impl Out {
    /// Draw a chart as a staged PNG and as SVG for the HTML page.
    fn chart(&mut self, dir: &Path, name: &'static str, ch: &Chart) -> anyhow::Result<()> {
        render_chart(ch, &self.staged.path(dir, name))?;
        self.svgs.push((name, chart_svg(ch, &dir.join(name))?));
        Ok(())
    }

    /// Draw a bar chart as a staged PNG and as SVG for the HTML page.
    fn bars(&mut self, dir: &Path, name: &'static str, ch: &BarChart) -> anyhow::Result<()> {
        render_bars(ch, &self.staged.path(dir, name))?;
        self.svgs.push((name, bars_svg(ch, &dir.join(name))?));
        Ok(())
    }
}

/// Write the charts' CSV tables (finished, not yet committed) and draw the PNGs under
/// temporary names. Returns the tables and the (temporary, final) paths of the PNGs and
/// the index, to rename once the tables are committed.
pub fn write(dir: &Path, c: &SimCharts) -> anyhow::Result<(Vec<Finished>, Staged)> {
    let mut out = Out::default();
    latency_cdfs(dir, c, &mut out)?;
    tenant_cdfs(dir, c, &mut out)?;
    over_time(dir, c, &mut out)?;
    prefix_hit_rate(dir, c, &mut out)?;
    memory(dir, c, &mut out)?;
    let (tables, mut staged, captions, svgs) = (out.tables, out.staged, out.captions, out.svgs);

    let mut index = String::new();
    let _ = writeln!(index, "# Simulation report: {}\n", c.name);
    for (tag, text) in &c.warnings {
        let _ = writeln!(index, "- **{tag}**: {text}");
    }
    for (ok, line) in &c.verdicts {
        let mark = if *ok { "met" } else { "**not met**" };
        let _ = writeln!(index, "- SLO {line}: {mark}");
    }
    if !c.verdicts.is_empty() || !c.warnings.is_empty() {
        let _ = writeln!(index);
    }
    let ext = c.tables.ext();
    use crate::report::run_tables::Tables;
    if c.written != Tables::None {
        let _ = writeln!(
            index,
            "- `summary.{ext}`: every metric of the run (latency percentiles, throughput, \
             goodput, SLOs, KV and prefix-cache use)."
        );
    }
    match c.written {
        Tables::All => {
            let _ = writeln!(
                index,
                "- `requests.{ext}`: one row per request; `iterations.{ext}`: one row per \
                 engine iteration."
            );
        }
        _ => {
            let _ = writeln!(
                index,
                "- No per-request or per-iteration tables (`--tables all` writes them)."
            );
        }
    }
    index.push_str(&tenant_table(c));
    index.push_str(&c.comparisons);
    for (name, caption) in &captions {
        let _ = writeln!(index, "\n![{name}]({name})\n\n{caption}");
    }
    let _ = writeln!(
        index,
        "\nThe same report as one page, charts as SVG: [index.html](index.html)."
    );
    staged.text(dir, "README.md", &index)?;
    staged.text(dir, "index.html", &html_page(c, &tables, &captions, svgs))?;
    Ok((tables, staged))
}

/// The tenants' figures as a markdown table (the index's; the HTML page shows it as text);
/// empty with one tenant.
fn tenant_table(c: &SimCharts) -> String {
    let mut t = String::new();
    if c.tenant_summary.is_empty() {
        return t;
    }
    let _ = writeln!(
        t,
        "\n| tenant | finished | refused (by its limits) | TTFT p50 / p90 ms | TPOT p50 / p90 ms | prefix hit rate | cached blocks lost to others |\n|---|---|---|---|---|---|---|"
    );
    for s in c.tenant_summary {
        let _ = writeln!(
            t,
            "| {} | {} | {} ({}) | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} % | {} |",
            s.name,
            s.requests,
            s.rejected,
            s.limited,
            s.ttft.p50 * 1e3,
            s.ttft.p90 * 1e3,
            s.tpot.p50 * 1e3,
            s.tpot.p90 * 1e3,
            s.prefix_hit_rate * 100.0,
            s.prefix_blocks_lost
        );
    }
    t
}

/// `index.html`: the verdicts, the charts (SVG) with their captions and links, the tenants'
/// table and comparisons, the summary, the tables and the scenario.
fn html_page(
    c: &SimCharts,
    tables: &[Finished],
    captions: &[(&'static str, String)],
    svgs: Vec<(&'static str, String)>,
) -> String {
    use crate::report::run_tables::Tables;
    let ext = c.tables.ext();
    let mut files: Vec<String> = Vec::new();
    if c.written != Tables::None {
        files.push(format!("summary.{ext}"));
    }
    if c.written == Tables::All {
        files.push(format!("requests.{ext}"));
        files.push(format!("iterations.{ext}"));
    }
    let chart_tables: Vec<String> = tables
        .iter()
        .filter_map(|t| t.file_name().map(str::to_string))
        .collect();
    files.extend(chart_tables.iter().cloned());
    let charts = svgs
        .into_iter()
        .map(|(png, svg)| {
            let caption = captions
                .iter()
                .find(|(n, _)| *n == png)
                .map_or(String::new(), |(_, c)| c.clone());
            let stem = png.trim_end_matches(".png");
            let data = chart_tables
                .iter()
                .find(|t| t.rsplit_once('.').map(|(s, _)| s) == Some(stem))
                .cloned();
            (png.to_string(), caption, svg, data)
        })
        .collect();
    let mut sections = Vec::new();
    if !c.tenant_summary.is_empty() {
        sections.push(("Tenants".to_string(), tenant_table(c)));
    }
    if !c.comparisons.trim().is_empty() {
        sections.push(("Comparisons".to_string(), c.comparisons.clone()));
    }
    crate::report::html::render(&crate::report::html::Page {
        title: format!("Simulation report: {}", c.name),
        warnings: c.warnings.clone(),
        verdicts: c.verdicts.clone(),
        summary: &c.summary_rows,
        sections,
        charts,
        appendix: Vec::new(),
        tables: files,
        scenario: c.scenario.clone(),
    })
}

/// TTFT and TPOT CDFs with the SLO lines.
fn latency_cdfs(dir: &Path, c: &SimCharts, out: &mut Out) -> anyhow::Result<()> {
    // Latency CDFs.
    let ttft = cdf(c.ttft_s, 400);
    let tpot = cdf(c.tpot_s, 400);
    let mut t = TableWriter::create(
        dir,
        "latency_cdf",
        TableFormat::Csv,
        &[
            ("metric", Kind::Str),
            ("latency_ms", Kind::F64),
            ("fraction", Kind::F64),
        ],
    )?;
    for (m, pts) in [("ttft", &ttft), ("tpot", &tpot)] {
        for &(x, y) in pts.iter() {
            t.str(0, m);
            t.f64(1, Some(x));
            t.f64(2, Some(y));
            t.end_row()?;
        }
    }
    out.tables.push(t.finish()?);
    if !ttft.is_empty() {
        let mut ch = Chart::new(
            format!("{}: latency distributions (finished requests)", c.name),
            "latency (ms, log scale)",
            "fraction of requests at or below",
        );
        ch.x_log = true;
        ch.series.push(Series {
            name: "TTFT".into(),
            points: ttft,
            mark: Mark::Line,
        });
        ch.series.push(Series {
            name: "TPOT".into(),
            points: tpot,
            mark: Mark::Line,
        });
        for (label, ms) in &c.slo_lines {
            ch.ref_lines.push(RefLine {
                label: label.clone(),
                value: *ms,
                horizontal: false,
            });
        }
        out.chart(dir, "latency_cdf.png", &ch)?;
        out.captions.push((
            "latency_cdf.png",
            "TTFT and TPOT distributions of the finished requests, with the SLO limits; \
             data: latency_cdf.csv."
                .into(),
        ));
    }

    Ok(())
}

/// Each tenant's TTFT and TPOT CDFs in one chart, with the tenants' own SLO lines.
fn tenant_cdfs(dir: &Path, c: &SimCharts, out: &mut Out) -> anyhow::Result<()> {
    if c.tenant_latency.len() < 2 {
        return Ok(());
    }
    let mut t = TableWriter::create(
        dir,
        "tenant_latency_cdf",
        TableFormat::Csv,
        &[
            ("tenant", Kind::Str),
            ("metric", Kind::Str),
            ("latency_ms", Kind::F64),
            ("fraction", Kind::F64),
        ],
    )?;
    let mut ch = Chart::new(
        format!("{}: latency by tenant (finished requests)", c.name),
        "latency (ms, log scale)",
        "fraction of the tenant's requests at or below",
    );
    ch.x_log = true;
    for &(name, ttft, tpot) in &c.tenant_latency {
        for (m, samples) in [("TTFT", ttft), ("TPOT", tpot)] {
            let pts = cdf(samples, 300);
            for &(x, y) in &pts {
                t.str(0, name);
                t.str(1, &m.to_lowercase());
                t.f64(2, Some(x));
                t.f64(3, Some(y));
                t.end_row()?;
            }
            ch.series.push(Series {
                name: format!("{name} {m}"),
                points: pts,
                mark: Mark::Line,
            });
        }
    }
    for (tenant, label, ms) in &c.tenant_slo_lines {
        ch.ref_lines.push(RefLine {
            label: format!("{tenant} {label}"),
            value: *ms,
            horizontal: false,
        });
    }
    out.tables.push(t.finish()?);
    out.chart(dir, "tenant_latency_cdf.png", &ch)?;
    out.captions.push((
        "tenant_latency_cdf.png",
        "Each tenant's TTFT and TPOT distributions, with the tenants' own SLO limits; data: \
         tenant_latency_cdf.csv."
            .into(),
    ));
    Ok(())
}

/// KV blocks and batch size over the run.
fn over_time(dir: &Path, c: &SimCharts, out: &mut Out) -> anyhow::Result<()> {
    // Over time.
    let pts = c.timeline.points();
    let mut t = TableWriter::create(
        dir,
        "kv_blocks_over_time",
        TableFormat::Csv,
        &[("time_s", Kind::F64), ("mean_kv_blocks_used", Kind::F64)],
    )?;
    let mut b = TableWriter::create(
        dir,
        "batch_size_over_time",
        TableFormat::Csv,
        &[("time_s", Kind::F64), ("mean_batch_size", Kind::F64)],
    )?;
    for &(s, batch, blocks) in &pts {
        t.f64(0, Some(s));
        t.f64(1, Some(blocks));
        t.end_row()?;
        b.f64(0, Some(s));
        b.f64(1, Some(batch));
        b.end_row()?;
    }
    out.tables.push(t.finish()?);
    out.tables.push(b.finish()?);
    if !pts.is_empty() {
        let mut ch = Chart::new(
            format!("{}: KV cache blocks in use (per replica)", c.name),
            "time (s)",
            "KV blocks in use (mean per iteration)",
        );
        ch.series.push(Series {
            name: "blocks in use".into(),
            points: pts.iter().map(|p| (p.0, p.2)).collect(),
            mark: Mark::Line,
        });
        ch.ref_lines.push(RefLine {
            label: format!("pool: {} blocks", c.kv_blocks),
            value: c.kv_blocks as f64,
            horizontal: true,
        });
        out.chart(dir, "kv_blocks_over_time.png", &ch)?;
        out.captions.push((
            "kv_blocks_over_time.png",
            "KV blocks held by running sequences and the prefix cache's in-use blocks, \
             averaged per time bucket, against the pool; data: kv_blocks_over_time.csv."
                .into(),
        ));
        let mut ch = Chart::new(
            format!("{}: batch size over time", c.name),
            "time (s)",
            "sequences per iteration (mean)",
        );
        ch.series.push(Series {
            name: "batch size".into(),
            points: pts.iter().map(|p| (p.0, p.1)).collect(),
            mark: Mark::Line,
        });
        out.chart(dir, "batch_size_over_time.png", &ch)?;
        out.captions.push((
            "batch_size_over_time.png",
            "Sequences per engine iteration, averaged per time bucket; data: \
             batch_size_over_time.csv."
                .into(),
        ));
    }

    Ok(())
}

/// The prefix-cache hit rate by tenant.
fn prefix_hit_rate(dir: &Path, c: &SimCharts, out: &mut Out) -> anyhow::Result<()> {
    // Prefix-cache hit rate by tenant (when anything was hit: a chart of zeros says
    // nothing the summary does not).
    if c.tenants.iter().any(|t| t.2 > 0) {
        let mut t = TableWriter::create(
            dir,
            "prefix_hit_rate",
            TableFormat::Csv,
            &[
                ("tenant", Kind::Str),
                ("prompt_tokens", Kind::U64),
                ("cached_tokens", Kind::U64),
                ("hit_rate", Kind::F64),
            ],
        )?;
        let mut bars = BarChart::new(
            format!("{}: prefix-cache hit rate by tenant (by tokens)", c.name),
            "prompt tokens found cached (%)",
        );
        let mut hits = Vec::new();
        for (name, prompt, cached) in &c.tenants {
            let rate = *cached as f64 / (*prompt).max(1) as f64;
            t.str(0, name);
            t.u64(1, *prompt);
            t.u64(2, *cached);
            t.f64(3, Some(rate));
            t.end_row()?;
            bars.categories.push(name.clone());
            hits.push(100.0 * rate);
        }
        out.tables.push(t.finish()?);
        bars.stacks.push(("hit rate".into(), hits));
        out.bars(dir, "prefix_hit_rate.png", &bars)?;
        out.captions.push((
            "prefix_hit_rate.png",
            "Share of each tenant's prompt tokens found in the prefix cache at \
             admission; data: prefix_hit_rate.csv."
                .into(),
        ));
    }

    Ok(())
}

/// One GPU's memory.
fn memory(dir: &Path, c: &SimCharts, out: &mut Out) -> anyhow::Result<()> {
    // Memory.
    let gib = |b: f64| b / (1u64 << 30) as f64;
    let m = c.budget;
    let parts = [
        ("weights", m.weights),
        ("activations (profiling peak)", m.activations),
        ("runtime reserve", m.reserve),
        ("KV cache", m.kv.max(0.0)),
        (
            "left by gpu_memory_utilization",
            (m.memory - m.usable).max(0.0),
        ),
    ];
    let mut t = TableWriter::create(
        dir,
        "memory",
        TableFormat::Csv,
        &[("component", Kind::Str), ("gib", Kind::F64)],
    )?;
    let mut bars = BarChart::new(
        format!("{}: memory of one GPU ({})", c.name, c.gpu),
        "memory (GiB)",
    );
    bars.categories.push(c.gpu.clone());
    for (name, bytes) in parts {
        t.str(0, name);
        t.f64(1, Some(gib(bytes)));
        t.end_row()?;
        // The legend carries each part's size.
        bars.stacks
            .push((format!("{name}: {:.2} GiB", gib(bytes)), vec![gib(bytes)]));
    }
    out.tables.push(t.finish()?);
    out.bars(dir, "memory.png", &bars)?;
    out.captions.push((
        "memory.png",
        format!(
            "One GPU's {:.1} GiB: weights, the activation peak, the runtime reserve, the \
             KV cache ({} blocks), and what gpu_memory_utilization keeps free; data: \
             memory.csv.",
            gib(m.memory),
            m.blocks
        ),
    ));
    Ok(())
}
