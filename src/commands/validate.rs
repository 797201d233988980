//! `planner validate`: the cost model against a measured bench file and against every GPU
//! folder of Vidur-format operator profiles.

use crate::bench;
use crate::catalog::Catalog;
use crate::cli::ValidateArgs;
use std::process::ExitCode;

/// Regression bar committed beside a measured file (`<stem>.bar.toml`).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Bar {
    max_median_error: f64,
    max_vidur_a100_median_error: Option<f64>,
}

pub(super) fn run_validate(args: ValidateArgs, catalog: &Catalog) -> anyhow::Result<ExitCode> {
    use crate::fidelity::{ValidateReport, VidurValidation};
    if let Some(dir) = &args.serving {
        return run_serving(dir, &args, catalog);
    }
    if args.measured.is_none() && args.no_vidur {
        anyhow::bail!("nothing to validate: give --measured FILE, or drop --no-vidur");
    }
    let bench = match &args.measured {
        Some(path) => Some(validate_measured(path, args.gpu.as_deref(), catalog)?),
        None => None,
    };
    let vidur = if args.no_vidur {
        VidurValidation::default()
    } else {
        validate_vidur_dir(args.vidur_dir.clone(), catalog)?
    };
    let report = ValidateReport { bench, vidur };
    if report.bench.as_ref().is_some_and(|b| b.rows.is_empty()) {
        anyhow::bail!(
            "{}: no successful measurement to validate",
            args.measured
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string())
        );
    }
    let table = report.render_table();
    if args.json {
        println!(
            "{}",
            crate::util::json_envelope("planner.validate", "validate", &report)
        );
    } else {
        print!("{table}");
    }
    let stem = match &args.measured {
        Some(p) => p
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("measured")
            .to_string(),
        None => "vidur".to_string(),
    };
    let dir = args.out.join(&stem);
    write_validate_report(&report, &table, &args, &dir)?;
    eprintln!("wrote {}", dir.display());
    if args.check {
        return check_bar(&report, &args);
    }
    Ok(ExitCode::SUCCESS)
}

/// A measured bench file against the catalog GPU it names (or `--gpu`).
fn validate_measured(
    path: &std::path::Path,
    gpu: Option<&str>,
    catalog: &Catalog,
) -> anyhow::Result<crate::fidelity::BenchValidation> {
    let file = bench::MeasuredFile::load(path)?;
    let gpu = match gpu {
        Some(name) => catalog.gpu(name)?,
        None => {
            let gpus = catalog.all_gpus();
            crate::fidelity::match_gpu(&file.device.name, file.device.memory_bytes as f64, &gpus)
                .cloned()
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{}: cannot tell which catalog GPU `{}` is; pass --gpu NAME",
                        path.display(),
                        file.device.name
                    )
                })?
        }
    };
    Ok(crate::fidelity::BenchValidation::new(&file, &gpu))
}

/// Every GPU folder of a Vidur-format profile folder, each against its catalog GPU.
fn validate_vidur_dir(
    dir: Option<std::path::PathBuf>,
    catalog: &Catalog,
) -> anyhow::Result<crate::fidelity::VidurValidation> {
    use crate::cost::vidur::{MANIFEST, default_vidur_dir, gpu_folders, load_mlp_rows};
    let dir = dir.unwrap_or_else(default_vidur_dir);
    if !dir.is_dir() {
        anyhow::bail!(
            "{}: no Vidur profiles here (run from the repository root, give --vidur-dir DIR, \
             or --no-vidur to skip them)",
            dir.display()
        );
    }
    let mut gpus = std::collections::BTreeMap::new();
    for (folder, name) in gpu_folders(&dir)? {
        let gpu = catalog.gpu(&name).map_err(|e| {
            anyhow::anyhow!(
                "{}: which catalog GPU is this folder? {e}; map it in {} (`{folder} = \"<gpu>\"`)",
                dir.join(&folder).display(),
                dir.join(MANIFEST).display()
            )
        })?;
        gpus.insert(folder, gpu);
    }
    let rows = load_mlp_rows(&dir)
        .map_err(|e| anyhow::anyhow!("{e} (pass --no-vidur to skip the Vidur profiles)"))?;
    Ok(crate::fidelity::validate_vidur(&rows, &gpus))
}

