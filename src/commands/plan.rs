//! `planner plan` and `planner merge`: the cheapest configuration that meets the SLOs.

use crate::catalog::Catalog;
use crate::cli::{MergeArgs, PlanArgs};
use std::process::ExitCode;

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

fn print_plan(
    files: &[std::path::PathBuf],
    answer: &crate::plan::Answer,
    spec: &crate::plan::PlanSpec,
    json: bool,
) -> ExitCode {
    if json {
        println!("{}", answer.to_json(spec));
        for p in files {
            eprintln!("wrote {}", p.display());
        }
    } else {
        print!("{}", answer.text);
        for p in files {
            println!("wrote {}", p.display());
        }
    }
    if answer.chosen.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub(super) fn run_plan(args: PlanArgs, catalog: &Catalog) -> anyhow::Result<ExitCode> {
    use crate::plan::{PlanOptions, PlanSpec, run};
    let mut spec = PlanSpec::load_with(&args.scenario, catalog, &args.set.overrides())?;
    spec.set_prices(&args.set.price_list()?)?;
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
        Some(a) => Ok(print_plan(&files, &a, &spec, args.json)),
        None => {
            for p in &files {
                println!("wrote {}", p.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub(super) fn run_merge(args: MergeArgs, catalog: &Catalog) -> anyhow::Result<ExitCode> {
    use crate::plan::{PlanSpec, merge};
    let mut spec = PlanSpec::load_with(&args.scenario, catalog, &args.set.overrides())?;
    spec.set_prices(&args.set.price_list()?)?;
    let (files, answer) = merge(&spec, &args.shards, args.out.clone())?;
    Ok(print_plan(&files, &answer, &spec, args.json))
}
