//! A mutation fuzzer over the three inputs users write: scenarios, traces and model configs.
//! Each case takes a real file, breaks one to three things in it (a value made zero,
//! negative, huge, NaN, infinite, of the wrong type or name; a key deleted, duplicated or
//! misspelt; a trace line garbled, reordered or emptied; a config shape made absurd), and runs
//! it through loading and, when it loads, a short simulation (at most 200 requests) or the
//! sizing arithmetic. A case passes when it ends, within its time limit, in either a clean
//! error that names the file or a result whose figures are finite (TPOT may have no
//! samples: every output one token long); a panic, a hang or a
//! non-finite figure fails the test with the case's seed and input.
//!
//! `FUZZ_CASES` sets the number of cases (default 10,000, about half a minute on two cores in
//! release); `FUZZ_SEED` the first case's seed. Cases run in parallel, each from its own seed,
//! so a failure is reproduced by its seed alone.

use planner::catalog::Catalog;
use planner::kv::{Budget, CacheDtype, EngineMemory, KvSpec};
use planner::scenario::Scenario;
use planner::simulate::{SimOptions, prepare, simulate};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

const REPO: &str = env!("CARGO_MANIFEST_DIR");
/// Requests simulated per case at most (a mutation may ask for millions).
const MAX_CASE_REQUESTS: u64 = 200;
/// A case that runs longer has hung.
const CASE_LIMIT: Duration = Duration::from_secs(20);

/// Values a mutation writes in place of a scenario value.
const VALUES: &[&str] = &[
    "0",
    "-1",
    "1",
    "2",
    "3",
    "7",
    "-7",
    "1e300",
    "-1e300",
    "nan",
    "inf",
    "-inf",
    "1e-300",
    "0.0",
    "0.5",
    "1.5",
    "4294967296",
    "9223372036854775807",
    "\"x\"",
    "\"\"",
    "true",
    "false",
    "[]",
    "[0.5, 2.0]",
    "{}",
    "{ beta = [1, 0] }",
    "\"trace\"",
    "\"gamma\"",
    "\"poisson\"",
    "\"constant\"",
    "\"static\"",
    "\"continuous\"",
    "\"swap\"",
    "\"shared\"",
    "\"head\"",
    "\"ngram\"",
    "\"azure\"",
    "\"fp8\"",
    "\"q4_0\"",
    "\"auto\"",
    "\"h200\"",
    "\"l4\"",
    "\"pythia-1.4b\"",
    "\"../nowhere.toml\"",
    "\"/\"",
    "\"..\"",
    "{ dist = \"fixed\", value = 0 }",
    "{ dist = \"lognormal\", median = 1e12, sigma = 40 }",
    "{ dist = \"zipf\", min = 1, max = 16777216, exponent = 100 }",
    "{ dist = \"empirical\", file = \"nope.txt\" }",
    "{ dist = \"uniform\", min = 9, max = 3 }",
    "{ dist = \"normal\", mean = 5, std = inf }",
];

/// What a case fed the program, to print when it fails.
struct Case {
    seed: u64,
    what: String,
    input: String,
}

/// The outcome of one case: `Err` describes a failure.
type Outcome = Result<(), String>;

/// Mutate `lines` once.
fn mutate_scenario_line(lines: &mut Vec<String>, rng: &mut StdRng) {
    let keyed: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains('=') && !l.trim_start().starts_with('#'))
        .map(|(i, _)| i)
        .collect();
    if keyed.is_empty() {
        return;
    }
    let i = keyed[rng.random_range(0..keyed.len())];
    let key = lines[i].split('=').next().unwrap_or("").trim().to_string();
    match rng.random_range(0..10) {
        0 => {
            lines.remove(i);
        }
        1 => {
            let l = lines[i].clone();
            lines.insert(i, l);
        }
        2 => lines[i] = format!("{key}x = 1"),
        3 => {
            // A key of another table, moved here.
            let j = keyed[rng.random_range(0..keyed.len())];
            let other = lines[j].clone();
            lines.insert(i, other);
        }
        _ => lines[i] = format!("{key} = {}", VALUES[rng.random_range(0..VALUES.len())]),
    }
}

