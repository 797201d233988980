//! `planner import`: an engine's command line read into a scenario.

use crate::catalog::Catalog;
use crate::cli::ImportArgs;
use crate::engine_cli::{import, scenario_text, split};
use crate::scenario::Scenario;
use anyhow::Context;
use std::process::ExitCode;

pub(super) fn run_import(args: ImportArgs, catalog: &Catalog) -> anyhow::Result<ExitCode> {
    // One quoted word is a whole command line; several are its words, split by the shell.
    let words = match args.command.as_slice() {
        [one] => split(one)?,
        many => many.to_vec(),
    };
    let command =
        shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| words.join(" "));
    let imported = import(&words)?;
    let name = args.name.clone().unwrap_or_else(|| {
        args.out
            .as_ref()
            .and_then(|p| p.file_stem())
            .and_then(|s| s.to_str())
            .unwrap_or("imported")
            .to_string()
    });
    let text = scenario_text(&imported, &command, &args.gpu, &name, None)?;
    // Checked with a stand-in acceptance rate (no command line gives one); written without.
    let check = scenario_text(&imported, &command, &args.gpu, &name, Some(0.5))?;
    // The scenario must load as written: a flag value the simulator refuses is an error here,
    // named by its flag.
    let at = args
        .out
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from(format!("{name}.toml")));
    if let Err(e) = Scenario::from_str(&check, &at, catalog) {
        let message = e.to_string();
        let flag = imported
            .settings
            .iter()
            .find(|(k, _, _)| message.contains(k.as_str()))
            .map(|(_, _, f)| format!(" (from `{f}`)"))
            .unwrap_or_default();
        anyhow::bail!("the imported scenario does not load{flag}: {message}");
    }
    match &args.out {
        Some(p) => {
            crate::util::write_atomic(p, text.as_bytes())
                .with_context(|| format!("{}: cannot write", p.display()))?;
            eprintln!("wrote {}", p.display());
        }
        None => print!("{text}"),
    }
    for (k, _, flag) in &imported.settings {
        eprintln!("  {flag} → {k}");
    }
    for (flag, why) in &imported.not_simulated {
        eprintln!("  {flag}: not simulated ({why})");
    }
    for flag in &imported.unrecognised {
        eprintln!("  {flag}: unrecognised, ignored");
    }
    if check != text {
        eprintln!(
            "  set engine.speculative.acceptance (the measured acceptance rate) before simulating"
        );
    }
    Ok(ExitCode::SUCCESS)
}
