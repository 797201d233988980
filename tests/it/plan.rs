//! `planner plan` and `planner merge`: the chosen configuration meets its SLOs and the
//! next-cheaper one does not; threads, shards and resumes change nothing in the report;
//! bad plans are refused with their line.

use planner::catalog::Catalog;
use planner::plan::{PlanOptions, PlanSpec, merge, run};
use planner::scenario::overrides::Override;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A RAG-like scenario with a 12-configuration grid, small enough for a test.
pub const PLAN: &str = r#"name = "plantest"
seed = 5
[model]
name = "llama-3.1-8b"
[hardware]
gpu = "h100-sxm"
[engine]
scheduler = "chunked_prefill"
max_num_batched_tokens = 8192
[workload]
arrival = "poisson"
rate = 4.0
num_requests = 300
max_prompt_tokens = 16384
max_output_tokens = 1024
prompt = { dist = "lognormal", median = 60, sigma = 0.5 }
output = { dist = "lognormal", median = 200, sigma = 0.6 }
[[workload.tenants]]
name = "support"
share = 1.0
system_prompt_tokens = 600
[workload.rag]
documents = 2000
per_request = 3
document_tokens = { dist = "lognormal", median = 1100, sigma = 0.4 }
[slo]
ttft_ms = { p90 = 1000 }
tpot_ms = { p90 = 50 }
[plan]
target_rate = 4.0
seeds = [5, 6]
bisect_steps = 3
cost_model_error = 0.07
[plan.axes]
"hardware.gpu" = ["h100-sxm", "a100-80gb", "l40s"]
"hardware.tp" = [1, 2]
"engine.kv_cache_dtype" = ["auto", "fp8"]
"#;

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("planner-plan-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `text` written as `<dir>/plan.toml`.
fn scenario_file(d: &Path, text: &str) -> PathBuf {
    let p = d.join("plan.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Every file in a folder, by name.
fn files(d: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

fn opts(out: &Path) -> PlanOptions {
    PlanOptions {
        out: Some(out.to_path_buf()),
        ..Default::default()
    }
}

#[test]
fn plan_chooses_the_cheapest_that_meets_the_slos_and_is_reproducible() {
    let d = dir("main");
    let path = scenario_file(&d, PLAN);
    let spec = PlanSpec::load(&path, &Catalog::builtin()).unwrap();
    assert_eq!(spec.configs, 12);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let (_, answer) = one.install(|| run(&spec, &opts(&d.join("t1")))).unwrap();
    two.install(|| run(&spec, &opts(&d.join("t2")))).unwrap();
    let report = files(&d.join("t1"));
    assert_eq!(
        report,
        files(&d.join("t2")),
        "1 thread and 2 threads differ"
    );
    let names: Vec<&str> = report.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        names,
        [
            ".planner-report",
            "README.md",
            "answer.md",
            "cost_vs_capacity.csv",
            "cost_vs_capacity.png",
            "index.html",
            "latency_vs_load.csv",
            "latency_vs_load.png",
            "plan.csv",
            "tpot_vs_load.png"
        ],
        "the journal is gone once the report is written"
    );
    // Every PNG is a PNG of sensible size; every CSV has its columns and rows.
    for (name, bytes) in &report {
        if name.ends_with(".png") {
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}");
            assert!(bytes.len() > 10_000, "{name}: {} bytes", bytes.len());
        }
    }
    let csv = |name: &str| -> Vec<Vec<String>> {
        let text =
            String::from_utf8(report.iter().find(|f| f.0 == name).unwrap().1.clone()).unwrap();
        text.lines()
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    };
    let plan = csv("plan.csv");
    assert_eq!(plan.len(), 13, "header + 12 configurations");
    assert_eq!(
        &plan[0][..8],
        [
            "index",
            "config",
            "engine.kv_cache_dtype",
            "hardware.gpu",
            "hardware.tp",
            "gpus",
            "replicas",
            "usd_per_hour"
        ]
    );
    let curves = csv("latency_vs_load.csv");
    assert_eq!(
        curves[0],
        [
            "index",
            "load",
            "throughput_rps",
            "ttft_p90_ms",
            "tpot_p90_ms",
            "met"
        ]
    );
    assert!(curves.len() > 12 * 4, "{} points", curves.len() - 1);
    assert_eq!(
        csv("cost_vs_capacity.csv")[0],
        [
            "index",
            "capacity",
            "usd_per_hour",
            "meets_target",
            "pareto",
            "chosen"
        ]
    );
    // The cost model's ±7 % band is judged for every valid configuration.
    let band = plan[0].iter().position(|c| c == "cost_model_band").unwrap();
    for row in &plan[1..] {
        assert!(
            row[band] == "holds" || row[band] == "flips within ±7 %",
            "{row:?}"
        );
    }
    let answer_md = String::from_utf8(report[2].1.clone()).unwrap();
    assert!(
        answer_md.contains("Cost-model error band (±7 %"),
        "{answer_md}"
    );
    let index = String::from_utf8(report[1].1.clone()).unwrap();
    assert!(index.contains("![latency_vs_load.png]") && index.contains("![cost_vs_capacity.png]"));
    assert!(index.contains("![tpot_vs_load.png]"));
    // The page: the chosen fleet and its command first, three charts as SVG.
    let html = crate::common::check_html(&d.join("t1"));
    assert!(html.contains("run it with: vllm serve "), "{html}");

    // The chosen configuration, simulated alone at the target with each seed, meets the
    // SLOs; the next-cheaper configuration misses one.
    let chosen = answer
        .unwrap()
        .chosen
        .expect("a configuration meets this target");
    let cost = |i: usize| -> f64 { plan[i + 1][7].parse().unwrap_or(f64::INFINITY) };
    // Each configuration's fleet (replicas derived: hardware.replicas is no axis).
    let replicas = |i: usize| -> i64 { plan[i + 1][6].parse().unwrap_or(1) };
    let alone = |i: usize, seed: u64| {
        // The scenario without [plan], with configuration i's values written in.
        let mut table: toml::Table = toml::from_str(PLAN).unwrap();
        table.remove("plan");
        for (k, v) in spec.grid.axes.iter().zip(spec.values(i)) {
            let (t, key) = k.key.split_once('.').unwrap();
            table[t]
                .as_table_mut()
                .unwrap()
                .insert(key.to_string(), v.clone());
        }
        table["hardware"]
            .as_table_mut()
            .unwrap()
            .insert("replicas".into(), toml::Value::Integer(replicas(i)));
        crate::common::meets_slos(&toml::to_string(&table).unwrap(), seed)
    };
    assert!(
        alone(chosen, 5) && alone(chosen, 6),
        "#{chosen} misses alone"
    );
    // Every configuration's fleet is derived, so each that runs is priced as the fleet
    // that meets the target; any cheaper one misses with its fleet.
    for i in (0..12).filter(|&i| cost(i) < cost(chosen)) {
        assert!(
            !(alone(i, 5) && alone(i, 6)),
            "#{i} (${}/h) is cheaper than #{chosen} (${}/h) and meets the SLOs",
            cost(i),
            cost(chosen)
        );
    }
    let cheapest = (0..12).map(cost).fold(f64::INFINITY, f64::min);
    assert_eq!(cost(chosen), cheapest, "{answer_md}");

    // Shards 0/3, 1/3 and 2/3, merged, are the unsharded report byte for byte.
    let shards: Vec<PathBuf> = (0..3)
        .map(|i| {
            let (f, a) = run(
                &spec,
                &PlanOptions {
                    out: Some(d.join("shards")),
                    shard: Some((i, 3)),
                    ..Default::default()
                },
            )
            .unwrap();
            assert!(a.is_none());
            f[0].clone()
        })
        .collect();
    merge(&spec, &shards, Some(d.join("merged"))).unwrap();
    assert_eq!(files(&d.join("merged")), report, "merged shards differ");

    // An interrupted run resumed: the journal's rows are kept, the rest evaluated, and the
    // report is the same.
    let rows: Vec<String> = std::fs::read_to_string(&shards[1])
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect();
    let resumed = d.join("resumed");
    std::fs::create_dir_all(&resumed).unwrap();
    let head = std::fs::read_to_string(&shards[1])
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .replace("[1,3]", "null");
    std::fs::write(
        resumed.join("plan.journal.jsonl"),
        format!("{head}\n{}\n", rows.join("\n")),
    )
    .unwrap();
    run(
        &spec,
        &PlanOptions {
            out: Some(resumed.clone()),
            resume: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(files(&resumed), report, "resumed run differs");

    // A corrupt shard and a missing one are refused, naming the file (and line).
    let corrupt = d.join("shards/corrupt.jsonl");
    let mut text = std::fs::read_to_string(&shards[2]).unwrap();
    text.push_str("{\"index\": 3, \"label\"\n");
    std::fs::write(&corrupt, text).unwrap();
    let e = merge(
        &spec,
        &[shards[0].clone(), shards[1].clone(), corrupt.clone()],
        Some(d.join("bad")),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("corrupt.jsonl:") && e.contains("not a plan journal line"),
        "{e}"
    );
    assert!(!d.join("bad/plan.csv").exists(), "nothing written");
    let e = merge(&spec, &shards[..2], Some(d.join("bad")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("configurations are in no shard"), "{e}");
    let e = merge(
        &spec,
        &[
            shards[0].clone(),
            shards[0].clone(),
            shards[1].clone(),
            shards[2].clone(),
        ],
        Some(d.join("bad")),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("give each shard once"), "{e}");
    let _ = std::fs::remove_dir_all(&d);
}

fn planner(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_planner"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_plans_are_refused_with_their_line() {
    let d = dir("bad");
    let err = |from: &str, to: &str| -> String {
        assert!(PLAN.contains(from), "{from}");
        let p = scenario_file(&d, &PLAN.replace(from, to));
        PlanSpec::load(&p, &Catalog::builtin())
            .unwrap_err()
            .to_string()
    };
    let e = err("\"hardware.tp\" = [1, 2]", "\"engine.max_seqs\" = [1, 2]");
    assert!(
        e.contains("plan.toml:36: plan.axes.engine.max_seqs = [1, 2]: not a scenario key"),
        "{e}"
    );
    let e = err("\"hardware.tp\" = [1, 2]", "\"hardware.tp\" = []");
    assert!(
        e.contains("plan.axes.hardware.tp = []: an axis needs at least one value"),
        "{e}"
    );
    let e = err(
        "\"hardware.tp\" = [1, 2]",
        "\"engine.max_num_seqs\" = { from = 1, to = 5000, step = 1 }",
    );
    assert!(
        e.contains("plan.toml:34: the plan's grid has 30000 configurations")
            && e.contains("cap of 1000")
            && e.contains("max_configs"),
        "{e}"
    );
    let e = err(
        "\"hardware.tp\" = [1, 2]",
        "\"hardware.tp\" = { from = 4, to = 1, step = 1 }",
    );
    assert!(e.contains("step > 0 and to ≥ from"), "{e}");
    let e = err("target_rate = 4.0", "target_rate = -1.0");
    assert!(e.contains("plan.toml:30: plan.target_rate = -1"), "{e}");
    let e = err("[plan]\n", "[plan]\nmax_configs = 0\n");
    assert!(e.contains("max_configs = 0: must be in 1..=1000000"), "{e}");
    let e = err("[plan]\n", "[plan]\ntargt_rate = 3\n");
    assert!(
        e.contains("plan.toml:30: plan.targt_rate = 3: `targt_rate` is not a key here; did you mean `target_rate`?"),
        "{e}"
    );
    // A key set on the command line is named as `--set`; one the file has keeps its line
    // in the file as written (the overrides rewrite the text).
    let p = scenario_file(&d, PLAN);
    let set = |kv: &[&str]| -> String {
        let overrides: Vec<_> = kv.iter().map(|s| Override::parse(s).unwrap()).collect();
        PlanSpec::load_with(&p, &Catalog::builtin(), &overrides)
            .unwrap_err()
            .to_string()
    };
    for (kv, want) in [
        (
            "plan.target_rate=-3",
            "--set: plan.target_rate = -3: must be a positive",
        ),
        (
            "plan.seeds=\"abc\"",
            "--set: plan.seeds = \"abc\": must be a list",
        ),
        (
            "plan.bogus=1",
            "--set: plan.bogus = 1: `bogus` is not a key here",
        ),
        (
            "plan.max_replicas=0",
            "--set: plan.max_replicas = 0: must be in 1..=4096",
        ),
    ] {
        let e = set(&[kv]);
        assert!(e.starts_with(want), "{kv}: {e}");
    }
    let bad = scenario_file(&d, &PLAN.replace("target_rate = 4.0", "target_rate = -1.0"));
    let e = PlanSpec::load_with(
        &bad,
        &Catalog::builtin(),
        &[Override::parse("engine.max_num_seqs=64").unwrap()],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("plan.toml:30: plan.target_rate = -1"), "{e}");
    let p = scenario_file(&d, PLAN.split("[plan]").next().unwrap());
    let e = PlanSpec::load(&p, &Catalog::builtin())
        .unwrap_err()
        .to_string();
    assert!(e.contains("no [plan] table: add one"), "{e}");

    // Impossible SLOs: the report is written, the closest configuration named, exit 1.
    let p = scenario_file(
        &d,
        &PLAN
            .replace("ttft_ms = { p90 = 1000 }", "ttft_ms = { p90 = 6 }")
            .replace("seeds = [5, 6]", "seeds = [5]"),
    );
    let out = d.join("impossible");
    let (code, stdout, stderr) = planner(&[
        "plan",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("No configuration meets the target.** Closest: #")
            && stdout.contains("ttft_p90"),
        "{stdout}"
    );
    assert!(out.join("plan.csv").exists());
    let (code, _, stderr) = planner(&["plan", p.to_str().unwrap(), "--shard", "3/3"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("0 ≤ I < N"), "{stderr}");
    let _ = std::fs::remove_dir_all(&d);
}

/// The scenario of [`PLAN`] with `replicas` replicas meets its SLOs at `rate` with `seed`.
fn fleet_meets(gpu: &str, replicas: i64, rate: f64, seed: u64) -> bool {
    let mut table: toml::Table = toml::from_str(PLAN).unwrap();
    table.remove("plan");
    let hw = table["hardware"].as_table_mut().unwrap();
    hw.insert("gpu".into(), toml::Value::String(gpu.into()));
    hw.insert("replicas".into(), toml::Value::Integer(replicas));
    table["workload"]
        .as_table_mut()
        .unwrap()
        .insert("rate".into(), toml::Value::Float(rate));
    crate::common::meets_slos(&toml::to_string(&table).unwrap(), seed)
}

#[test]
fn plan_derives_the_fewest_replicas_and_prints_the_command_line() {
    // One L40S sustains a few req/s of this workload; the target needs a fleet.
    let d = dir("fleet");
    let head = &PLAN[..PLAN.find("[plan]").unwrap()];
    let text = format!(
        "{head}[plan]\ntarget_rate = 9.0\nseeds = [5]\nbisect_steps = 3\n\
         [plan.axes]\n\"hardware.gpu\" = [\"l40s\"]\n"
    );
    let path = scenario_file(&d, &text);
    let spec = PlanSpec::load(&path, &Catalog::builtin()).unwrap();
    assert!(spec.derive_replicas);
    let (_, answer) = run(&spec, &opts(&d.join("out"))).unwrap();
    let answer = answer.unwrap();
    assert_eq!(answer.chosen, Some(0), "{}", answer.text);
    let plan = std::fs::read_to_string(d.join("out/plan.csv")).unwrap();
    let header: Vec<&str> = plan.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = plan.lines().nth(1).unwrap().split(',').collect();
    let col = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    let n: i64 = col("replicas").parse().unwrap();
    assert!(n >= 2, "{plan}");
    assert_eq!(col("gpus"), n.to_string());
    // The fewest: n replicas meet the target, n - 1 do not.
    assert!(fleet_meets("l40s", n, 9.0, 5), "{n} replicas miss alone");
    assert!(
        !fleet_meets("l40s", n - 1, 9.0, 5),
        "{} replicas also meet",
        n - 1
    );
    assert!(
        answer
            .text
            .contains(&format!("**{n} × (TP1 on NVIDIA L40S")),
        "{}",
        answer.text
    );
    assert!(
        answer.text.contains(&format!(
            "vllm serve meta-llama/Llama-3.1-8B --data-parallel-size {n} --max-num-batched-tokens 8192 --enable-chunked-prefill"
        )),
        "{}",
        answer.text
    );
    // With replicas as an axis, the plan runs each as given (no derivation).
    let text = text.replace(
        "\"hardware.gpu\" = [\"l40s\"]",
        "\"hardware.gpu\" = [\"l40s\"]\n\"hardware.replicas\" = [1]",
    );
    let path = scenario_file(&d, &text);
    let spec = PlanSpec::load(&path, &Catalog::builtin()).unwrap();
    assert!(!spec.derive_replicas);
    let (_, answer) = run(&spec, &opts(&d.join("out2"))).unwrap();
    assert_eq!(answer.unwrap().chosen, None);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn prices_come_from_the_command_line_the_scenario_or_the_catalog_and_are_named() {
    let d = dir("prices");
    let head = &PLAN[..PLAN.find("[plan]").unwrap()];
    let plan = |axis: &str| {
        format!(
            "{head}[plan]\ntarget_rate = 2.0\nseeds = [5]\nbisect_steps = 0\nrequests = 150\n\
             [plan.axes]\n{axis}\n"
        )
    };
    let gpus = plan("\"hardware.gpu\" = [\"h100\", \"a100\"]");
    let mut spec = PlanSpec::load(&scenario_file(&d, &gpus), &Catalog::builtin()).unwrap();
    // An unknown GPU in --price is refused with the known names; a known one by alias works.
    let e = spec
        .set_prices(&[("h1000".into(), 2.0, "--price".into())])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("--price: h1000") && e.contains("h100-sxm"),
        "{e}"
    );
    spec.set_prices(&[("a100".into(), 0.5, "--price".into())])
        .unwrap();
    let (_, answer) = run(&spec, &opts(&d.join("out"))).unwrap();
    let answer = answer.unwrap();
    let price = |a: &planner::plan::Answer, i: usize| {
        let e = a.rows[i].evaluated().unwrap();
        (e.usd_per_hour / e.gpus as f64, e.price.clone())
    };
    assert_eq!(price(&answer, 0).0, 2.7, "the catalog's");
    assert_eq!(
        price(&answer, 0).1,
        "h100-sxm: $2.7/GPU-hour from built-in:hardware/h100-sxm.toml (an assumption; override it)"
    );
    assert_eq!(
        price(&answer, 1),
        (0.5, "a100-80gb: $0.5/GPU-hour from --price".into())
    );
    assert!(
        answer
            .text
            .contains("- a100-80gb: $0.5/GPU-hour from --price"),
        "{}",
        answer.text
    );
    // The scenario's own price, for its one GPU.
    let kv = plan("\"engine.kv_cache_dtype\" = [\"auto\"]").replace(
        "gpu = \"h100-sxm\"",
        "gpu = \"h100-sxm\"\nusd_per_hour = 1.5",
    );
    let spec = PlanSpec::load(&scenario_file(&d, &kv), &Catalog::builtin()).unwrap();
    let (_, answer) = run(&spec, &opts(&d.join("out2"))).unwrap();
    let (usd, from) = price(&answer.unwrap(), 0);
    assert_eq!(usd, 1.5);
    assert!(
        from.starts_with("h100-sxm: $1.5/GPU-hour from hardware.usd_per_hour in "),
        "{from}"
    );
    // One scenario price over a GPU axis would price every GPU alike: refused.
    let both = gpus.replace(
        "gpu = \"h100-sxm\"",
        "gpu = \"h100-sxm\"\nusd_per_hour = 1.5",
    );
    let e = PlanSpec::load(&scenario_file(&d, &both), &Catalog::builtin())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("plan.toml:7: hardware.usd_per_hour would price every GPU"),
        "{e}"
    );
    // A GPU name the catalog does not know is refused before anything runs.
    let bad = gpus.replace("[\"h100\", \"a100\"]", "[\"h100\", \"a1000\"]");
    let e = PlanSpec::load(&scenario_file(&d, &bad), &Catalog::builtin())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("plan.axes.hardware.gpu = \"a1000\": unknown gpu"),
        "{e}"
    );
    std::fs::remove_dir_all(&d).ok();
}