/// A scenario case: load, and if it loads, simulate at most [`MAX_CASE_REQUESTS`] requests.
fn scenario_case(
    seed: u64,
    base: &str,
    path: &Path,
) -> (Case, Box<dyn FnOnce() -> Outcome + Send>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut lines: Vec<String> = base.lines().map(str::to_string).collect();
    for _ in 0..rng.random_range(1..=3) {
        mutate_scenario_line(&mut lines, &mut rng);
    }
    let text = lines.join("\n") + "\n";
    let case = Case {
        seed,
        what: format!("scenario {}", path.display()),
        input: text.clone(),
    };
    let path = path.to_path_buf();
    let run = move || -> Outcome {
        let scn = match Scenario::from_str(&text, &path, &Catalog::builtin()) {
            Ok(s) => s,
            Err(e) => return named(&e.to_string(), &path),
        };
        simulate_capped(scn)
    };
    (case, Box::new(run))
}

/// Simulate a loaded scenario with at most [`MAX_CASE_REQUESTS`] requests and no files.
fn simulate_capped(mut scn: Scenario) -> Outcome {
    let cap = scn
        .workload
        .num_requests
        .unwrap_or(MAX_CASE_REQUESTS)
        .min(MAX_CASE_REQUESTS);
    scn.workload.num_requests = Some(cap);
    let prepared = match prepare(&scn) {
        Ok(p) => p,
        Err(e) => return named(&format!("{e:#}"), &scn.path),
    };
    let opts = SimOptions {
        no_files: true,
        ..Default::default()
    };
    let s = match simulate(&scn, &prepared, &opts) {
        Ok(s) => s,
        Err(e) => return named(&format!("{e:#}"), &scn.path),
    };
    if s.finished + s.rejected == 0 {
        return Err("a run with no request ended without an error".into());
    }
    if s.finished > 0 {
        for (name, v) in [
            ("ttft p50", s.ttft.p50),
            ("e2e p99", s.e2e.p99),
            ("duration", s.duration_s),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(format!(
                    "{name} = {v} with {} requests finished",
                    s.finished
                ));
            }
        }
    }
    Ok(())
}

/// A clean error names the input file (or a file it names).
fn named(message: &str, path: &Path) -> Outcome {
    let file = path.file_name().unwrap().to_string_lossy();
    if message.contains(file.as_ref()) || message.contains(".toml") || message.contains(".json") {
        Ok(())
    } else {
        Err(format!("error does not name the file: {message}"))
    }
}

/// A trace case: the first 300 lines of a real trace, garbled, replayed (strictly or
/// leniently) by a small scenario.
fn trace_case(
    seed: u64,
    base: &[String],
    azure: bool,
    dir: &Path,
) -> (Case, Box<dyn FnOnce() -> Outcome + Send>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut lines = base.to_vec();
    let first_data = usize::from(azure);
    for _ in 0..rng.random_range(1..=3) {
        let n = lines.len();
        if n <= first_data {
            lines.push("garbage, not a record".into());
            continue;
        }
        let i = rng.random_range(first_data..n);
        match rng.random_range(0..9) {
            0 => {
                lines.remove(i);
            }
            1 => lines.swap(i, rng.random_range(first_data..n)),
            2 => lines[i] = String::new(),
            3 => lines[i] = "garbage, not a record".into(),
            4 => lines.truncate(first_data),
            5 => lines[i] = lines[i].replacen(|c: char| c.is_ascii_digit(), "-", 1),
            6 => lines[i] = lines[i].replace(|c: char| c.is_ascii_digit(), "9"),
            7 => lines[i] = lines[i].replacen(',', ",1e309,", 1),
            _ => lines[i] = lines[i].replacen(':', ":\"x\",\"y\":", 1),
        }
    }
    let text = lines.join("\n") + "\n";
    let file = dir.join(format!(
        "trace-{seed}.{}",
        if azure { "csv" } else { "jsonl" }
    ));
    std::fs::write(&file, &text).unwrap();
    let lenient = rng.random_bool(0.5);
    let scenario = format!(
        "name = \"fuzz\"\n[model]\nname = \"llama-3.1-8b\"\n[hardware]\ngpu = \"h100-sxm\"\n\
         [workload]\narrival = \"trace\"\ntrace = \"{}\"\ntrace_format = \"{}\"\nlenient = {lenient}\n\
         max_prompt_tokens = 120000\nmax_output_tokens = 4000\n",
        file.display(),
        if azure { "azure" } else { "mooncake" }
    );
    let case = Case {
        seed,
        what: format!(
            "{} trace, lenient = {lenient}",
            if azure { "azure" } else { "mooncake" }
        ),
        input: text,
    };
    let path = dir.join(format!("trace-{seed}.toml"));
    let run = move || -> Outcome {
        let out = match Scenario::from_str(&scenario, &path, &Catalog::builtin()) {
            Ok(s) => simulate_capped(s),
            Err(e) => named(&e.to_string(), &path),
        };
        std::fs::remove_file(&file).ok();
        match out {
            // A trace error names the trace file rather than the scenario.
            Err(m) if m.contains("trace-") => Ok(()),
            other => other,
        }
    };
    (case, Box::new(run))
}

