//! `planner import`: the engines' command lines read into scenarios and written back; the
//! README's own command lines round-trip; Hugging Face ids resolve without the network.

use planner::catalog::{Catalog, HfModel, hf_cached_config};
use planner::engine_cli::{command_line, import, split};
use planner::kv::EngineKind;
use std::process::Command;

/// The `planner import … -- CMD` lines of the README, each as the engine's command words.
fn readme_commands() -> Vec<Vec<String>> {
    let readme = include_str!("../../README.md");
    readme
        .lines()
        .filter_map(|l| l.strip_prefix("planner import "))
        .map(|l| {
            let cmd = l.split_once(" -- ").expect("planner import … -- CMD").1;
            split(cmd).unwrap()
        })
        .collect()
}

#[test]
fn the_readme_command_lines_round_trip() {
    let cmds = readme_commands();
    assert_eq!(cmds.len(), 4, "one line per engine");
    let mut engines = Vec::new();
    for words in &cmds {
        let first = import(words).unwrap();
        engines.push(first.engine);
        assert!(
            first.unrecognised.is_empty(),
            "{words:?}: {:?}",
            first.unrecognised
        );
        assert!(first.settings.len() >= 4, "{words:?}: {:?}", first.settings);
        let model = first.model.clone().expect("a model");
        let (line, unmapped) = command_line(first.engine, &model, &first.table(), None);
        assert!(unmapped.is_empty(), "{line}: {unmapped:?}");
        let again = import(&split(&line).unwrap()).unwrap();
        assert_eq!(again.engine, first.engine, "{line}");
        assert_eq!(again.model, first.model, "{line}");
        assert_eq!(again.table(), first.table(), "{words:?}\n→ {line}");
    }
    assert_eq!(
        engines,
        [
            EngineKind::Vllm,
            EngineKind::LlamaCpp,
            EngineKind::Trtllm,
            EngineKind::Sglang
        ]
    );
}

#[test]
fn flags_map_to_their_keys_and_the_rest_is_listed() {
    let words = split(
        "VLLM_USE_V1=0 vllm serve Qwen/Qwen3-8B -tp 2 --max-num-seqs=64 --no-enable-prefix-caching \
         --no-enable-chunked-prefill --quantization fp8 --pipeline-parallel-size 2 --host 0.0.0.0 \
         --frobnicate 3 --speculative-config '{\"model\": \"Qwen/Qwen3-0.6B\", \"num_speculative_tokens\": 3}'",
    )
    .unwrap();
    let imp = import(&words).unwrap();
    assert_eq!(imp.engine, EngineKind::VllmV0);
    assert_eq!(imp.model.as_deref(), Some("Qwen/Qwen3-8B"));
    let t = imp.table();
    let get = |a: &str, b: &str| t[a][b].clone();
    assert_eq!(get("hardware", "tp").as_integer(), Some(2));
    assert_eq!(get("engine", "max_num_seqs").as_integer(), Some(64));
    assert_eq!(
        get("engine", "enable_prefix_caching").as_bool(),
        Some(false)
    );
    assert_eq!(get("engine", "scheduler").as_str(), Some("continuous"));
    assert_eq!(get("model", "weight_dtype").as_str(), Some("fp8"));
    assert_eq!(
        t["engine"]["speculative"]["draft_model"].as_str(),
        Some("Qwen/Qwen3-0.6B")
    );
    assert_eq!(
        t["engine"]["speculative"]["num_speculative_tokens"].as_integer(),
        Some(3)
    );
    assert_eq!(imp.no_effect, ["--host 0.0.0.0"]);
    assert_eq!(imp.not_simulated.len(), 1, "{:?}", imp.not_simulated);
    assert!(
        imp.not_simulated[0]
            .0
            .starts_with("--pipeline-parallel-size 2")
    );
    assert_eq!(imp.unrecognised, ["--frobnicate 3"]);
    // Written back: V0 by its environment variable, the same keys.
    let (line, _) = command_line(imp.engine, "Qwen/Qwen3-8B", &t, None);
    assert!(
        line.starts_with("VLLM_USE_V1=0 vllm serve Qwen/Qwen3-8B "),
        "{line}"
    );
    assert_eq!(import(&split(&line).unwrap()).unwrap().table(), t);
}

