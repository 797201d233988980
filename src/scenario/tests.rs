//! The scenario's rules, each named by file, line and key; defaults; paths.

use super::*;
use crate::kv::CacheDtype;
use crate::model::WeightDtype;
use crate::serving::config::{AttentionKernel, Preemption, SchedulerKind};
use crate::sim::Nanos;
use crate::workload::{
    ArrivalProcess, LengthDist, Sharing, TraceFormat, WorkloadSource, WorkloadSpec,
};

const BASE: &str = r#"name = "t"
seed = 1
[model]
name = "llama-3.1-8b"
[hardware]
gpu = "h100-sxm"
[engine]
block_size = 16
[workload]
arrival = "poisson"
rate = 5.0
num_requests = 10
max_prompt_tokens = 4096
prompt = { dist = "fixed", value = 100 }
output = { dist = "fixed", value = 10 }
[slo]
ttft_ms = { p90 = 500 }
"#;

fn err(text: &str) -> String {
    Scenario::from_str(text, Path::new("scenarios/x.toml"), &Catalog::builtin())
        .unwrap_err()
        .to_string()
}

/// Replace `from` (which must occur) in BASE and return the error message.
fn err_with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    err(&BASE.replace(from, to))
}

#[test]
fn full_scenario_parses_into_engine_workload_and_slo() {
    let text = r#"# a comment
name = "rag"
seed = 42
output_dir = "out"
[model]   # the model
name = "llama-3.1-8b"
weight_dtype = "fp8"
[hardware]
gpu = "h100-sxm"
tp = 2
replicas = 3
[engine]   # engine knobs
scheduler = "continuous"
max_num_seqs = 128
max_num_batched_tokens = 16384
block_size = 32
gpu_memory_utilization = 0.85
cache_type_k = "q8_0"
cache_type_v = "q4_0"
preemption = "swap"
attention = "standard"
max_queue = 100
async_scheduling = false
api_in_ms = 3
api_out_ms = 0.5
[workload]
arrival = "gamma"
rate = 4.0
cv = 2.5
num_requests = 500
duration_s = 30.0
patience_s = { mean = 20 }
max_prompt_tokens = 16000
max_output_tokens = 2000
prompt = { dist = "zipf", min = 10, max = 9000, exponent = 1.1 }
output = { dist = "lognormal", median = 200, sigma = 0.5 }
[slo]
ttft_ms = { p50 = 200, p99 = 900 }
tpot_ms = { p90 = 50 }
e2e_ms = { p99 = 20000 }
"#;
    let s = Scenario::from_str(text, Path::new("scenarios/rag.toml"), &Catalog::builtin()).unwrap();
    assert_eq!((s.name.as_str(), s.seed), ("rag", 42));
    assert_eq!(s.output_dir, PathBuf::from("out"));
    assert_eq!(s.precision.format, WeightDtype::Fp8);
    assert_eq!((s.tp, s.replicas, s.measured.as_ref()), (2, 3, None));
    assert_eq!(
        s.engine,
        EngineConfig {
            kind: crate::kv::EngineKind::Vllm,
            mem_fraction_static: None,
            kv_cache_free_gpu_mem_fraction: 0.9,
            capacity_scheduler_policy: crate::serving::config::CapacityPolicy::GuaranteedNoEvict,
            schedule_conservativeness: 1.0,
            scheduler: SchedulerKind::Continuous,
            max_num_seqs: 128,
            max_num_batched_tokens: 16384,
            block_size: 32,
            gpu_memory_utilization: 0.85,
            cache_type_k: "q8_0".parse().unwrap(),
            cache_type_v: "q4_0".parse().unwrap(),
            preemption: Preemption::Swap,
            attention: AttentionKernel::Standard,
            max_queue: 100,
            max_model_len: None,
            speculative: None,
            prefix_caching: true,
            prefix_isolation: crate::kv::Isolation::PerTenant,
            async_scheduling: false,
            api_in_s: 3e-3,
            api_out_s: 0.5e-3,
            tenancy: Default::default(),
            max_queue_wait_s: None,
            scrub_freed_blocks: false,
            lora: None,
        }
    );
    assert_eq!(
        s.workload,
        WorkloadSpec {
            source: WorkloadSource::Synthetic {
                arrival: ArrivalProcess::Gamma { rate: 4.0, cv: 2.5 },
                prompt: LengthDist::Zipf {
                    min: 10,
                    max: 9000,
                    exponent: 1.1
                },
                output: LengthDist::LogNormal {
                    median: 200.0,
                    sigma: 0.5
                },
            },
            num_requests: Some(500),
            duration: Some(Nanos::from_secs_f64(30.0)),
            max_prompt_tokens: 16000,
            max_output_tokens: 2000,
            sharing: Sharing::default(),
            lenient: false,
            patience: Some(crate::workload::Patience::Exponential(20.0)),
            timeout_s: None,
        }
    );
    let t = |metric, percentile, limit_ms| SloTarget {
        tenant: None,
        metric,
        percentile,
        limit_ms,
    };
    assert_eq!(
        s.slo.targets,
        vec![
            t(SloMetric::Ttft, 50.0, 200.0),
            t(SloMetric::Ttft, 99.0, 900.0),
            t(SloMetric::Tpot, 90.0, 50.0),
            t(SloMetric::E2e, 99.0, 20000.0),
        ]
    );
}

