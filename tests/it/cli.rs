//! The command line as a user meets it: outputs, exit codes, error messages.

use std::process::Command;

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

/// The issue's example prints llama.cpp's line, vLLM's two lines and the dtype table.
#[test]
fn size_prints_all_three_parts() {
    let (code, out, err) = planner(&[
        "size",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "h100-sxm",
        "--ctx",
        "8192",
        "--parallel",
        "8",
    ]);
    assert_eq!(code, 0, "{err}");
    // 8 × 8192 cells × 128 KiB = 8192 MiB, half K, half V.
    assert!(
        out.contains("KV self size = 8192.00 MiB, K (f16): 4096.00 MiB, V (f16): 4096.00 MiB"),
        "{out}"
    );
    assert!(
        out.contains("GPU KV cache size: ")
            && out.contains("Maximum concurrency for 8192 tokens per request: "),
        "{out}"
    );
    for pair in ["f16/f16", "q8_0/q8_0", "q8_0/q4_0", "q4_0/q4_0", "fp8/fp8"] {
        assert!(out.contains(pair), "missing {pair}:\n{out}");
    }
}

/// llama.cpp's short flags and the sizing_cases.md two-GPU split (under llama.cpp's own
/// rules: under vLLM V1's, 61 GiB of bf16 weights and its 1024-row sampler profile leave no
/// room for 32768 tokens on one H100).
#[test]
fn size_accepts_llama_cpp_flags() {
    let (code, out, err) = planner(&[
        "size",
        "--engine",
        "llama.cpp",
        "--model",
        "qwen2.5-32b",
        "--gpu",
        "h100-sxm",
        "-c",
        "32768",
        "-ctk",
        "q8_0",
        "-ctv",
        "q8_0",
        "-ts",
        "10,6",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("CUDA0 (41 layers): KV self size = 2788.00 MiB"),
        "{out}"
    );
    assert!(
        out.contains("CUDA1 (23 layers): KV self size = 1564.00 MiB"),
        "{out}"
    );
}

/// An fp8 cache is no llama.cpp flag: the llama.cpp line names the nearest one instead of
/// printing `-ctk fp8`.
#[test]
fn size_names_no_llama_cpp_flag_llama_cpp_lacks() {
    let args = [
        "size",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "h100",
        "-c",
        "8192",
    ];
    let (code, out, err) = planner(&[&args[..], &["--kv-cache-dtype", "fp8"]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("-ctk fp8"), "{out}");
    assert!(
        out.contains("it has no fp8 cache type, the nearest is -ctk q8_0 -ctv q8_0"),
        "{out}"
    );
    let (_, out, _) = planner(&[&args[..], &["-ctk", "q8_0", "-ctv", "q4_0"]].concat());
    assert!(
        out.contains("llama.cpp (-c 8192 -np 1 -ctk q8_0 -ctv q4_0):"),
        "{out}"
    );
}

/// CSV and JSON carry the same table.
#[test]
fn size_formats() {
    let (code, csv, _) = planner(&[
        "size",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "l4",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0);
    assert!(csv.starts_with("model,gpu,tp,ctx,parallel,k,v,requested,bytes_per_token"));
    assert_eq!(csv.lines().count(), 6, "{csv}");
    let (code, json, _) = planner(&[
        "size",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "l4",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(v["schema"], "planner.size");
    assert_eq!(v["size"]["rows"].as_array().map(Vec::len), Some(5));
}

/// "Does not fit" exits 1 and prints the numbers; usage errors exit 2 and say the fix.
#[test]
fn size_exit_codes_and_errors() {
    let (code, _, err) = planner(&["size", "--model", "llama-3.1-70b", "--gpu", "h100-sxm"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("does not fit under vllm's rule") && err.contains("try --tp 2"),
        "{err}"
    );
    let (code, _, err) = planner(&[
        "size",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "rtx-3090",
        "--ctx",
        "131072",
        "--parallel",
        "4",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("need 64.00 GiB of KV per GPU"), "{err}");
    for (args, needle) in [
        (
            vec!["--model", "lama-3.1-8b", "--gpu", "h100-sxm"],
            "closest first: llama-3.1-8b,",
        ),
        (
            vec!["--model", "llama-3.1-8b", "--gpu", "h10"],
            "closest first: h100-sxm,",
        ),
        (
            vec!["--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--ctx", "0"],
            "--ctx 0: must be in 1..=4294967296 tokens",
        ),
        (
            vec![
                "--model",
                "llama-3.1-8b",
                "--gpu",
                "h100-sxm",
                "--ctx",
                "-5",
            ],
            "--ctx -5: must be in 1..=",
        ),
        (
            vec![
                "--model",
                "llama-3.1-8b",
                "--gpu",
                "h100-sxm",
                "--gpu-memory-utilization",
                "0",
            ],
            "must be in (0, 1]",
        ),
        (
            vec!["--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--tp", "3"],
            "use one of 1, 2, 4, 8, 16",
        ),
        (
            vec!["--model", "llama-3.1-8b", "--gpu", "h100-sxm", "-ctk", "q3"],
            "unknown KV cache type `q3`",
        ),
        (
            vec![
                "--model",
                "llama-3.1-8b",
                "--gpu",
                "h100-sxm",
                "--block-size",
                "24",
            ],
            "power of two",
        ),
    ] {
        let mut full = vec!["size"];
        full.extend(args.iter());
        let (code, _, err) = planner(&full);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// A Hugging Face config.json without a needed field names the field.
#[test]
fn size_config_json_missing_field() {
    let dir = std::env::temp_dir().join(format!("planner-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.json");
    std::fs::write(&path, r#"{"num_hidden_layers": 2, "hidden_size": 256, "intermediate_size": 512, "vocab_size": 1000, "max_position_embeddings": 128}"#).unwrap();
    let (code, _, err) = planner(&["size", "--model", path.to_str().unwrap(), "--gpu", "l4"]);
    assert_eq!(code, 2);
    assert!(err.contains("num_attention_heads"), "{err}");
}

/// Without a GPU, the CUDA bench is a clean error (exit 2), never a panic.
#[cfg(feature = "cuda")]
#[test]
fn bench_cuda_without_driver() {
    // SAFETY: only tries to dlopen libcuda.
    if unsafe { cudarc::driver::sys::is_culib_present() } {
        return;
    }
    let (code, _, err) = planner(&["bench", "--backend", "cuda"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no CUDA driver") && !err.contains("panicked"),
        "{err}"
    );
}

/// `size --out`: the trade-off chart of quantizing the cache, a PNG of sensible size with
/// the CSV of every point (5 dtype pairs × 11 parallelisms) and an index naming it.
#[test]
fn size_writes_the_tradeoff_chart() {
    let dir = std::env::temp_dir().join(format!("planner-size-chart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (code, _, stderr) = planner(&[
        "size",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "h100-sxm",
        "--ctx",
        "8192",
        "--parallel",
        "8",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let png = std::fs::read(dir.join("kv_tradeoff.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000);
    let csv = std::fs::read_to_string(dir.join("kv_tradeoff.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "k_dtype,v_dtype,parallel_sequences,max_context_tokens,capped_by_max_position_embeddings"
    );
    assert_eq!(lines.len(), 1 + 5 * 11);
    // The table's own figure: f16/f16 at 8 sequences, 52,650 tokens each (vLLM V1's budget
    // with its 1024-row sampler profile); q4_0/q4_0 at one sequence capped by the model's
    // 131,072 positions.
    assert!(lines.contains(&"f16,f16,8,52650,no"), "{csv}");
    assert!(lines.contains(&"q4_0,q4_0,1,131072,yes"), "{csv}");
    let index = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(index.contains("![kv_tradeoff.png](kv_tradeoff.png)"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// llama.cpp's `-c` is the total cache over the `-np` slots: `-c 65536 -np 4` sizes the same
/// cache as `--ctx 16384 --parallel 4` (issue #14); `-c` smaller than `-np` names both.
#[test]
fn size_llama_cpp_c_is_the_total_over_slots() {
    let run = |extra: &[&str]| {
        let mut args = vec![
            "size",
            "--engine",
            "llama.cpp",
            "--model",
            "llama-3.1-8b",
            "--gpu",
            "rtx-4090",
            "--format",
            "csv",
        ];
        args.extend_from_slice(extra);
        let (code, out, err) = planner(&args);
        assert_eq!(code, 0, "{err}");
        out
    };
    let total = run(&["-c", "65536", "-np", "4"]);
    let per_seq = run(&["--ctx", "16384", "--parallel", "4"]);
    assert_eq!(total, per_seq);
    assert!(total.contains(",16384,4,"), "{total}");
    let (code, _, err) = planner(&[
        "size",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "rtx-4090",
        "-c",
        "2",
        "-np",
        "4",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("-c 2 is smaller than -np 4"), "{err}");
}

/// `size` prints its engine's formula and log lines, and every engine's line; `--pp` splits
/// the layers over stages on different GPUs and the smallest stage bounds the capacity.
#[test]
fn size_prints_each_engines_budget_and_pipeline_stages() {
    let (code, out, err) = planner(&["size", "--model", "llama-3.1-8b", "--gpu", "h100-sxm"]);
    assert_eq!(code, 0, "{err}");
    for needle in [
        "vllm budget per GPU: ",
        "GPU KV cache size: ",
        "KV Cache is allocated. #tokens: ",
        "Memory usage when calculating max tokens in paged kv cache",
        "compute buffer",
    ] {
        assert!(out.contains(needle), "missing {needle}:\n{out}");
    }
    let (code, out, err) = planner(&[
        "size",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "rtx-4090",
        "--pp",
        "2",
        "--pp-layer-partition",
        "12,20",
        "--pp-gpus",
        "l4,rtx-4090",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("stage 0 (l4, layers 0..12)"), "{out}");
    assert!(out.contains("stage 1 (rtx-4090, layers 12..32)"), "{out}");
    let (code, _, err) = planner(&[
        "size",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "l4",
        "--pp",
        "2",
        "--pp-layer-partition",
        "10,10",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("summing to the model's 32 layers"), "{err}");
    let (code, _, err) = planner(&[
        "size",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "l4",
        "--engine",
        "tgi",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown engine `tgi`"), "{err}");
}

/// `--set`, `--rate` and `--requests` change a run as the file would; a bad value or an
/// unknown key is refused naming `--set`, with the rule or the closest key; `--set` without
/// a value is a usage error. Short GPU names resolve to the catalog's boards.
#[test]
fn set_rate_and_requests_override_the_file() {
    let dir = std::env::temp_dir().join(format!("planner-set-{}", std::process::id()));
    let out = dir.join("r");
    let root = env!("CARGO_MANIFEST_DIR");
    let rag = format!("{root}/scenarios/rag.toml");
    let (code, text, err) = planner(&[
        "simulate",
        &rag,
        "-q",
        "--out",
        out.to_str().unwrap(),
        "--rate",
        "3",
        "--requests",
        "150",
        "--set",
        "engine.max_num_seqs=8",
        "--set",
        "hardware.gpu=h100",
        "--full",
    ]);
    assert_eq!(code, 0, "{err}");
    let row = |k: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{k} ")))
            .unwrap_or_else(|| panic!("{k}: {text}"))
            .split_whitespace()
            .last()
            .unwrap()
            .to_string()
    };
    assert_eq!(row("requests_finished"), "150");
    assert_eq!(row("gpu"), "h100-sxm");
    let cases = [
        (
            "engine.max_num_seqs=0",
            "--set: engine.max_num_seqs = 0: must be in 1..=65536",
        ),
        ("engine.max_num_seq=8", "did you mean `max_num_seqs`?"),
    ];
    for (set, want) in cases {
        let (code, _, err) = planner(&[
            "simulate",
            &rag,
            "-q",
            "--out",
            out.to_str().unwrap(),
            "--set",
            set,
        ]);
        assert_eq!(code, 2, "{set}");
        assert!(err.contains(want), "{set}: {err}");
    }
    let (code, _, err) = planner(&["simulate", &rag, "--set", "engine.max_num_seqs"]);
    assert_eq!(code, 2);
    assert!(err.contains("expected KEY=VALUE"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two scenario files with the same `name` do not overwrite each other's report silently:
/// the second is refused naming the first and the ways out; `--force` replaces it; a
/// scenario rewrites its own report freely.
#[test]
fn a_report_of_another_scenario_is_not_overwritten_silently() {
    let dir = std::env::temp_dir().join(format!("planner-force-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rag = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/rag.toml"))
        .unwrap();
    let (a, b) = (dir.join("a.toml"), dir.join("b.toml"));
    std::fs::write(&a, &rag).unwrap();
    std::fs::write(&b, &rag).unwrap();
    let out = dir.join("report");
    let run = |file: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "simulate",
            file.to_str().unwrap(),
            "-q",
            "--requests",
            "30",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        planner(&args)
    };
    assert_eq!(run(&a, &[]).0, 0);
    assert_eq!(run(&a, &[]).0, 0, "its own report is rewritten");
    let (code, _, err) = run(&b, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("holds the report of") && err.contains("a.toml") && err.contains("--force"),
        "{err}"
    );
    let (code, _, err) = run(&b, &["--force"]);
    assert_eq!(code, 0, "{err}");
    let marker = std::fs::read_to_string(out.join(".planner-report")).unwrap();
    assert!(marker.contains("b.toml"), "{marker}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--tables summary` leaves out the per-request and per-iteration tables, `--tables none`
/// the summary too; the charts and the index are written either way, and the index says
/// what is missing.
#[test]
fn tables_choose_what_the_report_writes() {
    let dir = std::env::temp_dir().join(format!("planner-tables-{}", std::process::id()));
    let rag = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/rag.toml");
    for (which, summary, rows) in [
        ("all", true, true),
        ("summary", true, false),
        ("none", false, false),
    ] {
        let out = dir.join(which);
        let (code, _, err) = planner(&[
            "simulate",
            rag,
            "-q",
            "--requests",
            "40",
            "--tables",
            which,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(out.join("summary.csv").exists(), summary, "{which}");
        assert_eq!(out.join("requests.csv").exists(), rows, "{which}");
        assert_eq!(out.join("iterations.csv").exists(), rows, "{which}");
        assert!(out.join("latency_cdf.png").exists(), "{which}");
        let index = std::fs::read_to_string(out.join("README.md")).unwrap();
        assert_eq!(index.contains("--tables all"), !rows, "{which}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `simulate --json` prints the summary as JSON under its schema name and version: it parses,
/// and its figures are the table's.
#[test]
fn simulate_json_parses_and_matches_the_table() {
    let dir = std::env::temp_dir().join(format!("planner-json-{}", std::process::id()));
    let rag = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/rag.toml");
    let out = dir.join("r");
    let args = [
        "simulate",
        rag,
        "-q",
        "--requests",
        "60",
        "--out",
        out.to_str().unwrap(),
    ];
    let (code, json, err) = planner(&[&args[..], &["--json"]].concat());
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["schema"], "planner.simulate.summary");
    assert_eq!(v["version"], 1);
    let s = &v["summary"];
    assert_eq!(s["finished"], 60);
    assert_eq!(s["kv_cache"], serde_json::json!(["bf16", "bf16"]));
    let (_, table, _) = planner(&[&args[..], &["--full"]].concat());
    let row = |k: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{k} ")))
            .and_then(|l| l.split_whitespace().last())
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    let p90 = s["ttft"]["p90"].as_f64().unwrap() * 1e3;
    assert!((p90 - row("ttft_p90_ms")).abs() < 1e-3, "{p90}");
    // The default digest: one line per latency, in the unit that reads best.
    let (_, digest, _) = planner(&args);
    let ttft = digest.lines().find(|l| l.starts_with("TTFT ")).unwrap();
    let shown = planner::metrics::digest::human_secs(p90 / 1e3);
    assert!(ttft.contains(&format!("p90 {shown}")), "{ttft} / {shown}");
    assert!(digest.lines().count() < 20, "{digest}");
    assert!(digest.contains("60 finished, 0 refused"), "{digest}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every command's `--json` parses, carries its schema and version, and has the fields
/// `docs/json.md` lists for that schema (the table there is read, so the two cannot drift).
#[test]
fn json_output_of_every_command_matches_docs_json_md() {
    let doc = include_str!("../../docs/json.md");
    // | `planner.x` | `command` | `body` | `a`, `b`, … |
    let schemas: Vec<(String, String, Vec<String>)> = doc
        .lines()
        .filter(|l| l.starts_with("| `planner."))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let unquote = |s: &str| s.trim_matches('`').to_string();
            let fields = cells[4].split(',').map(|f| unquote(f.trim())).collect();
            (unquote(cells[1]), unquote(cells[3]), fields)
        })
        .collect();
    assert_eq!(schemas.len(), 7, "{schemas:?}");
    let d = std::env::temp_dir().join(format!("planner-json-every-{}", std::process::id()));
    let out = |s: &str| d.join(s).to_string_lossy().into_owned();
    let runs: Vec<(&str, Vec<String>)> = vec![
        (
            "planner.simulate.summary",
            vec![
                "simulate",
                "scenarios/rag.toml",
                "-q",
                "--requests",
                "40",
                "--json",
                "--out",
                &out("sim"),
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        ),
        (
            "planner.plan",
            [
                "plan",
                "scenarios/rag.toml",
                "-q",
                "--json",
                "--requests",
                "150",
                "--set",
                "plan.seeds=[1]",
                "--set",
                "plan.bisect_steps=1",
                "--set",
                "plan.axes={\"hardware.gpu\" = [\"h100\", \"l4\"]}",
                "--out",
                &out("plan"),
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        ),
        (
            "planner.size",
            ["size", "--model", "llama-3.1-8b", "--gpu", "l4", "--json"]
                .into_iter()
                .map(String::from)
                .collect(),
        ),
        (
            "planner.speculate",
            [
                "speculate",
                "scenarios/spec_decode.toml",
                "--json",
                "--requests",
                "60",
                "--rates",
                "1",
                "--gammas",
                "2",
                "--out",
                &out("spec"),
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        ),
        (
            "planner.validate",
            ["validate", "--json", "--out", &out("val")]
                .into_iter()
                .map(String::from)
                .collect(),
        ),
        (
            "planner.compare",
            [
                "compare",
                &out("sim"),
                &out("sim"),
                "--json",
                "--out",
                &out("cmp"),
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        ),
        (
            "planner.validate.serving",
            ["validate", "--serving", "--json", "--out", &out("val")]
                .into_iter()
                .map(String::from)
                .collect(),
        ),
    ];
    for (schema, args) in runs {
        let o = Command::new(env!("CARGO_BIN_EXE_planner"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(&args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&o.stdout)
            )
        });
        let (_, body, fields) = schemas.iter().find(|s| s.0 == schema).unwrap();
        assert_eq!(v["schema"], *schema);
        assert_eq!(v["version"], 1);
        let obj = v[body.as_str()]
            .as_object()
            .unwrap_or_else(|| panic!("{schema}: no `{body}`"));
        for f in fields {
            assert!(obj.contains_key(f), "{schema}: `{body}.{f}` missing");
        }
        if schema == "planner.validate.serving" {
            // The chart first, each metric's median against the committed bar.
            let html = crate::common::check_html(&d.join("val/serving"));
            let chart = html.find("<h2>Charts</h2>").expect("the chart");
            assert!(chart < html.find("<h2>Predicted vs measured</h2>").unwrap());
            assert!(html.contains("ttft_mean_ms: median |error|") && html.contains("the bar of"));
        }
        if schema == "planner.speculate" {
            let html = crate::common::check_html(&d.join("spec"));
            assert!(html.contains("γ = 2"), "{html}");
        }
        if schema == "planner.plan" {
            // The answer names the fleet and its command; the configurations are typed.
            assert_eq!(v["plan"]["chosen"], 0, "{v}");
            assert!(
                v["plan"]["command"]
                    .as_str()
                    .unwrap()
                    .starts_with("vllm serve ")
            );
            assert_eq!(
                v["plan"]["configurations"][0]["outcome"]["kind"],
                "evaluated"
            );
        }
    }
    std::fs::remove_dir_all(&d).ok();
}

/// `planner compare A B`: every metric's change, the setup that differs, the CDFs overlaid.
#[test]
fn compare_two_runs() {
    let d = std::env::temp_dir().join(format!("planner-compare-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "simulate",
            "scenarios/rag.toml",
            "-q",
            "--requests",
            "200",
            "--out",
        ];
        let o = d.join(out);
        let o = o.to_str().unwrap().to_string();
        args.push(&o);
        args.extend(extra);
        let r = Command::new(env!("CARGO_BIN_EXE_planner"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(&args)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    };
    run("a", &[]);
    run("b", &["--set", "engine.kv_cache_dtype=fp8"]);
    let (code, out, err) = planner(&[
        "compare",
        d.join("a").to_str().unwrap(),
        d.join("b").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = &v["compare"];
    assert_eq!(
        c["differs"][0],
        serde_json::json!(["kv_cache", "bf16/bf16", "fp8/fp8"])
    );
    let delta = |m: &str| {
        c["deltas"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["metric"] == m)
            .unwrap_or_else(|| panic!("{m}"))
            .clone()
    };
    // fp8 halves the bytes per token: twice the blocks in the same memory.
    let blocks = delta("kv_blocks_per_replica");
    assert_eq!(
        blocks["b"].as_f64().unwrap(),
        2.0 * blocks["a"].as_f64().unwrap()
    );
    assert!((blocks["percent"].as_f64().unwrap() - 100.0).abs() < 1e-9);
    let cmp = d.join("compare-a-vs-b");
    for f in ["compare.csv", "latency_cdf_compare.png", "README.md"] {
        assert!(cmp.join(f).is_file(), "{f}");
    }
    let html = crate::common::check_html(&cmp);
    assert!(html.contains("kv_blocks_per_replica"));
    // Not a report: a clear error naming the folder.
    let (code, _, err) = planner(&[
        "compare",
        d.to_str().unwrap(),
        d.join("b").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("no summary.csv"), "{err}");
    std::fs::remove_dir_all(&d).ok();
}