/// Numeric keys of a model config and values that break them.
const CONFIG_VALUES: &[&str] = &[
    "0",
    "1",
    "3",
    "18446744073709551615",
    "1000000000",
    "1000000000000",
    "4294967297",
    "-1",
    "1e9",
    "nan",
    "\"x\"",
    "65536",
];

/// A config case: a catalog model file with one to three shape values broken, loaded, then
/// sized (bytes per token, the budget on an H100 at TP 1 and 2).
fn config_case(seed: u64, base: &str, dir: &Path) -> (Case, Box<dyn FnOnce() -> Outcome + Send>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut lines: Vec<String> = base.lines().map(str::to_string).collect();
    let numeric: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            l.split_once('=')
                .is_some_and(|(_, v)| v.trim().chars().next().is_some_and(|c| c.is_ascii_digit()))
        })
        .map(|(i, _)| i)
        .collect();
    for _ in 0..rng.random_range(1..=3) {
        if numeric.is_empty() {
            break;
        }
        let i = numeric[rng.random_range(0..numeric.len())];
        let key = lines[i].split('=').next().unwrap_or("").trim().to_string();
        lines[i] = format!(
            "{key} = {}",
            CONFIG_VALUES[rng.random_range(0..CONFIG_VALUES.len())]
        );
    }
    let text = lines.join("\n") + "\n";
    let file = dir.join(format!("model-{seed}.toml"));
    let case = Case {
        seed,
        what: "model config".into(),
        input: text.clone(),
    };
    let run = move || -> Outcome {
        std::fs::write(&file, &text).unwrap();
        let result = Catalog::builtin().model(file.to_str().unwrap());
        std::fs::remove_file(&file).ok();
        let m = match result {
            Ok(m) => m,
            Err(e) => return named(&e.to_string(), &file),
        };
        let gpu = Catalog::builtin().gpu("h100-sxm").unwrap();
        for tp in [1, 2] {
            let Ok(kv) = KvSpec::new(&m, CacheDtype::Bf16, CacheDtype::Q8_0, tp) else {
                continue;
            };
            let b = Budget::new(&m, &kv, gpu.memory_bytes, &EngineMemory::default());
            if !(b.usable.is_finite() && b.weights.is_finite()) {
                return Err(format!("budget not finite: {b:?}"));
            }
        }
        Ok(())
    };
    (case, Box::new(run))
}

/// Run `work` on its own thread; a case that has not ended after [`CASE_LIMIT`] has hung.
fn with_limit(work: Box<dyn FnOnce() -> Outcome + Send>) -> Outcome {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        let _ = tx.send(match r {
            Ok(o) => o,
            Err(p) => Err(format!(
                "panic: {}",
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            )),
        });
    });
    rx.recv_timeout(CASE_LIMIT)
        .unwrap_or_else(|_| Err(format!("hung: no result after {CASE_LIMIT:?}")))
}

#[test]
fn mutated_inputs_end_in_a_clean_error_or_a_finite_result() {
    let cases: u64 = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let first: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("planner-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let root = Path::new(REPO);
    let scenarios: Vec<(String, PathBuf)> = std::fs::read_dir(root.join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| (std::fs::read_to_string(&p).unwrap(), p))
        .collect();
    let models: Vec<String> = std::fs::read_dir(root.join("models"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    let head = |name: &str, n: usize| -> Vec<String> {
        std::fs::read_to_string(root.join("data/traces").join(name))
            .unwrap()
            .lines()
            .take(n)
            .map(str::to_string)
            .collect()
    };
    let mooncake = head("mooncake_conversation_trace.jsonl", 300);
    let azure = head("azure_llm_inference_code_2023.csv", 301);

    let failures: Vec<String> = (first..first + cases)
        .into_par_iter()
        .filter_map(|seed| {
            let (case, work) = match seed % 8 {
                0 => trace_case(seed, &mooncake, false, &dir),
                1 => trace_case(seed, &azure, true, &dir),
                2 => config_case(seed, &models[(seed / 8) as usize % models.len()], &dir),
                _ => {
                    let (text, path) = &scenarios[(seed / 8) as usize % scenarios.len()];
                    scenario_case(seed, text, path)
                }
            };
            with_limit(work).err().map(|why| {
                format!(
                    "seed {} ({}): {why}\n--- input ---\n{}",
                    case.seed, case.what, case.input
                )
            })
        })
        .collect();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed; the first:\n{}",
        failures.len(),
        failures
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}
