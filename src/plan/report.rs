//! A plan's report: the choice (cheapest meeting the target, runners-up, why each other was
//! rejected) as `answer.md`, `plan.csv`, `latency_vs_load` and `cost_vs_capacity` (CSV and
//! PNG) and an index, all renamed into place together.

use super::result::{COLUMNS, ConfigResult, Verdict};
use super::{Answer, PlanSpec, fmt_num};
use crate::report::Staged;
use crate::report::png::{Chart, Mark, RefLine, Series, chart_svg, render_chart};
use crate::report::table::{self, Kind, TableFormat, TableWriter};
use crate::scenario::SloMetric;
use crate::sweep::grid::show;
use anyhow::Context;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The configurations chosen: the cheapest meeting the target on every seed (ties: more
/// capacity, then the lower index), and the next three.
struct Choice {
    chosen: Option<usize>,
    runners_up: Vec<usize>,
}

fn choose(rows: &[ConfigResult]) -> Choice {
    let cost = |r: &ConfigResult| r.usd_per_hour();
    let cap = |r: &ConfigResult| r.capacity();
    let mut meeting: Vec<&ConfigResult> = rows.iter().filter(|r| r.meets()).collect();
    meeting.sort_by(|a, b| {
        cost(a)
            .total_cmp(&cost(b))
            .then(cap(b).total_cmp(&cap(a)))
            .then(a.index.cmp(&b.index))
    });
    Choice {
        chosen: meeting.first().map(|r| r.index),
        runners_up: meeting.iter().skip(1).take(3).map(|r| r.index).collect(),
    }
}

/// Choose, and write the report: plan.csv, latency_vs_load.csv/.png,
/// cost_vs_capacity.csv/.png, answer.md and README.md, all renamed into place together.
pub(super) fn finish(
    spec: &PlanSpec,
    rows: &[ConfigResult],
    dir: &Path,
) -> anyhow::Result<(Vec<PathBuf>, Answer)> {
    let choice = choose(rows);
    let md = answer_md(spec, rows, &choice);
    crate::report::check_dir(dir)?;
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    crate::report::mark(dir, None)?;
    let tables = write_tables(spec, rows, &choice, dir)?;
    let (mut staged, svgs) = write_charts(spec, rows, &choice, dir)?;
    staged.text(dir, "answer.md", &md)?;
    let index = index_md(spec, &staged);
    staged.text(dir, "README.md", &index)?;
    staged.text(
        dir,
        "index.html",
        &html_page(spec, rows, &choice, &md, &index, svgs),
    )?;
    let mut files = table::commit(tables)?;
    files.extend(staged.commit()?);
    Ok((
        files,
        Answer {
            deployment: choice
                .chosen
                .and_then(|c| deployment(spec, &rows[c]))
                .map(|d| (d.fleet, d.command)),
            chosen: choice.chosen,
            runners_up: choice.runners_up,
            text: md,
            rows: rows.to_vec(),
        },
    ))
}

/// `answer.md`: the choice, the runners-up, why each other configuration was rejected, the
/// seeds' and the cost model's uncertainty.
fn answer_md(spec: &PlanSpec, rows: &[ConfigResult], choice: &Choice) -> String {
    let cap = |r: &ConfigResult| r.capacity();
    let (chosen, runners_up) = (choice.chosen, &choice.runners_up);
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
        "{} configurations of `{}`; target {} {unit} within {slos}, with nothing refused \
         (beyond what a tenant's own rate limit or queue cap refuses); seeds {}.\n",
        spec.configs,
        spec.path.display(),
        fmt_num(spec.target),
        spec.seeds
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let line = |r: &ConfigResult| {
        let cells = r.cells();
        format!(
            "| {} | {} | {} | {} | ${} | {} ({}–{}) | {} | {} |",
            r.index,
            r.label,
            cells[0],
            cells[1],
            cells[2],
            cells[5],
            cells[6],
            cells[7],
            if cells[10].is_empty() {
                "-".into()
            } else {
                format!("${}", cells[10])
            },
            if cells[11].is_empty() {
                "-".into()
            } else {
                format!("${}", cells[11])
            },
        )
    };
    let header = format!(
        "| # | configuration | GPUs | replicas | $/hour | capacity of one replica, {unit} (seeds' range) | $ per M output tokens | $ per 1k requests |\n|---|---|---|---|---|---|---|---|"
    );
    match chosen {
        Some(c) => {
            let r = &rows[c];
            let cells = r.cells();
            let fleet = deployment(spec, r);
            let _ = writeln!(
                md,
                "**Chosen:** #{} `{}`: **{}**, {} GPU(s), ${}/hour; {} sustains {} {unit} \
                 within the SLOs, and the fleet was simulated at the target ({} {unit}) and \
                 meets it on every seed.\n",
                r.index,
                r.label,
                fleet.as_ref().map_or("?", |d| d.fleet.as_str()),
                cells[0],
                cells[2],
                if unit_replicas(spec, r) == 1 {
                    "one replica".to_string()
                } else {
                    format!("{} replicas", unit_replicas(spec, r))
                },
                cells[5],
                fmt_num(spec.target)
            );
            if let Some(d) = &fleet {
                let _ = writeln!(md, "Run it with:\n\n```sh\n{}\n```\n", d.command);
                if !d.note.is_empty() {
                    let _ = writeln!(md, "{}\n", d.note);
                }
            }
            let _ = writeln!(md, "{header}\n{}", line(r));
            for &i in runners_up {
                let _ = writeln!(md, "{}", line(&rows[i]));
            }
            let _ = writeln!(md);
        }
        None => {
            // The closest: the highest capacity relative to the target.
            let best = rows
                .iter()
                .filter(|r| r.evaluated().is_some())
                .max_by(|a, b| cap(a).total_cmp(&cap(b)).then(b.index.cmp(&a.index)));
            let _ = match best {
                Some(r) => writeln!(
                    md,
                    "**No configuration meets the target.** Closest: #{} `{}` sustains {} \
                     {unit} of the {} asked ({:.0} %); at the target: {}.\n",
                    r.index,
                    r.label,
                    r.cells()[5],
                    fmt_num(spec.target),
                    100.0 * cap(r) / spec.target,
                    r.reason()
                ),
                None => writeln!(
                    md,
                    "**No configuration is valid**: every one was refused (reasons below).\n"
                ),
            };
        }
    }
    rejected_md(&mut md, rows);
    uncertainty_md(&mut md, spec, rows, choice);
    md
}

/// The replicas a configuration's capacity was searched with: the scenario's when the plan
/// derives the fleet, else the configuration's own.
fn unit_replicas(spec: &PlanSpec, r: &ConfigResult) -> u32 {
    match r.evaluated() {
        Some(e) if !spec.derive_replicas => e.replicas,
        _ => spec.scenario.replicas,
    }
}

/// How to deploy a configuration: the fleet in words and the engine's command line.
struct Deployment {
    /// `4 × (TP4 on H100 SXM 80GB, vllm)`.
    fleet: String,
    /// `vllm serve … --tensor-parallel-size 4 --data-parallel-size 4 …`.
    command: String,
    /// What the command line cannot say (replicas without a data-parallel flag, scenario
    /// keys the engine has no flag for).
    note: String,
}

fn deployment(spec: &PlanSpec, r: &ConfigResult) -> Option<Deployment> {
    let e = r.evaluated()?;
    let table = spec.grid.configure(&spec.base, r.index);
    let text = toml::to_string(&table).ok()?;
    let scn = crate::scenario::Scenario::from_str(&text, &spec.path, &spec.catalog).ok()?;
    let kind = scn.engine.kind;
    let model = spec
        .catalog
        .hf_repo(&scn.model.name)
        .unwrap_or_else(|| scn.model.name.clone());
    let (command, unmapped) =
        crate::engine_cli::command_line(kind, &model, &table, Some(e.replicas));
    let mut note = String::new();
    if e.replicas > 1 && !crate::engine_cli::has_data_parallel(kind) {
        note = format!(
            "{} has no data-parallel flag: start {} such servers, {} GPU(s) each, behind a \
             load balancer (the simulation routes {}). ",
            kind,
            e.replicas,
            scn.tp,
            scn.router.name()
        );
    }
    if !unmapped.is_empty() {
        let _ = write!(
            note,
            "Scenario keys {} has no flag for (simulated as set): {}.",
            kind,
            unmapped
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Some(Deployment {
        fleet: format!(
            "{} × (TP{} on {}, {})",
            e.replicas, scn.tp, scn.gpu.display_name, kind
        ),
        command,
        note: note.trim_end().to_string(),
    })
}

/// The rejected configurations and why.
fn rejected_md(md: &mut String, rows: &[ConfigResult]) {
    let rejected: Vec<&ConfigResult> = rows.iter().filter(|r| !r.meets()).collect();
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
                match r.evaluated() {
                    None => "-".into(),
                    Some(_) => format!("${}", r.cells()[2]),
                },
                r.reason().replace('|', "/")
            );
        }
        let _ = writeln!(md);
    }
}