#[test]
fn defaults_fill_what_is_not_written() {
    let text = BASE
        .replace("[engine]\nblock_size = 16\n", "")
        .replace("name = \"t\"\n", "")
        .replace("max_prompt_tokens = 4096\n", "");
    let s = Scenario::from_str(&text, Path::new("dir/my_run.toml"), &Catalog::builtin()).unwrap();
    assert_eq!(s.name, "my_run");
    assert_eq!(s.output_dir, PathBuf::from("reports"));
    assert_eq!(s.engine, EngineConfig::default());
    assert_eq!((s.tp, s.replicas), (1, 1));
    assert_eq!(s.precision.format, WeightDtype::Bf16);
    assert_eq!(s.workload.max_output_tokens, 4096);
    assert_eq!(s.workload.max_prompt_tokens, 131_072 - 4096);
    // A short-context model still gets defaults that fit it.
    let s = Scenario::from_str(
        &text.replace("llama-3.1-8b", "pythia-1.4b"),
        Path::new("x.toml"),
        &Catalog::builtin(),
    )
    .unwrap();
    assert_eq!(
        (s.workload.max_prompt_tokens, s.workload.max_output_tokens),
        (1024, 1024)
    );
    // pythia's torch_dtype is float16: auto K/V and the default weights follow it.
    assert_eq!(s.engine.cache_type_k, CacheDtype::F16);
    assert_eq!(s.precision.format, WeightDtype::Fp16);
}

