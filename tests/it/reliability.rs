//! The reproducers a fuzzing campaign found (panics, hangs, silently wrong answers, leftovers,
//! writes into foreign folders), each kept as a regression test.

use super::common::scenario_err;
use planner::catalog::Catalog;
use planner::scenario::Scenario;
use planner::simulate::{SimOptions, prepare, simulate};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BASE: &str = r#"name = "r"
[model]
name = "llama-3.1-8b"
[hardware]
gpu = "h100-sxm"
[workload]
arrival = "poisson"
rate = 5.0
num_requests = 50
prompt = { dist = "fixed", value = 100 }
output = { dist = "fixed", value = 10 }
"#;

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("planner-rel-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn planner(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_planner"))
        .args(args)
        .output()
        .expect("run planner");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// BASE with `from` replaced by `to`: the error message.
fn err_with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    scenario_err(&BASE.replace(from, to))
}

/// Simulate a scenario text without files, within `limit` (a hang fails the test).
fn runs_within(text: &str, limit: Duration) {
    let scn = Scenario::from_str(text, Path::new("r.toml"), &Catalog::builtin()).unwrap();
    let start = Instant::now();
    let p = prepare(&scn).unwrap();
    let s = simulate(
        &scn,
        &p,
        &SimOptions {
            no_files: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(s.finished > 0);
    assert!(start.elapsed() < limit, "took {:?}", start.elapsed());
}

#[test]
fn absurd_model_shapes_are_refused_not_allocated() {
    let dir = temp_dir("shapes");
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/llama-3.1-8b.toml"),
    )
    .unwrap();
    for layers in ["18446744073709551615", "1000000000", "1000000000000"] {
        let text = base
            .lines()
            .map(|l| {
                if l.starts_with("num_hidden_layers") {
                    format!("num_hidden_layers = {layers}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let f = dir.join("m.toml");
        std::fs::write(&f, text).unwrap();
        let e = Catalog::builtin()
            .model(f.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("m.toml")
                && e.contains("num_hidden_layers")
                && e.contains("beyond any real model"),
            "{e}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn arrival_parameters_that_never_end_or_wrap_time_are_refused() {
    // gamma with a tiny cv (the sampler never accepted) or a huge one (every gap 0).
    let gamma = |cv: &str| {
        err_with(
            "arrival = \"poisson\"",
            &format!("arrival = \"gamma\"\ncv = {cv}"),
        )
    };
    assert!(
        gamma("1e-9").contains("workload.cv = 1e-9: must be in 0.001..=30"),
        "{}",
        gamma("1e-9")
    );
    assert!(gamma("1e6").contains("must be in 0.001..=30"));
    // A rate so low its arrival times leave u64 nanoseconds, or a think time of 1e300 s.
    assert!(
        err_with("rate = 5.0", "rate = 1e-10")
            .contains("workload.rate = 1e-10: must be a positive number")
    );
    let e = scenario_err(&format!(
        "{BASE}[workload.sessions]\nthink_time_s = 1e300\n"
    ));
    assert!(
        e.contains(
            "workload.sessions.think_time_s = 1e300: must be a non-negative number of seconds"
        ),
        "{e}"
    );
    // Bounded only by a duration: absurd durations, and durations over the request cap.
    let e = err_with("num_requests = 50", "duration_s = 1e300");
    assert!(
        e.contains("workload.duration_s = 1e300: must be a positive number of seconds"),
        "{e}"
    );
    let e = err_with(
        "rate = 5.0\nnum_requests = 50",
        "rate = 1e6\nduration_s = 1e7",
    );
    assert!(
        e.contains("about 1.000e13 requests, over the cap of 10000000"),
        "{e}"
    );
}

#[test]
fn non_finite_spreads_are_refused() {
    for (d, field) in [
        (
            "{ dist = \"lognormal\", median = 100, sigma = nan }",
            "sigma",
        ),
        ("{ dist = \"normal\", mean = 100, std = inf }", "std"),
        (
            "{ dist = \"lognormal\", median = 100, sigma = -1 }",
            "sigma",
        ),
    ] {
        let e = err_with("{ dist = \"fixed\", value = 100 }", d);
        assert!(
            e.contains(&format!("`{field}` must be a finite number ≥ 0")),
            "{e}"
        );
    }
    let e = err_with(
        "{ dist = \"fixed\", value = 100 }",
        "{ dist = \"fixed\", value = 0 }",
    );
    assert!(e.contains("`value` must be a length in 1..="), "{e}");
}

#[test]
fn steep_rag_popularity_does_not_hang() {
    // Zipf 100 puts all the mass on the first document; two distinct ones per prompt (and
    // every document of a 64-document corpus) used to be drawn by rejection, forever.
    for (docs, zipf, per) in [(1000, 100.0, 2), (64, 1.0, 64), (64, 100.0, 64)] {
        let text = format!(
            "{BASE}[workload.rag]\ndocuments = {docs}\nzipf = {zipf}\nper_request = {per}\n\
             document_tokens = {{ dist = \"fixed\", value = 20 }}\n"
        );
        runs_within(&text, Duration::from_secs(10));
    }
}

#[test]
fn keys_that_do_not_apply_are_refused() {
    let e = err_with("rate = 5.0", "rate = 5.0\ntrace_format = \"azure\"");
    assert!(
        e.contains("workload.trace_format") && e.contains("applies only to arrival = \"trace\""),
        "{e}"
    );
    let dir = temp_dir("keys");
    let trace =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/traces/mooncake_conversation_trace.jsonl");
    let text = format!(
        "[model]\nname = \"llama-3.1-8b\"\n[hardware]\ngpu = \"h100-sxm\"\n[workload]\n\
         arrival = \"trace\"\ntrace = \"{}\"\nrate = nan\n",
        trace.display()
    );
    let e = scenario_err(&text);
    assert!(
        e.contains("workload.rate = nan: a trace brings its own arrival times"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn traces_that_are_empty_or_out_of_order_are_refused() {
    let dir = temp_dir("traces");
    let run = |name: &str, body: &str, format: &str| -> String {
        let f = dir.join(name);
        std::fs::write(&f, body).unwrap();
        let text = format!(
            "[model]\nname = \"llama-3.1-8b\"\n[hardware]\ngpu = \"h100-sxm\"\n[workload]\n\
             arrival = \"trace\"\ntrace = \"{}\"\ntrace_format = \"{format}\"\n",
            f.display()
        );
        let scn = Scenario::from_str(&text, &dir.join("t.toml"), &Catalog::builtin()).unwrap();
        let p = prepare(&scn).unwrap();
        let opts = SimOptions {
            no_files: true,
            ..Default::default()
        };
        simulate(&scn, &p, &opts).unwrap_err().to_string()
    };
    let e = run("empty.jsonl", "\n\n", "mooncake");
    assert!(e.contains("empty.jsonl: holds no requests"), "{e}");
    let e = run(
        "header.csv",
        "TIMESTAMP,ContextTokens,GeneratedTokens\n",
        "azure",
    );
    assert!(e.contains("header.csv: holds no requests"), "{e}");
    let e = run(
        "order.csv",
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.0000000,10,5\n\
         2023-11-16 18:15:45.0000000,10,5\n",
        "azure",
    );
    assert!(
        e.contains("order.csv:3: this line arrives 1000 ms before the line above it"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn junk_in_a_length_file_names_its_line() {
    let dir = temp_dir("empirical");
    std::fs::write(dir.join("lengths.txt"), "100\n200\nabc\n300\n").unwrap();
    let text = BASE.replace(
        "{ dist = \"fixed\", value = 100 }",
        "{ dist = \"empirical\", file = \"lengths.txt\" }",
    );
    let e = Scenario::from_str(&text, &dir.join("s.toml"), &Catalog::builtin())
        .unwrap_err()
        .to_string();
    assert!(e.contains("lengths.txt:3: `abc` is not a length"), "{e}");
    std::fs::write(dir.join("lengths.txt"), "100\n0\n").unwrap();
    let e = Scenario::from_str(&text, &dir.join("s.toml"), &Catalog::builtin())
        .unwrap_err()
        .to_string();
    assert!(e.contains("lengths.txt:2: `0` is not a length"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn plan_axes_inside_another_axis_are_refused() {
    let dir = temp_dir("axes");
    let text = format!(
        "{BASE}[slo]\nttft_ms = {{ p90 = 500 }}\n[plan]\ntarget_rate = 1.0\n[plan.axes]\n\
         \"engine\" = [\"x\"]\n\"engine.max_num_seqs\" = [8]\n"
    );
    let f = dir.join("p.toml");
    std::fs::write(&f, text).unwrap();
    let e = planner::plan::PlanSpec::load(&f, &Catalog::builtin())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("plan.axes.engine.max_num_seqs = [8]: lies inside the axis \"engine\", which replaces that whole table"),
        "{e}"
    );
    // Turning the table on and off beside an axis inside it is fine.
    let text = format!(
        "{BASE}[engine.speculative]\nmethod = \"ngram\"\nnum_speculative_tokens = 4\n\
         acceptance = 0.7\n[slo]\nttft_ms = {{ p90 = 500 }}\n[plan]\ntarget_rate = 1.0\n\
         [plan.axes]\n\"engine.speculative\" = [\"on\", \"off\"]\n\
         \"engine.speculative.num_speculative_tokens\" = [2, 4]\n"
    );
    std::fs::write(&f, text).unwrap();
    let spec = planner::plan::PlanSpec::load(&f, &Catalog::builtin()).unwrap();
    assert_eq!(spec.configs, 4);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn size_overflow_and_negative_reserve() {
    let (code, _, err) = planner(&[
        "size",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "h100-sxm",
        "--ctx",
        "131072",
        "--parallel",
        "16777216",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("does not fit: 16777216 × 131072 tokens"),
        "{err}"
    );
    let (code, _, err) = planner(&[
        "size",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "h100-sxm",
        "--parallel",
        "1073741824",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--parallel 1073741824: must be in 1..=16777216"),
        "{err}"
    );
    let (code, _, err) = planner(&[
        "size",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "h100-sxm",
        "--runtime-reserve-gib=-1000",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--runtime-reserve-gib -1000: must be a non-negative number"),
        "{err}"
    );
}

#[test]
fn reports_never_overwrite_a_foreign_folder() {
    let dir = temp_dir("foreign");
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    std::fs::write(dir.join("README.md"), "# My project\n").unwrap();
    let rag = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/rag.toml");
    let (code, _, err) = planner(&[
        "simulate",
        rag.to_str().unwrap(),
        "-q",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("this folder is not a planner report"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("README.md")).unwrap(),
        "# My project\n"
    );
    // A report folder is replaced whole: files of an earlier run do not survive.
    let out = dir.join("report");
    let (code, _, err) = planner(&[
        "simulate",
        rag.to_str().unwrap(),
        "-q",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(out.join("stale.csv"), "old").unwrap();
    let (code, _, err) = planner(&[
        "simulate",
        rag.to_str().unwrap(),
        "-q",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.join("stale.csv").exists());
    assert!(out.join(".planner-report").is_file() && out.join("summary.csv").is_file());
    std::fs::remove_dir_all(&dir).ok();
}

/// A run stopped by SIGTERM removes its partial report; one killed by SIGKILL leaves it, and
/// the next run into the same folder removes it.
#[test]
fn stopped_runs_leave_no_partial_files() {
    let dir = temp_dir("kill");
    let big = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/bench_1m.toml");
    let out = dir.join("report");
    let partials = || -> Vec<String> {
        std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".partial-") || n.contains(".tmp"))
            .collect()
    };
    for signal in ["TERM", "KILL"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_planner"))
            .args([
                "simulate",
                big.to_str().unwrap(),
                "-q",
                "--out",
                out.to_str().unwrap(),
            ])
            .spawn()
            .unwrap();
        // Wait until the run is writing its tables.
        let start = Instant::now();
        while partials().is_empty() && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!partials().is_empty(), "the run never started writing");
        std::thread::sleep(Duration::from_millis(200));
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status();
        let status = child.wait().unwrap();
        assert!(!status.success());
        if signal == "TERM" {
            assert!(partials().is_empty(), "left {:?}", partials());
        }
    }
    assert!(!out.exists(), "no report was completed");
    // The SIGKILLed run's partial folder is removed by the next run into the same place.
    let rag = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/rag.toml");
    let (code, _, err) = planner(&[
        "simulate",
        rag.to_str().unwrap(),
        "-q",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(partials().is_empty(), "left {:?}", partials());
    std::fs::remove_dir_all(&dir).ok();
}