/// How far the answer holds: the seeds' spread, the cost model's error band, the prices.
fn uncertainty_md(md: &mut String, spec: &PlanSpec, rows: &[ConfigResult], choice: &Choice) {
    let chosen = choice.chosen;
    let flips = rows
        .iter()
        .filter(|r| r.evaluated().is_some_and(|e| e.verdict == Verdict::Flips))
        .count();
    if flips > 0 || spec.seeds.len() > 1 {
        let _ = writeln!(
            md,
            "Uncertainty: capacities are the median over {} seed(s), with the range; {flips} \
             configuration(s) meet the target on some seeds only (marked `flips`, not chosen).{}\n",
            spec.seeds.len(),
            match chosen {
                Some(c)
                    if rows[c]
                        .evaluated()
                        .is_some_and(|e| e.capacity.min < spec.target * 1.1) =>
                    " The chosen configuration's lowest capacity is within 10 % of the target: the choice is close.",
                _ => "",
            }
        );
    }
    if let Some(e) = spec.cost_model_error {
        let banded: Vec<&ConfigResult> = rows.iter().filter(|r| r.band_flips()).collect();
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
                Some(c) if rows[c].band_flips() => {
                    " **The chosen configuration is one of them: within the model's error it \
                     may miss the target; consider the runner-up or measure.**"
                }
                Some(_) => " The chosen configuration's verdict holds across the band.",
                None => "",
            }
        );
    }
    let mut prices: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.evaluated().map(|e| e.price.as_str()))
        .filter(|p| !p.is_empty())
        .collect();
    prices.sort_unstable();
    prices.dedup();
    let _ = writeln!(
        md,
        "Prices used (override with `--price GPU=USD`, `--prices FILE` or \
         `hardware.usd_per_hour`):\n"
    );
    for p in prices {
        let _ = writeln!(md, "- {p}");
    }
}

