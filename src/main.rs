//! `planner` binary: parse the command line, run, map errors to exit codes
//! (2 = usage or input error, 1 = a result that does not fit / a failed check).

use clap::Parser;
use planner::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse_from(planner::cli::normalize_args(std::env::args()));
    planner::report::on_interrupt_remove_temporaries();
    match planner::commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(2)
        }
    }
}
