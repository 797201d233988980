//! `planner catalog`: every model and GPU name, and where each comes from.

use crate::catalog::Catalog;
use std::process::ExitCode;

/// `planner catalog`: every model and GPU name with where it resolves to.
pub(super) fn run_catalog(catalog: &Catalog) -> anyhow::Result<ExitCode> {
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
