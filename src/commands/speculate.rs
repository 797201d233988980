//! `planner speculate`: sweep load × draft length γ; where speculation stops paying.

use crate::catalog::Catalog;
use crate::cli::SpeculateArgs;
use std::process::ExitCode;

pub(super) fn run_speculate(args: SpeculateArgs, catalog: &Catalog) -> anyhow::Result<ExitCode> {
    use crate::speculate::{scenario_rate, sweep, write_report};
    let scn = crate::scenario::overrides::load(&args.scenario, catalog, &args.set.overrides())?;
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