#[test]
fn each_rule_names_file_line_and_key() {
    // (replace, with, expected start of the message, expected words in the rule)
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "block_size = 16",
            "block_size = 0",
            "scenarios/x.toml:8: engine.block_size = 0: ",
            "power of two in 1..=256",
        ),
        (
            "block_size = 16",
            "block_size = 24",
            "scenarios/x.toml:8: engine.block_size = 24: ",
            "power of two",
        ),
        (
            "block_size = 16",
            "block_size = 512",
            "scenarios/x.toml:8: engine.block_size = 512: ",
            "1..=256",
        ),
        (
            "block_size = 16",
            "gpu_memory_utilization = 0.0",
            "scenarios/x.toml:8: engine.gpu_memory_utilization = 0.0: ",
            "(0, 1]",
        ),
        (
            "block_size = 16",
            "gpu_memory_utilization = 1.5",
            "scenarios/x.toml:8: engine.gpu_memory_utilization = 1.5: ",
            "(0, 1]",
        ),
        (
            "block_size = 16",
            "max_num_seqs = 0",
            "scenarios/x.toml:8: engine.max_num_seqs = 0: ",
            "1..=",
        ),
        (
            "block_size = 16",
            "max_num_batched_tokens = 0",
            "scenarios/x.toml:8: engine.max_num_batched_tokens = 0: ",
            "1..=",
        ),
        (
            "block_size = 16",
            "scheduler = \"static\"\nmax_num_batched_tokens = 2048",
            "scenarios/x.toml:9: engine.max_num_batched_tokens = 2048: ",
            "raise it to at least 4096 (workload.max_prompt_tokens) or use scheduler = \"chunked_prefill\"",
        ),
        (
            "block_size = 16",
            "scheduler = \"fifo\"",
            "scenarios/x.toml:8: engine.scheduler = \"fifo\": ",
            "\"static\", \"continuous\" or \"chunked_prefill\"",
        ),
        (
            "rate = 5.0",
            "rate = -1.0",
            "scenarios/x.toml:11: workload.rate = -1.0: ",
            "positive",
        ),
        (
            "rate = 5.0",
            "rate = inf",
            "scenarios/x.toml:11: workload.rate = inf: ",
            "positive",
        ),
        (
            "rate = 5.0\n",
            "",
            "scenarios/x.toml:10: workload.arrival = \"poisson\": ",
            "needs workload.rate",
        ),
        (
            "gpu = \"h100-sxm\"",
            "gpu = \"h100-sxm\"\ntp = 3",
            "scenarios/x.toml:7: hardware.tp = 3: ",
            "does not divide",
        ),
        (
            "gpu = \"h100-sxm\"",
            "gpu = \"h100-sxm\"\ntp = 0",
            "scenarios/x.toml:7: hardware.tp = 0: ",
            "at least 1",
        ),
        (
            "gpu = \"h100-sxm\"",
            "gpu = \"h100-sxm\"\nreplicas = 0",
            "scenarios/x.toml:7: hardware.replicas = 0: ",
            "1..=",
        ),
        (
            "num_requests = 10\n",
            "",
            "scenarios/x.toml:10: workload.arrival = \"poisson\": ",
            "num_requests or workload.duration_s",
        ),
        (
            "num_requests = 10",
            "num_requests = 10000001",
            "scenarios/x.toml:12: workload.num_requests = 10000001: ",
            "raise it by editing scenario::MAX_REQUESTS",
        ),
        (
            "num_requests = 10",
            "duration_s = 0.0",
            "scenarios/x.toml:12: workload.duration_s = 0.0: ",
            "positive",
        ),
        (
            "p90 = 500",
            "p95 = 500",
            "scenarios/x.toml:17: slo.ttft_ms = { p95 = 500 }: ",
            "p50, p90 or p99",
        ),
        (
            "p90 = 500",
            "p90 = 0.5",
            "scenarios/x.toml:17: slo.ttft_ms = { p90 = 0.5 }: ",
            "for 0.5 s write 500",
        ),
        (
            "gpu = \"h100-sxm\"",
            "gpu = \"h10\"",
            "scenarios/x.toml:6: hardware.gpu = \"h10\": ",
            "h100-sxm",
        ),
        (
            "name = \"llama-3.1-8b\"",
            "name = \"llama-9\"",
            "scenarios/x.toml:4: model.name = \"llama-9\": ",
            "llama-3.1-8b",
        ),
        (
            "{ dist = \"fixed\", value = 100 }",
            "{ dist = \"zipf\", min = 50, max = 10, exponent = 1.0 }",
            "scenarios/x.toml:14: workload.prompt = ",
            "min ≤ max",
        ),
        (
            "arrival = \"poisson\"\nrate = 5.0",
            "arrival = \"trace\"\ntrace = \"no/such/file.jsonl\"",
            "scenarios/x.toml:11: workload.trace = \"no/such/file.jsonl\": ",
            "not found",
        ),
    ];
    for (from, to, start, rule) in cases {
        let e = err_with(from, to);
        assert!(e.starts_with(start) && e.contains(rule), "{to}\n→ {e}");
    }
}

#[test]
fn cache_dtype_forms_are_exclusive() {
    let e = err_with(
        "block_size = 16",
        "kv_cache_dtype = \"fp8\"\ncache_type_k = \"q8_0\"",
    );
    assert!(
        e.starts_with("scenarios/x.toml:8: engine.kv_cache_dtype = \"fp8\": ")
            && e.contains("not both"),
        "{e}"
    );
    let s = Scenario::from_str(
        &BASE.replace("block_size = 16", "kv_cache_dtype = \"fp8\""),
        Path::new("x.toml"),
        &Catalog::builtin(),
    )
    .unwrap();
    assert_eq!(s.engine.cache_type_k, s.engine.cache_type_v);
    assert_ne!(s.engine.cache_type_k, CacheDtype::Bf16);
}

