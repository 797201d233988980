//! The crate's layering, enforced: modules are declared in pipeline order (src/lib.rs), and a
//! module may use only the modules above it. The kernel (`sim`) names nothing of LLMs.

use std::path::Path;

/// `src/lib.rs`'s modules, in order. (`serving` comes before `scenario`: a scenario lowers
/// into the engine's settings, `serving::config`.)
const ORDER: &[&str] = &[
    "util",
    "units",
    "hash",
    "model",
    "hardware",
    "catalog",
    "kv",
    "cost",
    "sim",
    "workload",
    "serving",
    "scenario",
    "metrics",
    "report",
    "bench",
    "fidelity",
    "simulate",
    "serving_runs",
    "engine_cli",
    "sweep",
    "plan",
    "speculate",
    "compare",
    "size",
    "cli",
    "commands",
];

/// Every `.rs` file of module `name` (its file, or its folder).
fn files(name: &str) -> Vec<std::path::PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let file = src.join(format!("{name}.rs"));
    if file.is_file() {
        out.push(file);
    }
    let mut stack = vec![src.join(name)];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out
}

/// A file's code before its unit tests, without comments.
fn code(text: &str) -> String {
    let before_tests = text.split("#[cfg(test)]").next().unwrap_or("");
    before_tests
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn lib_declares_the_modules_in_this_order() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    assert_eq!(declared, ORDER);
}

#[test]
fn modules_use_only_modules_above_them() {
    let mut bad = Vec::new();
    for (i, name) in ORDER.iter().enumerate() {
        for f in files(name) {
            // The code, not its docs, and not its unit tests (which may load a catalog).
            let text: String = code(&std::fs::read_to_string(&f).unwrap());
            for later in &ORDER[i + 1..] {
                if text.contains(&format!("crate::{later}::"))
                    || text.contains(&format!("crate::{later}::{{"))
                    || text.contains(&format!("use crate::{later};"))
                {
                    bad.push(format!("{} uses crate::{later}", f.display()));
                }
            }
        }
    }
    assert!(bad.is_empty(), "upward imports:\n{}", bad.join("\n"));
}

#[test]
fn the_event_kernel_knows_nothing_of_llms() {
    for f in files("sim") {
        let text = code(&std::fs::read_to_string(&f).unwrap()).to_lowercase();
        for word in [
            "token", "kv", "prefill", "decode", "request", "gpu", "model",
        ] {
            assert!(!text.contains(word), "{} names `{word}`", f.display());
        }
    }
}