/// `summary.txt`, `rows.csv`, `fits.csv`, the predicted-vs-measured PNG and an index.
fn write_validate_report(
    report: &crate::fidelity::ValidateReport,
    table: &str,
    args: &ValidateArgs,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    use std::collections::BTreeMap;
    crate::report::check_dir(dir)?;
    crate::util::write_atomic(&dir.join("summary.txt"), table.as_bytes())?;
    crate::report::mark(dir, None)?;
    crate::util::write_atomic(&dir.join("rows.csv"), report.render_rows_csv().as_bytes())?;
    crate::util::write_atomic(&dir.join("fits.csv"), report.render_fits_csv().as_bytes())?;
    let tables = ["summary.txt", "rows.csv", "fits.csv"];
    let Some(bench) = &report.bench else {
        let index = "# planner validate: Vidur operator profiles\n\nCommand: `planner validate`\n\nFitted efficiencies and out-of-sample errors per GPU folder and op: `fits.csv`; the printed summary: `summary.txt`.\n";
        write_index_html(
            dir,
            "planner validate: Vidur operator profiles",
            Vec::new(),
            table,
            None,
            &tables,
        )?;
        return crate::util::write_atomic(&dir.join("README.md"), index.as_bytes());
    };
    let mut by_class: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for r in &bench.rows {
        by_class
            .entry(r.class.as_str())
            .or_default()
            .push((r.measured_us, r.calibrated_us));
    }
    let svg = predicted_vs_measured(
        format!("Predicted vs measured: {} (out of sample)", bench.device),
        ("measured time (µs)", "predicted time (µs)"),
        by_class,
        &dir.join("predicted_vs_measured.png"),
    )?;
    let caption = "Predicted (calibrated, out of sample) against measured time per bench case, log-log, one colour per class; the diagonal is perfect prediction.";
    // The bar committed beside the measured file, when there is one.
    let verdicts = args
        .measured
        .as_ref()
        .map(|m| m.with_extension("bar.toml"))
        .and_then(|p| read_bar::<Bar>(&p).ok())
        .map(|bar| {
            let met = bench.median <= bar.max_median_error;
            vec![(
                met,
                format!(
                    "median |error| {:.2}% {} the bar of {:.2}%",
                    bench.median * 100.0,
                    if met { "≤" } else { ">" },
                    bar.max_median_error * 100.0
                ),
            )]
        })
        .unwrap_or_default();
    write_index_html(
        dir,
        &format!("planner validate: {}", bench.device),
        verdicts,
        table,
        Some((caption, svg)),
        &tables,
    )?;
    let index = format!(
        "# planner validate: {}\n\nCommand: `planner validate --measured {}`\n\n![predicted vs measured](predicted_vs_measured.png)\n\n{caption} Data: `rows.csv`; fitted efficiencies and errors per class (and per Vidur op): `fits.csv`; the printed summary: `summary.txt`.\n",
        bench.device,
        args.measured
            .as_ref()
            .map_or(String::new(), |p| p.display().to_string())
    );
    crate::util::write_atomic(&dir.join("README.md"), index.as_bytes())
}

/// `index.html` of a validate report: the verdicts against the bar, the chart (inline SVG,
/// its PNG linked), the printed table, and links to the tables.
fn write_index_html(
    dir: &std::path::Path,
    title: &str,
    verdicts: Vec<(bool, String)>,
    table: &str,
    chart: Option<(&str, String)>,
    tables: &[&str],
) -> anyhow::Result<()> {
    let page = crate::report::html::render(&crate::report::html::Page {
        title: title.to_string(),
        warnings: Vec::new(),
        verdicts,
        summary: &[],
        sections: Vec::new(),
        charts: chart
            .map(|(caption, svg)| {
                (
                    "predicted_vs_measured.png".to_string(),
                    caption.to_string(),
                    svg,
                    Some("rows.csv".to_string()),
                )
            })
            .into_iter()
            .collect(),
        appendix: vec![("Predicted vs measured".to_string(), table.to_string())],
        tables: tables.iter().map(|t| t.to_string()).collect(),
        scenario: (String::new(), String::new()),
    });
    crate::util::write_atomic(&dir.join("index.html"), page.as_bytes())?;
    Ok(())
}

/// `--check`: the medians against the bar committed beside the measured file.
fn check_bar(
    report: &crate::fidelity::ValidateReport,
    args: &ValidateArgs,
) -> anyhow::Result<ExitCode> {
    let Some(measured) = &args.measured else {
        anyhow::bail!("--check compares with <measured stem>.bar.toml: give --measured FILE");
    };
    let bar_path = measured.with_extension("bar.toml");
    let bar: Bar = read_bar(&bar_path)?;
    let mut failed = false;
    let bench_median = report.bench.as_ref().map_or(f64::NAN, |b| b.median);
    if bench_median.is_nan() || bench_median > bar.max_median_error {
        eprintln!(
            "regression: median |error| {:.2}% exceeds the bar {:.2}% ({})",
            bench_median * 100.0,
            bar.max_median_error * 100.0,
            bar_path.display()
        );
        failed = true;
    }
    let reference = crate::fidelity::REFERENCE_FOLDER;
    if let Some(v) = bar.max_vidur_a100_median_error
        && !args.no_vidur
    {
        let m = report
            .vidur
            .medians
            .get(reference)
            .copied()
            .unwrap_or(f64::NAN);
        if m.is_nan() || m > v {
            eprintln!(
                "regression: Vidur {reference} median |error| {:.2}% exceeds the bar {:.2}% ({})",
                m * 100.0,
                v * 100.0,
                bar_path.display()
            );
            failed = true;
        }
    }
    if failed {
        return Ok(ExitCode::from(1));
    }
    eprintln!("within the bar of {}", bar_path.display());
    Ok(ExitCode::SUCCESS)
}

