//! `planner` binary: parse the command line, run, map errors to exit codes
//! (2 = usage or input error, 1 = a result that does not fit / a failed check).

use clap::Parser;
use planner::bench::{self, Backend, Suite};
use planner::catalog::Catalog;
use planner::cli::{
    BackendKind, BenchArgs, Cli, Command, Format, MergeArgs, PlanArgs, SimulateArgs, SizeArgs,
    SpeculateArgs, ValidateArgs,
};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse_from(planner::cli::normalize_args(std::env::args()));
    let result = Catalog::from_flags(cli.models_dir, cli.hardware_dir)
        .map_err(anyhow::Error::from)
        .and_then(|catalog| match cli.command {
            Command::Bench(args) => run_bench(args),
            Command::Simulate(args) => run_simulate(args, &catalog),
            Command::Speculate(args) => run_speculate(args, &catalog),
            Command::Plan(args) => run_plan(args, &catalog),
            Command::Merge(args) => run_merge(args, &catalog),
            Command::Size(args) => run_size(args, &catalog),
            Command::Validate(args) => run_validate(args, &catalog),
            Command::Catalog => run_catalog(&catalog),
        });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run_bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if let Some(arch) = &args.compile_only {
        #[cfg(feature = "cuda")]
        {
            let ptx = bench::cuda::compile_kernels(arch)?;
            println!(
                "kernels.cu compiled for {arch}: {} bytes of PTX, {} entry points",
                ptx.len(),
                ptx.matches(".entry").count()
            );
            return Ok(ExitCode::SUCCESS);
        }
        #[cfg(not(feature = "cuda"))]
        anyhow::bail!("--compile-only {arch}: this build has no `cuda` feature");
    }
    let (mut backend, suite): (Box<dyn Backend>, Suite) = match args.backend {
        BackendKind::Cpu => (Box::new(bench::cpu::CpuBackend::new()), Suite::cpu()),
        BackendKind::Cuda => {
            #[cfg(feature = "cuda")]
            {
                (Box::new(bench::cuda::CudaBackend::new()?), Suite::gpu())
            }
            #[cfg(not(feature = "cuda"))]
            anyhow::bail!(
                "--backend cuda: this build has no `cuda` feature (rebuild with default features)"
            )
        }
    };
    let mut suite = suite.filter(&args.only);
    if let Some(f) = &args.filter {
        suite
            .cases
            .retain(|c| c.describe().shape.contains(f.as_str()));
    }
    if suite.cases.is_empty() {
        anyhow::bail!(
            "--only {:?} selects no case (primitives: stream, gemm, attention, paged_decode, kv_quantize)",
            args.only
        );
    }
    let dev = backend.device().clone();
    eprintln!(
        "bench: {} ({}), driver {}, {}; {} cases",
        dev.name,
        dev.backend,
        dev.driver,
        dev.cuda,
        suite.cases.len()
    );
    let result = bench::run_suite(backend.as_mut(), &suite, |m| {
        eprintln!(
            "  {:<12} {:<8} {:<48} {:>11.2} us {:>9.1} GB/s {:>8.2} TFLOP/s  {}",
            m.primitive, m.variant, m.shape, m.time_us, m.gb_per_s, m.tflop_per_s, m.status
        );
    });
    let stem = args.name.clone().unwrap_or_else(|| bench::slug(&dev.name));
    let toml_path = args.out.join(format!("{stem}.toml"));
    let csv_path = args.out.join(format!("{stem}.csv"));
    planner::util::write_atomic(&toml_path, result.to_toml().as_bytes())?;
    planner::util::write_atomic(&csv_path, result.to_csv().as_bytes())?;
    let failed = result
        .measurement
        .iter()
        .filter(|m| m.status != "ok")
        .count();
    println!(
        "wrote {} and {} ({} cases, {} failed)",
        toml_path.display(),
        csv_path.display(),
        result.measurement.len(),
        failed
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `planner catalog`: every model and GPU name with where it resolves to.
fn run_catalog(catalog: &Catalog) -> anyhow::Result<ExitCode> {
    for (title, entries) in [("models", catalog.models()), ("gpus", catalog.gpus())] {
        println!("{title} ({}):", entries.len());
        for e in entries {
            println!("  {:<20} {}", e.name, e.origin);
        }
    }
    let dirs = [
        ("--models-dir", catalog.models_dir()),
        ("--hardware-dir", catalog.hardware_dir()),
    ];
    for (flag, dir) in dirs {
        match dir {
            Some(d) => println!("{flag}: {}", d.display()),
            None => println!("{flag}: none (built-in catalog only)"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_size(args: SizeArgs, catalog: &Catalog) -> anyhow::Result<ExitCode> {
    use planner::kv::{CacheDtype, EngineMemory, budget::GIB};
    use planner::model::WeightDtype;
    use planner::size::{SizeRequest, size};
    let model = catalog.model(&args.model)?;
    let gpu = catalog.gpu(&args.gpu)?;
    let dtype = |flag: &str, s: &str| -> anyhow::Result<CacheDtype> {
        s.parse().map_err(|e| anyhow::anyhow!("{flag}: {e}"))
    };
    let (k, v) = match &args.kv_cache_dtype {
        Some(d) => (dtype("--kv-cache-dtype", d)?, dtype("--kv-cache-dtype", d)?),
        None => (
            dtype("--cache-type-k", &args.cache_type_k)?,
            dtype("--cache-type-v", &args.cache_type_v)?,
        ),
    };
    let weight_dtype: WeightDtype = args
        .weight_dtype
        .parse()
        .map_err(|e| anyhow::anyhow!("--weight-dtype: {e}"))?;
    if args.ctx <= 0 {
        anyhow::bail!("--ctx {}: must be at least 1 token", args.ctx);
    }
    if args.parallel <= 0 {
        anyhow::bail!("--parallel {}: must be at least 1 sequence", args.parallel);
    }
    let req = SizeRequest {
        ctx: args.ctx as u64,
        parallel: args.parallel as u64,
        tp: args.tp,
        k,
        v,
        tensor_split: args.tensor_split.clone(),
        engine: EngineMemory {
            gpu_memory_utilization: args.gpu_memory_utilization,
            block_size: args.block_size,
            max_num_batched_tokens: args.max_num_batched_tokens,
            max_num_seqs: args.max_num_seqs,
            runtime_reserve_bytes: args.runtime_reserve_gib * GIB,
            weight_dtype,
            activation_bytes: 2.0,
        },
    };
    let models = catalog.all_models();
    let report = size(&model, &gpu, &req, &models)?;
    if let Some(dir) = &args.out
        && report.weights_fit()
    {
        for p in planner::size::write_tradeoff_chart(&model, &gpu, &req, &models, dir)? {
            eprintln!("wrote {}", p.display());
        }
    }
    match args.format {
        Format::Table => print!("{}", report.render_table()),
        Format::Csv => print!("{}", report.render_csv()),
        Format::Json => println!("{}", report.render_json()),
    }
    let b = &report.budget;
    if !report.weights_fit() {
        let per_gpu_need = b.weights + b.activations + b.reserve;
        eprintln!(
            "does not fit: weights {:.2} GiB + activations {:.2} GiB + reserve {:.2} GiB per GPU exceed {:.2} GiB usable ({:.2} GiB × {}); try --tp {} or a GPU with at least {:.0} GiB",
            b.weights / GIB,
            b.activations / GIB,
            b.reserve / GIB,
            b.usable / GIB,
            b.memory / GIB,
            req.engine.gpu_memory_utilization,
            (req.tp * 2).min(model.num_attention_heads),
            (per_gpu_need / req.engine.gpu_memory_utilization / GIB).ceil()
        );
        return Ok(ExitCode::from(1));
    }
    let row = report.requested();
    if !row.fits {
        eprintln!(
            "does not fit: {} × {} tokens need {:.2} GiB of KV per GPU at {}/{}, {:.2} GiB is available; at this parallelism the context can be {} tokens, or {} sequences at this context",
            req.parallel,
            req.ctx,
            row.request_bytes as f64 / GIB,
            k,
            v,
            row.kv_budget_bytes as f64 / GIB,
            row.max_context,
            row.max_parallel
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Regression bar committed beside a measured file (`<stem>.bar.toml`).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Bar {
    max_median_error: f64,
    max_vidur_a100_median_error: Option<f64>,
}

fn run_validate(args: ValidateArgs, catalog: &Catalog) -> anyhow::Result<ExitCode> {
    use planner::validate::{ValidateReport, VidurValidation};
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
    print!("{table}");
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
) -> anyhow::Result<planner::validate::BenchValidation> {
    let file = bench::MeasuredFile::load(path)?;
    let gpu = match gpu {
        Some(name) => catalog.gpu(name)?,
        None => {
            let gpus = catalog.all_gpus();
            planner::validate::match_gpu(&file.device.name, file.device.memory_bytes as f64, &gpus)
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
    Ok(planner::validate::BenchValidation::new(&file, &gpu))
}

/// Every GPU folder of a Vidur-format profile folder, each against its catalog GPU.
fn validate_vidur_dir(
    dir: Option<std::path::PathBuf>,
    catalog: &Catalog,
) -> anyhow::Result<planner::validate::VidurValidation> {
    use planner::cost::vidur::{MANIFEST, default_vidur_dir, gpu_folders, load_mlp_rows};
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
    Ok(planner::validate::validate_vidur(&rows, &gpus))
}

/// `summary.txt`, `rows.csv`, `fits.csv`, the predicted-vs-measured PNG and an index.
fn write_validate_report(
    report: &planner::validate::ValidateReport,
    table: &str,
    args: &ValidateArgs,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    use planner::report::png::{Chart, Mark, Series, render_chart};
    use std::collections::BTreeMap;
    planner::util::write_atomic(&dir.join("summary.txt"), table.as_bytes())?;
    planner::util::write_atomic(&dir.join("rows.csv"), report.render_rows_csv().as_bytes())?;
    planner::util::write_atomic(&dir.join("fits.csv"), report.render_fits_csv().as_bytes())?;
    let Some(bench) = &report.bench else {
        let index = "# planner validate: Vidur operator profiles\n\nCommand: `planner validate`\n\nFitted efficiencies and out-of-sample errors per GPU folder and op: `fits.csv`; the printed summary: `summary.txt`.\n";
        return planner::util::write_atomic(&dir.join("README.md"), index.as_bytes());
    };
    let mut chart = Chart::new(
        format!("Predicted vs measured: {} (out of sample)", bench.device),
        "measured time (µs)",
        "predicted time (µs)",
    );
    chart.x_log = true;
    chart.y_log = true;
    chart.diagonal = true;
    let mut by_class: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for r in &bench.rows {
        by_class
            .entry(r.class.as_str())
            .or_default()
            .push((r.measured_us, r.calibrated_us));
    }
    for (class, points) in by_class {
        if points.iter().any(|p| p.1.is_finite()) {
            chart.series.push(Series {
                name: class.to_string(),
                points,
                mark: Mark::Points,
            });
        }
    }
    render_chart(&chart, &dir.join("predicted_vs_measured.png"))?;
    let index = format!(
        "# planner validate: {}\n\nCommand: `planner validate --measured {}`\n\n![predicted vs measured](predicted_vs_measured.png)\n\nPredicted (calibrated, out of sample) against measured time per bench case, log-log, one colour per class; the diagonal is perfect prediction. Data: `rows.csv`; fitted efficiencies and errors per class (and per Vidur op): `fits.csv`; the printed summary: `summary.txt`.\n",
        bench.device,
        args.measured
            .as_ref()
            .map_or(String::new(), |p| p.display().to_string())
    );
    planner::util::write_atomic(&dir.join("README.md"), index.as_bytes())
}

/// `--check`: the medians against the bar committed beside the measured file.
fn check_bar(
    report: &planner::validate::ValidateReport,
    args: &ValidateArgs,
) -> anyhow::Result<ExitCode> {
    let Some(measured) = &args.measured else {
        anyhow::bail!("--check compares with <measured stem>.bar.toml: give --measured FILE");
    };
    let bar_path = measured.with_extension("bar.toml");
    let text = std::fs::read_to_string(&bar_path).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot read the regression bar: {e}",
            bar_path.display()
        )
    })?;
    let bar: Bar =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", bar_path.display()))?;
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
    let reference = planner::validate::REFERENCE_FOLDER;
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

fn run_speculate(args: SpeculateArgs, catalog: &Catalog) -> anyhow::Result<ExitCode> {
    use planner::scenario::Scenario;
    use planner::speculate::{scenario_rate, sweep, write_report};
    let scn = Scenario::load(&args.scenario, catalog)?;
    let base = scenario_rate(&scn)?;
    let rates = if args.rates.is_empty() {
        [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
            .iter()
            .map(|f| base * f)
            .collect()
    } else {
        args.rates.clone()
    };
    let mut gammas = if args.gammas.is_empty() {
        let mut g = vec![1, 2, 4, 8];
        g.extend(scn.engine.speculative.as_ref().map(|s| s.num_tokens));
        g
    } else {
        args.gammas.clone()
    };
    gammas.sort_unstable();
    gammas.dedup();
    let s = sweep(&scn, &rates, &gammas)?;
    print!("{}", s.render());
    let dir = args
        .out
        .unwrap_or_else(|| scn.output_dir.join(&scn.name).join("speculate"));
    for p in write_report(&s, &scn, &dir)? {
        println!("wrote {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `--shard I/N` → (I, N), with I < N.
fn parse_shard(s: &str) -> anyhow::Result<(usize, usize)> {
    let parsed = s
        .split_once('/')
        .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
    match parsed {
        Some((i, n)) if n >= 1 && i < n => Ok((i, n)),
        _ => anyhow::bail!(
            "--shard {s:?}: give I/N with 0 ≤ I < N, e.g. --shard 0/3 (Slurm: \
             $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT; Kubernetes: $JOB_COMPLETION_INDEX/<completions>)"
        ),
    }
}

fn print_plan(files: &[std::path::PathBuf], answer: &planner::plan::Answer) -> ExitCode {
    print!("{}", answer.text);
    for p in files {
        println!("wrote {}", p.display());
    }
    if answer.chosen.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn run_plan(args: PlanArgs, catalog: &Catalog) -> anyhow::Result<ExitCode> {
    use planner::plan::{PlanOptions, PlanSpec, run};
    let spec = PlanSpec::load(&args.scenario, catalog)?;
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    let opts = PlanOptions {
        out: args.out.clone(),
        shard,
        resume: args.resume,
        progress: !args.quiet,
    };
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = args.threads {
        if n == 0 {
            anyhow::bail!("--threads 0: give at least one thread");
        }
        pool = pool.num_threads(n);
    }
    let pool = pool.build()?;
    eprintln!(
        "plan: {} configurations × {} seed(s) on {} thread(s){}",
        spec.configs,
        spec.seeds.len(),
        pool.current_num_threads(),
        shard.map_or(String::new(), |(i, n)| format!(", shard {i}/{n}"))
    );
    let (files, answer) = pool.install(|| run(&spec, &opts))?;
    match answer {
        Some(a) => Ok(print_plan(&files, &a)),
        None => {
            for p in &files {
                println!("wrote {}", p.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_merge(args: MergeArgs, catalog: &Catalog) -> anyhow::Result<ExitCode> {
    use planner::plan::{PlanSpec, merge};
    let spec = PlanSpec::load(&args.scenario, catalog)?;
    let (files, answer) = merge(&spec, &args.shards, args.out.clone())?;
    Ok(print_plan(&files, &answer))
}

fn run_simulate(args: SimulateArgs, catalog: &Catalog) -> anyhow::Result<ExitCode> {
    use planner::scenario::Scenario;
    use planner::simulate::{SimOptions, prepare, simulate};
    let wall = std::time::Instant::now();
    let mut scn = Scenario::load(&args.scenario, catalog)?;
    if args.no_prefix_caching {
        scn.engine.prefix_caching = false;
    }
    if args.lenient {
        scn.workload.lenient = true;
    }
    let prepared = prepare(&scn)?;
    let opts = SimOptions {
        no_files: false,
        out_dir: args.out.clone(),
        progress: !args.quiet,
        seed: args.seed,
        format: args.format.into(),
    };
    let summary = simulate(&scn, &prepared, &opts)?;
    print!("{}", summary.render());
    if let Some(dir) = &summary.out_dir {
        println!("{:<42} {}", "report", dir.display());
    }
    let secs = wall.elapsed().as_secs_f64();
    let requests = summary.finished + summary.rejected;
    let events = requests + summary.iterations;
    eprintln!(
        "simulated {:.1} s of serving in {secs:.2} s of wall time: {events} events ({:.0}/s), {:.0} requests/s",
        summary.duration_s,
        events as f64 / secs,
        requests as f64 / secs
    );
    Ok(ExitCode::SUCCESS)
}