/// Whether `r` is on the Pareto front of `valid` (no other is both cheaper or as cheap and of
/// more or as much capacity).
fn on_front(valid: &[&ConfigResult], r: &ConfigResult) -> bool {
    let cost = |r: &ConfigResult| r.usd_per_hour();
    let cap = |r: &ConfigResult| r.capacity();
    !valid.iter().any(|o| {
        o.index != r.index
            && cost(o) <= cost(r)
            && cap(o) >= cap(r)
            && (cost(o) < cost(r) || cap(o) > cap(r))
    })
}

/// `plan.csv`, `latency_vs_load.csv` and `cost_vs_capacity.csv`, under temporary names.
fn write_tables(
    spec: &PlanSpec,
    rows: &[ConfigResult],
    choice: &Choice,
    dir: &Path,
) -> anyhow::Result<Vec<table::Finished>> {
    let cost = |r: &ConfigResult| r.usd_per_hour();
    let cap = |r: &ConfigResult| r.capacity();
    let chosen = choice.chosen;
    let mut cols: Vec<(&str, Kind)> = vec![("index", Kind::U64), ("config", Kind::Str)];
    cols.extend(spec.grid.axes.iter().map(|a| (a.key.as_str(), Kind::Str)));
    cols.extend(COLUMNS.iter().map(|&c| (c, Kind::Str)));
    let mut t = TableWriter::create(dir, "plan", TableFormat::Csv, &cols)?;
    for r in rows {
        t.u64(0, r.index as u64);
        t.str(1, &r.label);
        for (k, v) in spec.values(r.index).into_iter().enumerate() {
            t.str(2 + k, &show(v));
        }
        for (k, c) in r.cells().iter().enumerate() {
            t.str(2 + spec.grid.axes.len() + k, c);
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
    let valid: Vec<&ConfigResult> = rows.iter().filter(|r| r.evaluated().is_some()).collect();
    let on_front = |r: &ConfigResult| on_front(&valid, r);
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
        t.str(3, &r.cells()[3]);
        t.str(4, if on_front(r) { "yes" } else { "no" });
        t.str(5, if Some(r.index) == chosen { "yes" } else { "no" });
        t.end_row()?;
    }
    let pareto_csv = t.finish()?;
    Ok(vec![plan_csv, curves_csv, pareto_csv])
}

/// The two charts, under temporary names.
fn write_charts(
    spec: &PlanSpec,
    rows: &[ConfigResult],
    choice: &Choice,
    dir: &Path,
) -> anyhow::Result<(Staged, Vec<(&'static str, String)>)> {
    let mut svgs = Vec::new();
    let cost = |r: &ConfigResult| r.usd_per_hour();
    let cap = |r: &ConfigResult| r.capacity();
    let (chosen, runners_up) = (choice.chosen, &choice.runners_up);
    let unit = spec.load_unit();
    let valid: Vec<&ConfigResult> = rows.iter().filter(|r| r.evaluated().is_some()).collect();
    let on_front = |r: &ConfigResult| on_front(&valid, r);
    // Charts, under temporary names until everything is written.
    let mut staged = Staged::default();
    // Latency against load, TTFT and TPOT each with its SLO, for the chosen configuration,
    // the runners-up and the closest rejected ones.
    let mut shown: Vec<usize> = chosen
        .into_iter()
        .chain(runners_up.iter().copied())
        .collect();
    let mut others: Vec<&ConfigResult> = rows
        .iter()
        .filter(|r| !r.meets() && !r.points.is_empty())
        .collect();
    others.sort_by(|a, b| cap(b).total_cmp(&cap(a)).then(a.index.cmp(&b.index)));
    shown.extend(
        others
            .iter()
            .take(8usize.saturating_sub(shown.len()))
            .map(|r| r.index),
    );
    for (metric, file) in [
        (SloMetric::Ttft, "latency_vs_load.png"),
        (SloMetric::Tpot, "tpot_vs_load.png"),
    ] {
        let name = metric.name().to_ascii_uppercase();
        let mut chart = Chart::new(
            format!(
                "{}: {name} p90 vs load of one replica (chosen, runners-up, closest rejected)",
                spec.scenario.name
            ),
            format!("load on one replica ({unit})"),
            format!("{name} p90 (ms)"),
        );
        chart.y_log = true;
        // Room below the legend's rows.
        chart.height = 650 + 28 * shown.len() as u32;
        for &i in &shown {
            let r = &rows[i];
            let mut pts: Vec<(f64, f64)> = r
                .points
                .iter()
                .map(|p| {
                    let y = if metric == SloMetric::Ttft {
                        p.ttft_p90_ms
                    } else {
                        p.tpot_p90_ms
                    };
                    (p.load, y)
                })
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let tag = if Some(i) == chosen { " (chosen)" } else { "" };
            let fleet = r
                .evaluated()
                .filter(|e| e.replicas > 1)
                .map_or(String::new(), |e| format!("{}× ", e.replicas));
            chart.series.push(Series {
                name: format!(
                    "#{i}{tag} {fleet}{} ${}/h",
                    spec.grid.short_label(i),
                    r.cells()[2]
                ),
                points: pts,
                mark: Mark::LinePoints,
            });
        }
        if let Some(t) = spec
            .scenario
            .slo
            .targets
            .iter()
            .find(|t| t.metric == metric && t.tenant.is_none())
        {
            chart.ref_lines.push(RefLine {
                label: format!("{name} p{} SLO {} ms", t.percentile as u32, t.limit_ms),
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
            render_chart(&chart, &staged.path(dir, file))?;
            svgs.push((file, chart_svg(&chart, &dir.join(file))?));
        }
    }
    let mut chart = Chart::new(
        format!("{}: cost vs capacity within the SLOs", spec.scenario.name),
        format!("capacity within the SLOs ({unit})"),
        "cost ($/hour)",
    );
    let pts = |f: &dyn Fn(&ConfigResult) -> bool| -> Vec<(f64, f64)> {
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
        svgs.push((
            "cost_vs_capacity.png",
            chart_svg(&chart, &dir.join("cost_vs_capacity.png"))?,
        ));
    }
    Ok((staged, svgs))
}

/// `index.html`: the answer first (the chosen fleet and its command, or that none meets the
/// target), the charts as SVG, answer.md in full, the tables and the scenario.
fn html_page(
    spec: &PlanSpec,
    rows: &[ConfigResult],
    choice: &Choice,
    answer_md: &str,
    captions: &str,
    svgs: Vec<(&'static str, String)>,
) -> String {
    let verdicts = match choice.chosen.map(|c| (c, deployment(spec, &rows[c]))) {
        Some((c, Some(d))) => vec![
            (
                true,
                format!(
                    "#{c}: {} at ${}/hour meets {} {} within the SLOs",
                    d.fleet,
                    rows[c].cells()[2],
                    fmt_num(spec.target),
                    spec.load_unit()
                ),
            ),
            (true, format!("run it with: {}", d.command)),
        ],
        Some((c, None)) => vec![(true, format!("#{c} meets the target"))],
        None => vec![(false, "no configuration meets the target".to_string())],
    };
    let charts = svgs
        .into_iter()
        .map(|(png, svg)| {
            let caption = captions
                .split(&format!("![{png}]({png})"))
                .nth(1)
                .and_then(|rest| rest.trim_start().lines().next())
                .unwrap_or("")
                .to_string();
            let data = match png {
                "cost_vs_capacity.png" => "cost_vs_capacity.csv",
                _ => "latency_vs_load.csv",
            };
            (png.to_string(), caption, svg, Some(data.to_string()))
        })
        .collect();
    crate::report::html::render(&crate::report::html::Page {
        title: format!("Plan report: {}", spec.scenario.name),
        warnings: Vec::new(),
        verdicts,
        summary: &[],
        sections: vec![("answer.md".to_string(), answer_md.to_string())],
        charts,
        appendix: Vec::new(),
        tables: [
            "answer.md",
            "plan.csv",
            "latency_vs_load.csv",
            "cost_vs_capacity.csv",
        ]
        .map(String::from)
        .to_vec(),
        scenario: (
            spec.path.display().to_string(),
            std::fs::read_to_string(&spec.path).unwrap_or_default(),
        ),
    })
}

/// The report's index.
fn index_md(spec: &PlanSpec, staged: &Staged) -> String {
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
    for name in [
        "latency_vs_load.png",
        "tpot_vs_load.png",
        "cost_vs_capacity.png",
    ] {
        if !staged.has(name) {
            continue;
        }
        let caption = if name.starts_with("latency") {
            "TTFT p90 against the load on one replica for the chosen configuration, the runners-up and the closest rejected ones (legend: index, fleet, configuration, price), with the SLO and the target; data in latency_vs_load.csv (every simulated point of every configuration)."
        } else if name.starts_with("tpot") {
            "TPOT p90 against the load on one replica, the same configurations, with the TPOT SLO: a configuration rejected on TPOT sits under the TTFT line but over this one; data in latency_vs_load.csv."
        } else {
            "Cost per hour against the load each configuration sustains within the SLOs; the Pareto front joined, the chosen point marked; data in cost_vs_capacity.csv."
        };
        let _ = writeln!(index, "\n![{name}]({name})\n\n{caption}");
    }
    index
}