/// `--serving`: measured serving runs replayed; table, `rows.csv` and a predicted-vs-measured
/// chart in `<out>/serving/`.
fn run_serving(
    dir: &std::path::Path,
    args: &ValidateArgs,
    catalog: &Catalog,
) -> anyhow::Result<ExitCode> {
    let rows = crate::serving_runs::validate_serving(dir, catalog)?;
    let table = crate::serving_runs::render(&rows);
    if args.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            /// Every compared figure (`error` = predicted / measured − 1).
            rows: Vec<serde_json::Value>,
            /// Median |error| per metric over the rows not left out.
            median_abs_error: std::collections::BTreeMap<&'a str, f64>,
        }
        let out = Out {
            rows: rows
                .iter()
                .map(|r| {
                    let mut v = serde_json::to_value(r).unwrap_or_default();
                    v["error"] = r.error().into();
                    v
                })
                .collect(),
            median_abs_error: crate::serving_runs::METRICS
                .iter()
                .map(|&m| (m, crate::serving_runs::median_error(&rows, m)))
                .filter(|(_, e)| e.is_finite())
                .collect(),
        };
        println!(
            "{}",
            crate::util::json_envelope("planner.validate.serving", "serving", &out)
        );
    } else {
        print!("{table}");
    }
    let out = args.out.join("serving");
    crate::report::check_dir(&out)?;
    crate::util::write_atomic(&out.join("summary.txt"), table.as_bytes())?;
    crate::report::mark(&out, None)?;
    crate::util::write_atomic(
        &out.join("rows.csv"),
        crate::serving_runs::render_csv(&rows).as_bytes(),
    )?;
    let left_out = "left out (overloaded, or another definition)";
    let by_metric = crate::serving_runs::METRICS
        .iter()
        .map(|&m| (m, false))
        .chain([(left_out, true)])
        .map(|(m, out)| {
            let points = rows
                .iter()
                .filter(|r| r.overloaded == out && (out || r.metric == m))
                .map(|r| (r.measured, r.predicted))
                .collect();
            (m, points)
        });
    let svg = predicted_vs_measured(
        "Measured serving runs: predicted / measured".to_string(),
        ("measured", "predicted"),
        by_metric,
        &out.join("predicted_vs_measured.png"),
    )?;
    let caption = "Each measured run replayed by the simulator, one colour per figure (log-log; the diagonal is perfect prediction); the rows left out of the medians (overloaded runs, a TPOT defined otherwise) as a series of their own.";
    // Each metric's median |error| against the bar committed beside the runs, if any.
    let bar_path = dir.join("bar.toml");
    let bar = read_bar::<crate::serving_runs::ServingBar>(&bar_path);
    let verdicts = bar
        .as_ref()
        .map(|bar| {
            crate::serving_runs::against_bar(&rows, bar)
                .into_iter()
                .map(|(m, e, max, met)| {
                    let op = if met { "≤" } else { ">" };
                    let line = format!(
                        "{m}: median |error| {:.1}% {op} the bar of {:.1}%",
                        e * 100.0,
                        max * 100.0
                    );
                    (met, line)
                })
                .collect()
        })
        .unwrap_or_default();
    write_index_html(
        &out,
        "planner validate --serving",
        verdicts,
        &table,
        Some((caption, svg)),
        &["summary.txt", "rows.csv"],
    )?;
    let index = format!(
        "# planner validate --serving\n\nCommand: `planner validate --serving {}`\n\n![predicted vs measured](predicted_vs_measured.png)\n\n{caption} Data: `rows.csv`; the printed table: `summary.txt`.\n",
        dir.display()
    );
    crate::util::write_atomic(&out.join("README.md"), index.as_bytes())?;
    eprintln!("wrote {}", out.display());
    if args.check {
        let over = crate::serving_runs::over_bar(&rows, &bar?);
        for (metric, median, max) in &over {
            eprintln!(
                "regression: {metric} median |error| {:.1}% exceeds the bar {:.1}% ({})",
                median * 100.0,
                max * 100.0,
                bar_path.display()
            );
        }
        if !over.is_empty() {
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A log-log scatter of (measured, predicted) per named series, with the diagonal, drawn
/// to the PNG `path`; returns the same chart as SVG text. Series with no finite prediction
/// are left out.
fn predicted_vs_measured<'a>(
    title: String,
    (x_label, y_label): (&str, &str),
    series: impl IntoIterator<Item = (&'a str, Vec<(f64, f64)>)>,
    path: &std::path::Path,
) -> anyhow::Result<String> {
    use crate::report::png::{Chart, Mark, Series, chart_svg, render_chart};
    let mut chart = Chart::new(title, x_label, y_label);
    chart.x_log = true;
    chart.y_log = true;
    chart.diagonal = true;
    for (name, points) in series {
        if points.iter().any(|p| p.1.is_finite()) {
            chart.series.push(Series {
                name: name.to_string(),
                points,
                mark: Mark::Points,
            });
        }
    }
    render_chart(&chart, path)?;
    Ok(chart_svg(&chart, path)?)
}

/// A regression bar file, read and parsed; errors name the file.
fn read_bar<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read the regression bar: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}
