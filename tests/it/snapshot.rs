//! Behaviour pinned byte for byte: every shipped scenario's `simulate` report (the summary
//! verbatim, a hash of each table) and a small `plan`'s report, against
//! `tests/golden/snapshots.txt`. A refactor must leave them unchanged; a change that is meant
//! to move an answer regenerates the file (`UPDATE_GOLDEN=1 cargo test --release --test it
//! snapshot`) and says why in its commit.
//!
//! The two million-request benchmarks are pinned on their first 50,000 requests (the whole
//! runs write ~300 MB of tables).

use planner::hash::fnv1a;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const GOLDEN: &str = "tests/golden/snapshots.txt";

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("planner-snapshot-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `planner <args>` run in the crate root (so scenario paths are the relative ones a user
/// types); panics with stderr unless it exits 0.
fn planner(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_planner"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .env_remove("PLANNER_MODELS_DIR")
        .env_remove("PLANNER_HARDWARE_DIR")
        .output()
        .expect("run planner");
    assert!(
        out.status.success(),
        "planner {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every file of a report folder (recursively), sorted by relative path, as
/// `<path> <fnv1a>` lines; in text files the temporary folder `tmp` reads `<tmp>` and the
/// crate root `<root>` (so the hashes do not depend on where the test ran).
fn fingerprint(dir: &Path, tmp: &Path) -> String {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut s = String::new();
    for p in files {
        let rel = p.strip_prefix(dir).unwrap().display().to_string();
        let bytes = std::fs::read(&p).unwrap();
        let hash = match String::from_utf8(bytes) {
            Ok(text) => fnv1a(placeholder(&text, tmp).as_bytes()),
            Err(e) => fnv1a(e.as_bytes()),
        };
        writeln!(s, "  {rel} {hash:016x}").unwrap();
    }
    s
}

/// `text` with the temporary folder's path written `<tmp>` and the crate's `<root>` (a
/// report's marker names its scenario file by absolute path).
fn placeholder(text: &str, tmp: &Path) -> String {
    let root = std::fs::canonicalize(env!("CARGO_MANIFEST_DIR")).unwrap();
    text.replace(tmp.to_str().unwrap(), "<tmp>")
        .replace(root.to_str().unwrap(), "<root>")
}

/// One scenario's snapshot: its summary.csv verbatim, then every file's hash.
fn simulate_snapshot(scenario: &Path, out: &Path) -> String {
    let stem = scenario.file_stem().unwrap().to_str().unwrap();
    let mut run = format!("scenarios/{stem}.toml");
    if stem.starts_with("bench_1m") {
        // A capped copy (these scenarios name no relative path, so it may live elsewhere).
        let text = std::fs::read_to_string(scenario)
            .unwrap()
            .replace("num_requests = 1000000", "num_requests = 50000");
        assert!(
            text.contains("num_requests = 50000"),
            "{stem}: cap not applied"
        );
        let capped = out.join(format!("{stem}.toml"));
        std::fs::write(&capped, &text).unwrap();
        run = capped.to_str().unwrap().to_string();
    }
    let dir = out.join(stem);
    planner(&["simulate", &run, "-q", "--out", dir.to_str().unwrap()]);
    let summary = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    let summary = placeholder(&summary, out);
    format!("== simulate {stem}\n{summary}{}", fingerprint(&dir, out))
}

#[test]
fn outputs_are_unchanged() {
    let out = temp_dir("all");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(root.join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    scenarios.sort();
    assert!(scenarios.len() >= 9, "{scenarios:?}");
    let mut snapshot = String::new();
    for s in &scenarios {
        snapshot.push_str(&simulate_snapshot(s, &out));
    }
    // A small plan: 12 configurations × 2 seeds (the plan tests' grid).
    let plan_dir = out.join("plan");
    std::fs::create_dir_all(&plan_dir).unwrap();
    let plan_file = plan_dir.join("plan.toml");
    std::fs::write(&plan_file, super::plan::PLAN).unwrap();
    let report = plan_dir.join("report");
    planner(&[
        "plan",
        plan_file.to_str().unwrap(),
        "-q",
        "--threads",
        "2",
        "--out",
        report.to_str().unwrap(),
    ]);
    let answer = placeholder(
        &std::fs::read_to_string(report.join("answer.md")).unwrap(),
        &out,
    );
    write!(snapshot, "== plan\n{answer}{}", fingerprint(&report, &out)).unwrap();
    std::fs::remove_dir_all(&out).unwrap();

    let golden_path = root.join(GOLDEN);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden_path, &snapshot).unwrap();
        return;
    }
    let golden = std::fs::read_to_string(&golden_path)
        .unwrap_or_else(|e| panic!("{GOLDEN}: {e}; run with UPDATE_GOLDEN=1"));
    let diff: Vec<String> = golden
        .lines()
        .zip(snapshot.lines())
        .filter(|(a, b)| a != b)
        .take(12)
        .map(|(a, b)| format!("  golden:   {a}\n  now:      {b}"))
        .collect();
    assert!(
        diff.is_empty() && golden.lines().count() == snapshot.lines().count(),
        "outputs changed ({} vs {} lines); first differences:\n{}\nIf intended: \
         UPDATE_GOLDEN=1 cargo test --release --test it snapshot, and say why in the commit.",
        golden.lines().count(),
        snapshot.lines().count(),
        diff.join("\n")
    );
}