/// The toml crate's errors (unknown keys, wrong types, unknown names) read like every other:
/// file, line, dotted key, value, rule.
#[test]
fn toml_errors_name_file_line_and_key() {
    let e = err_with("block_size = 16", "block_sise = 16");
    assert!(
        e.starts_with("scenarios/x.toml:8: engine.block_sise = 16: `block_sise` is not a key here; did you mean `block_size`?"),
        "{e}"
    );
    let e = err_with("block_size = 16", "block_size = \"x\"");
    assert_eq!(
        e,
        "scenarios/x.toml:8: engine.block_size = \"x\": must be a whole number"
    );
    let e = err_with("seed = 1", "seed = 1\nbogus = true");
    assert!(
        e.starts_with("scenarios/x.toml:3: bogus = true: `bogus` is not a key here"),
        "{e}"
    );
    let e = err_with(
        "{ dist = \"fixed\", value = 100 }",
        "{ dist = \"fixed\", valu = 100 }",
    );
    assert!(
        e.starts_with("scenarios/x.toml:14: workload.prompt = { dist"),
        "{e}"
    );
    assert!(
        e.contains("`valu` is not a key here; did you mean `value`?"),
        "{e}"
    );
    let e = err_with(
        "{ dist = \"fixed\", value = 100 }",
        "{ dist = \"fixd\", value = 100 }",
    );
    assert!(
        e.starts_with(
            "scenarios/x.toml:14: workload.prompt.dist = \"fixd\": must be \"fixed\", \"uniform\""
        ),
        "{e}"
    );
    let e = err_with(
        "{ dist = \"fixed\", value = 100 }",
        "{ dist = \"lognormal\", median = 100 }",
    );
    assert!(
        e.ends_with("workload.prompt = { dist = \"lognormal\", median = 100 }: needs `sigma`"),
        "{e}"
    );
    let e = err_with("arrival = \"poisson\"", "arrival = \"poison\"");
    assert!(
        e.starts_with("scenarios/x.toml:10: workload.arrival = \"poison\": must be \"poisson\", \"gamma\", \"constant\", \"offline\", \"concurrency\" or \"trace\""),
        "{e}"
    );
    // A table where a name is wanted says so (toml's own words are "wanted exactly 1
    // element, more than 1 element").
    let e = err_with(
        "arrival = \"poisson\"",
        "arrival = { kind = \"poisson\", rate = 5.0 }",
    );
    assert!(
        e.contains("workload.arrival = { kind = \"poisson\", rate = 5.0 }: must be a quoted name, not a table"),
        "{e}"
    );
}

/// Keys that only apply to another arrival process are refused, not ignored.
#[test]
fn keys_of_another_arrival_process_are_refused() {
    let e = err_with("rate = 5.0", "rate = 5.0\ncv = 2.0");
    assert!(
        e.starts_with("scenarios/x.toml:12: workload.cv = 2: applies only to arrival = \"gamma\""),
        "{e}"
    );
    let e = err_with("rate = 5.0", "rate = 5.0\ntrace_format = \"azure\"");
    assert!(
        e.contains("workload.trace_format") && e.contains("applies only to arrival = \"trace\""),
        "{e}"
    );
    let e = err_with("rate = 5.0", "rate = 5.0\ntime_scale = 2.0");
    assert!(
        e.contains("workload.time_scale = 2: applies only to arrival = \"trace\""),
        "{e}"
    );
}

