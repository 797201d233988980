//! The commands: each parses nothing (clap did) and computes nothing (the library does); it
//! wires a command's arguments to the library and prints or writes the result. Nothing
//! imports this module but `main.rs`.

mod bench;
mod catalog;
mod import;
mod plan;
mod simulate;
mod size;
mod speculate;
mod step;
mod validate;

use crate::catalog::Catalog;
use crate::cli::{Cli, Command};
use std::process::ExitCode;

/// Run the parsed command line: exit 0 on success, 1 on a result that does not fit or a
/// failed check; an `Err` is an input error (exit 2, printed by `main`).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::from_flags(cli.models_dir, cli.hardware_dir)?;
    match cli.command {
        Command::Bench(args) => bench::run_bench(args),
        Command::Simulate(args) => simulate::run_simulate(args, &catalog),
        Command::Speculate(args) => speculate::run_speculate(args, &catalog),
        Command::Plan(args) => plan::run_plan(args, &catalog),
        Command::Merge(args) => plan::run_merge(args, &catalog),
        Command::Size(args) => size::run_size(*args, &catalog),
        Command::Step(args) => step::run_step(args, &catalog),
        Command::Validate(args) => validate::run_validate(args, &catalog),
        Command::Catalog => catalog::run_catalog(&catalog),
        Command::Import(args) => import::run_import(args, &catalog),
        Command::Compare(args) => run_compare(args),
    }
}

/// `planner compare A B`.
fn run_compare(args: crate::cli::CompareArgs) -> anyhow::Result<ExitCode> {
    let c = crate::compare::compare(&args.a, &args.b)?;
    let name = |p: &std::path::Path| {
        p.file_name()
            .map_or("run".into(), |n| n.to_string_lossy().into_owned())
    };
    let out = args.out.clone().unwrap_or_else(|| {
        args.a
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join(format!("compare-{}-vs-{}", name(&args.a), name(&args.b)))
    });
    let files = crate::compare::write(&c, &out)?;
    if args.json {
        println!(
            "{}",
            crate::util::json_envelope("planner.compare", "compare", &c)
        );
    } else {
        print!("{}", c.render());
    }
    for f in files {
        eprintln!("wrote {}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `--weight-dtype` as given, else the checkpoint's own precision (`size` and `step`).
fn weights_flag(
    model: &crate::model::Model,
    flag: Option<&str>,
) -> anyhow::Result<crate::model::Precision> {
    Ok(match flag {
        Some(s) => {
            let d: crate::model::WeightDtype = s
                .parse()
                .map_err(|e| anyhow::anyhow!("--weight-dtype: {e}"))?;
            crate::model::Precision::uniform(d).from("--weight-dtype")
        }
        None => model.default_precision(),
    })
}
