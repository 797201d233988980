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
    if args.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            #[serde(flatten)]
            sweep: &'a crate::speculate::Sweep,
            /// Per γ, the lowest swept load where speculation makes median TPOT worse.
            crossovers: Vec<(u32, Option<f64>)>,
        }
        let out = Out {
            sweep: &s,
            crossovers: s.crossovers(),
        };
        println!(
            "{}",
            crate::util::json_envelope("planner.speculate", "speculate", &out)
        );
    } else {
        print!("{}", s.render());
    }
    let dir = args
        .out
        .unwrap_or_else(|| scn.output_dir.join(&scn.name).join("speculate"));
    for p in write_report(&s, &scn, &dir)? {
        if args.json {
            eprintln!("wrote {}", p.display());
        } else {
            println!("wrote {}", p.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