#[test]
fn tenant_errors_name_the_entry_and_its_line() {
    let two = BASE.replace(
        "[slo]\n",
        "[[workload.tenants]]\nname = \"a\"\nshare = 1.0\n\
             [[workload.tenants]]\nname = \"b\"\nshare = 0.0\n[slo]\n",
    );
    let e = err(&two);
    assert!(
        e.contains("x.toml:21: workload.tenants[1].share = 0.0: must be a positive"),
        "{e}"
    );
    let e = err(&two.replace("name = \"b\"", "name = \"a\""));
    assert!(
        e.contains("x.toml:20: workload.tenants[1].name = \"a\": tenant names must be unique"),
        "{e}"
    );
    // A tenant's own SLO must name a tenant that exists.
    let ok = two.replace("share = 0.0", "share = 2.0");
    let with_slo = |name: &str| format!("{ok}[slo.tenants.{name}]\ntpot_ms = {{ p90 = 30 }}\n");
    let s = Scenario::from_str(&with_slo("b"), Path::new("x.toml"), &Catalog::builtin()).unwrap();
    assert_eq!(s.slo.targets.len(), 2);
    assert_eq!(s.slo.targets[1].tenant, Some(1));
    let e = err(&with_slo("c"));
    assert!(
        e.contains("x.toml:25: slo.tenants.c.tpot_ms")
            && e.contains("no tenant is named \"c\" in [[workload.tenants]]: the tenants are a, b"),
        "{e}"
    );
    let e = err(&format!("{BASE}[slo.tenants.c]\nttft_ms = {{ p50 = 9 }}\n"));
    assert!(e.contains("there are none"), "{e}");
    // Acceptance of a kind it cannot take: the forms it can.
    let e = err(&format!(
        "{BASE}[engine.speculative]\nmethod = \"ngram\"\nnum_speculative_tokens = 4\nacceptance = \"high\"\n"
    ));
    assert!(
        e.contains("x.toml:21: engine.speculative.acceptance = \"high\": must be a number"),
        "{e}"
    );
}

#[test]
fn trace_paths_are_relative_to_the_scenario() {
    let dir = std::env::temp_dir().join(format!("planner-scn-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("traces")).unwrap();
    std::fs::write(dir.join("traces/t.jsonl"), "").unwrap();
    let text = BASE
        .replace(
            "arrival = \"poisson\"\nrate = 5.0",
            "arrival = \"trace\"\ntrace = \"traces/t.jsonl\"\ntime_scale = 2.0",
        )
        .replace("prompt = { dist = \"fixed\", value = 100 }\n", "")
        .replace("output = { dist = \"fixed\", value = 10 }\n", "");
    let s = Scenario::from_str(&text, &dir.join("s.toml"), &Catalog::builtin()).unwrap();
    assert_eq!(
        s.workload.source,
        WorkloadSource::Trace {
            path: dir.join("traces/t.jsonl"),
            format: TraceFormat::Mooncake,
            time_scale: 2.0
        }
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Model and GPU paths in a scenario resolve against its folder, never the working
/// folder; names go to the catalog (here: the built-ins).
#[test]
fn catalog_paths_are_relative_to_the_scenario() {
    let dir = std::env::temp_dir().join(format!("planner-scn-cat-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("mine")).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let gpu = std::fs::read_to_string(root.join("hardware/l4.toml")).unwrap();
    std::fs::write(dir.join("mine/gpu.toml"), gpu).unwrap();
    let model = std::fs::read_to_string(root.join("models/qwen2.5-0.5b.toml")).unwrap();
    std::fs::write(dir.join("mine/m.toml"), model).unwrap();
    let text = BASE
        .replace("gpu = \"h100-sxm\"", "gpu = \"mine/gpu.toml\"")
        .replace("name = \"llama-3.1-8b\"", "name = \"mine/m.toml\"");
    assert_ne!(text, BASE);
    let s = Scenario::from_str(&text, &dir.join("s.toml"), &Catalog::builtin()).unwrap();
    assert_eq!(s.gpu.source, dir.join("mine/gpu.toml"));
    assert_eq!(s.model.source, dir.join("mine/m.toml"));
    // The same text anchored elsewhere does not find them (no fallback to the working
    // folder or anywhere else).
    let err = Scenario::from_str(&text, Path::new("elsewhere/s.toml"), &Catalog::builtin())
        .unwrap_err()
        .to_string();
    assert!(err.contains("elsewhere/mine/m.toml: cannot read"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn shipped_scenarios_validate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for name in ["chat", "code", "rag", "long_context"] {
        let path = dir.join(format!("{name}.toml"));
        let s = Scenario::load(&path, &Catalog::builtin()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.name, name);
    }
}