#[test]
fn bad_command_lines_are_refused_by_name() {
    let err = |s: &str| import(&split(s).unwrap()).unwrap_err().to_string();
    assert!(
        err("vllm serve m --max-num-seqs lots")
            .contains("--max-num-seqs lots: must be a whole number")
    );
    assert!(err("vllm serve m --max-num-seqs").contains("--max-num-seqs: needs a value"));
    assert!(err("ollama run llama3").contains("not a command line this reads"));
    assert!(err("vllm serve m --speculative-config {").contains("not JSON"));
}

#[test]
fn hugging_face_ids_resolve_to_the_catalog_or_the_local_cache() {
    let c = Catalog::builtin();
    let id = |s: &str| c.resolve_hf_id(s);
    assert_eq!(
        id("meta-llama/Llama-3.1-8B"),
        Some(HfModel::Catalog("llama-3.1-8b".into()))
    );
    // Its former name, an instruct variant and a GGUF conversion share its config.
    assert_eq!(
        id("meta-llama/Meta-Llama-3.1-8B"),
        Some(HfModel::Catalog("llama-3.1-8b".into()))
    );
    assert_eq!(
        id("bartowski/Meta-Llama-3.1-8B-Instruct-GGUF"),
        Some(HfModel::Catalog("llama-3.1-8b".into()))
    );
    assert_eq!(
        id("Qwen/Qwen2.5-7B-Instruct"),
        Some(HfModel::Catalog("qwen2.5-7b".into()))
    );
    assert_eq!(c.model("Qwen/Qwen3-8B").unwrap().name, "qwen3-8b");
    assert_eq!(id("./not/an-id"), None);
    // The hub cache's layout: refs/main names the snapshot.
    let d = std::env::temp_dir().join(format!("planner-hf-{}", std::process::id()));
    let snap = d.join("models--acme--tiny-7b/snapshots/abc123");
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::create_dir_all(d.join("models--acme--tiny-7b/refs")).unwrap();
    std::fs::write(d.join("models--acme--tiny-7b/refs/main"), "abc123\n").unwrap();
    assert_eq!(
        hf_cached_config(&d, "acme/tiny-7b"),
        None,
        "no config.json yet"
    );
    std::fs::write(snap.join("config.json"), "{}").unwrap();
    assert_eq!(
        hf_cached_config(&d, "acme/tiny-7b"),
        Some(snap.join("config.json"))
    );
    assert_eq!(hf_cached_config(&d, "acme/other"), None);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn the_imported_scenario_simulates() {
    let d = std::env::temp_dir().join(format!("planner-import-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let file = d.join("mine.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_planner"))
        .args(["import", "--gpu", "h100", "-o"])
        .arg(&file)
        .args([
            "--",
            "vllm",
            "serve",
            "meta-llama/Llama-3.1-8B-Instruct",
            "--max-model-len",
            "4096",
            "--max-num-seqs",
            "32",
            "--port",
            "8000",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("max_model_len = 4096") && text.contains("#   --port 8000: no effect"));
    let out = Command::new(env!("CARGO_BIN_EXE_planner"))
        .args(["simulate", "-q", "--requests", "50", "--json", "--out"])
        .arg(d.join("report"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Prompts and outputs lognormal: those over --max-model-len 4096 are refused, as vLLM
    // refuses them; every other one finishes.
    let s = &json["summary"];
    let n = |k: &str| s[k].as_u64().unwrap();
    assert_eq!(n("finished") + n("rejected"), 50, "{s}");
    assert!(n("finished") >= 45, "{s}");
    // A flag value the simulator refuses is named by its flag.
    let out = Command::new(env!("CARGO_BIN_EXE_planner"))
        .args([
            "import",
            "--",
            "vllm",
            "serve",
            "meta-llama/Llama-3.1-8B",
            "--block-size",
            "17",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("(from `--block-size 17`)") && err.contains("power of two"),
        "{err}"
    );
    std::fs::remove_dir_all(&d).ok();
}
