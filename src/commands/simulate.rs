//! `planner simulate`: one scenario through the serving model, and its report.

use crate::catalog::Catalog;
use crate::cli::SimulateArgs;
use std::process::ExitCode;

pub(super) fn run_simulate(args: SimulateArgs, catalog: &Catalog) -> anyhow::Result<ExitCode> {
    use crate::simulate::{SimOptions, prepare, simulate};
    let wall = std::time::Instant::now();
    let mut scn = crate::scenario::overrides::load(&args.scenario, catalog, &args.set.overrides())?;
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
        trace: args.trace.clone(),
        force: args.force,
        tables: args.tables.into(),
    };
    let summary = simulate(&scn, &prepared, &opts)?;
    if args.json {
        println!("{}", crate::metrics::summary::to_json(&summary));
    } else {
        let (text, width) = match args.full {
            true => (summary.render(), 43),
            false => (summary.digest(), 11),
        };
        print!("{text}");
        if let Some(dir) = &summary.out_dir {
            let every = if args.full {
                ""
            } else {
                " (every metric: summary.csv, or --full)"
            };
            println!("{:<width$}{}{every}", "report", dir.display());
        }
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
