//! `docs/scenario.md`, the key reference, is generated from the scenario module's reference
//! block (`src/scenario/mod.rs`), and that block names every key the validator (the serde
//! mirrors in `src/scenario/raw.rs` and `[plan]` in `src/plan/mod.rs`, all
//! `deny_unknown_fields`) accepts, and no key it refuses. `UPDATE_GOLDEN=1` rewrites the doc.

use std::collections::BTreeSet;

const MODULE: &str = include_str!("../../src/scenario/mod.rs");
const RAW: &str = include_str!("../../src/scenario/raw.rs");
const PLAN: &str = include_str!("../../src/plan/mod.rs");

/// The module doc's ```toml block, without the `//! ` prefixes.
fn reference() -> String {
    let lines: Vec<&str> = MODULE
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| l.strip_prefix("//! ").or(l.strip_prefix("//!")).unwrap())
        .collect();
    let start = lines
        .iter()
        .position(|l| *l == "```toml")
        .expect("a ```toml block")
        + 1;
    let end = start + lines[start..].iter().position(|l| *l == "```").unwrap();
    lines[start..end].join("\n") + "\n"
}

/// Field names of the serde mirrors: `name:` inside `struct Raw…` / `enum Raw…` bodies.
fn fields(src: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut inside = false;
    for line in src.lines() {
        let t = line.trim();
        if (t.starts_with("pub struct Raw")
            || t.starts_with("struct Raw")
            || t.starts_with("pub enum Raw"))
            && t.ends_with('{')
        {
            inside = true;
            continue;
        }
        if inside && line.starts_with('}') {
            inside = false;
        }
        if inside && !t.starts_with("//") && !t.starts_with("#[") {
            let t = t.strip_prefix("pub ").unwrap_or(t);
            if let Some((name, _)) = t.split_once(':')
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
                && !name.is_empty()
            {
                out.insert(name.to_string());
            }
        }
    }
    out
}

/// Keys the reference writes at the start of a line (`key = …`, `# key = …`), and table
/// names (`[engine.speculative]` → `speculative`).
fn documented(reference: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in reference.lines() {
        let t = line.trim().trim_start_matches('#').trim();
        if let Some(table) = t.strip_prefix('[') {
            let name = table.trim_matches(|c| c == '[' || c == ']');
            let name = name.split(']').next().unwrap_or(name);
            for part in name.split('.') {
                out.insert(part.to_string());
            }
        } else if let Some((k, _)) = t.split_once(" = ") {
            let k = k.trim();
            if k.chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
            {
                out.insert(k.to_string());
            }
        }
        // Inline tables: `{ dist = "lognormal", median = 2000 }`.
        for inline in t.split('{').skip(1) {
            for kv in inline.split(',') {
                if let Some((k, _)) = kv.split_once('=') {
                    out.insert(k.trim().to_string());
                }
            }
        }
    }
    out
}

#[test]
fn the_key_reference_names_every_key_the_validator_accepts_and_no_other() {
    let reference = reference();
    let doc = documented(&reference);
    let accepted: BTreeSet<String> = fields(RAW).union(&fields(PLAN)).cloned().collect();
    let missing: Vec<&String> = accepted.iter().filter(|k| !doc.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "keys the validator accepts that src/scenario/mod.rs's reference does not name: {missing:?}"
    );
    // Every documented `key = ` is accepted (a stale or misspelt key in the docs fails).
    let stale: Vec<&String> = doc
        .iter()
        .filter(|k| !accepted.contains(*k))
        // Table names, the examples' tenant names, serde's tag for a length distribution and
        // the SLO percentiles (a map's keys, checked by the lowering).
        .filter(|k| {
            !matches!(
                k.as_str(),
                "engine"
                    | "hardware"
                    | "model"
                    | "workload"
                    | "slo"
                    | "acme"
                    | "chat"
                    | "dist"
                    | "p50"
                    | "p90"
                    | "p99"
            )
        })
        .collect();
    assert!(
        stale.is_empty(),
        "documented keys no serde mirror has: {stale:?}"
    );
}

#[test]
fn docs_scenario_md_is_generated_from_the_reference() {
    let generated = format!(
        "# Scenario keys\n\n<!-- Generated from the reference block of src/scenario/mod.rs by \
         `UPDATE_GOLDEN=1 cargo test --release --test it docs`; tests/it/docs.rs fails when they \
         differ. Do not edit by hand. -->\n\nEvery key a scenario file (or `--set KEY=VALUE`) \
         may set, with its default and meaning. Unknown keys are refused with the file, line and \
         closest known key; paths are relative to the scenario file.\n\n```toml\n{}```\n",
        reference()
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/scenario.md");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/scenario.md differs from src/scenario/mod.rs's reference: run \
         UPDATE_GOLDEN=1 cargo test --release --test it docs"
    );
}
