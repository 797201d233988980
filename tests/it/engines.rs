//! Engine personalities in the scheduler (issue #15): each engine kind's admission and
//! preemption rule, on cases whose answer is known in closed form, and the measured serving
//! runs replayed against a bar.

use crate::common::summary;
use planner::catalog::Catalog;

/// 200 requests of 20000 prompt + 2000 output tokens, all at once, on one A100-80GB:
/// about 20 fit in the KV cache at a time.
fn long_offline(kind: &str, extra: &str) -> String {
    format!(
        r#"
name = "long_offline"
[model]
name = "llama-3.1-8b"
[hardware]
gpu = "a100-80gb"
[engine]
kind = "{kind}"
{extra}
[workload]
arrival = "offline"
num_requests = 200
prompt = {{ dist = "fixed", value = 20000 }}
output = {{ dist = "fixed", value = 2000 }}
"#
    )
}

/// TensorRT-LLM's GUARANTEED_NO_EVICT reserves prompt + max output at admission: never a
/// preemption, and never more KV in use than whole requests' reservations fit.
#[test]
fn trtllm_reserves_whole_requests_and_never_preempts() {
    let s = summary(&long_offline("trtllm", ""));
    assert_eq!(s.finished, 200);
    assert_eq!(s.preemptions, 0);
    let per_request = 22_000u32.div_ceil(s.block_size);
    let fit = s.kv_blocks_per_replica / per_request;
    assert!(
        s.peak_kv_blocks_used <= fit * per_request,
        "{} blocks used, {fit} requests of {per_request} fit",
        s.peak_kv_blocks_used
    );
    // MAX_UTILIZATION admits on the next chunk and pauses the newest when blocks run out.
    let m = summary(&long_offline(
        "trtllm",
        "capacity_scheduler_policy = \"max_utilization\"",
    ));
    assert!(m.preemptions > 0);
}

/// vLLM keeps a preempted request's computed blocks in the prefix cache, so re-admission
/// picks up where it stopped: the admit/prefill/preempt cycling that lost every chunk (9,552
/// preemptions and 45 output tokens/s before) is gone, and throughput is what the GPU gives
/// when it reserves (TensorRT-LLM's rule) within a few per cent.
#[test]
fn vllm_preemption_keeps_computed_blocks() {
    let v = summary(&long_offline("vllm", ""));
    let t = summary(&long_offline("trtllm", ""));
    assert_eq!(v.finished, 200);
    assert!(v.preemptions < 100, "{} preemptions", v.preemptions);
    let ratio = v.output_token_throughput_tps() / t.output_token_throughput_tps();
    assert!(ratio > 0.9, "vllm / trtllm throughput {ratio:.3}");
    // Without prefix caching nothing is kept, and the cycling is back.
    let off = summary(&long_offline("vllm", "enable_prefix_caching = false"));
    assert!(
        off.preemptions > 10 * v.preemptions.max(1),
        "{}",
        off.preemptions
    );
}

/// SGLang admits by its new-token ratio and retracts decodes when memory runs out: it
/// finishes everything with few retractions.
#[test]
fn sglang_finishes_with_few_retractions() {
    let s = summary(&long_offline("sglang", ""));
    assert_eq!(s.finished, 200);
    assert!(s.preemptions < 50, "{} retractions", s.preemptions);
}

/// llama-server's `-np` slots each own n_ctx / np tokens: a request longer than a slot is
/// refused, the others never preempted.
#[test]
fn llama_cpp_slots_own_their_share_of_the_context() {
    let s = summary(&long_offline("llama.cpp", "max_num_seqs = 4"));
    assert_eq!(s.preemptions, 0);
    assert_eq!(s.finished, 200, "22000 tokens fit a quarter of the cache");
    let many = summary(&long_offline("llama.cpp", "max_num_seqs = 64"));
    assert_eq!(
        many.rejected, 200,
        "a 64th of the cache is under 22000 tokens"
    );
}

/// A closed loop of 16 clients never has more than 16 requests in the engine, and with
/// fixed lengths its throughput is 16 requests per request latency.
#[test]
fn closed_loop_concurrency_holds_its_clients() {
    let s = summary(
        r#"
[model]
name = "llama-3.1-8b"
[hardware]
gpu = "h100-sxm"
[workload]
arrival = "concurrency"
concurrency = 16
num_requests = 1000
prompt = { dist = "fixed", value = 1024 }
output = { dist = "fixed", value = 128 }
"#,
    );
    assert_eq!(s.finished, 1000);
    assert!(s.mean_batch_size <= 16.0 + 1e-9, "{}", s.mean_batch_size);
    let little = 16.0 / s.e2e.mean;
    let rps = s.request_throughput_rps();
    assert!(
        (rps / little - 1.0).abs() < 0.05,
        "{rps} vs 16 / E2E = {little}"
    );
}

/// `planner validate --serving` over the vendored measured runs: every figure finite, every
/// median within the committed bar (`data/serving/bar.toml`), TensorRT-LLM's offline
/// throughput within 10 % at the median (issue #15's goal), and the bar able to fail.
#[test]
fn measured_serving_runs_replay_within_the_bar() {
    use planner::serving_runs::{ServingBar, median_error, over_bar, validate_serving};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/serving");
    let rows = validate_serving(&dir, &Catalog::builtin()).unwrap();
    assert!(
        rows.iter()
            .all(|r| r.predicted.is_finite() && r.predicted > 0.0)
    );
    assert!(rows.iter().filter(|r| r.metric == "output_tok_s").count() >= 10);
    assert!(median_error(&rows, "output_tok_s") < 0.10);
    let text = std::fs::read_to_string(dir.join("bar.toml")).unwrap();
    let bar: ServingBar = toml::from_str(&text).unwrap();
    assert_eq!(over_bar(&rows, &bar), vec![]);
    let strict: ServingBar = toml::from_str("[max_median_error]\ne2e_mean_ms = 0.001").unwrap();
    assert_eq!(over_bar(&rows, &strict).len(), 1);
}

/// A measured run's per-request records replay as a trace (`trace_format = "requests"`),
/// and one out of arrival order is refused naming its line.
#[test]
fn a_measured_runs_requests_replay_as_a_trace() {
    let text = |run: &str, model: &str| {
        format!(
            r#"
[model]
name = "{model}"
[hardware]
gpu = "rtx-pro-6000"
[engine]
max_num_seqs = 128
max_num_batched_tokens = 2048
[workload]
arrival = "trace"
trace = "../data/serving/llmservingsim/{run}/requests.jsonl"
trace_format = "requests"
"#
        )
    };
    let s = summary(&text("RTXPRO6000_Llama-3.1-8B", "llama-3.1-8b"));
    assert_eq!(s.finished, 300);
    assert!(s.ttft.mean > 0.0 && s.e2e.mean > s.ttft.mean);
    let scn = crate::common::scenario(&text(
        "RTXPRO6000_Qwen3-30B-A3B-Instruct-2507",
        "qwen3-30b-a3b",
    ));
    let e = planner::simulate::prepare(&scn)
        .and_then(|p| {
            planner::simulate::simulate(
                &scn,
                &p,
                &planner::simulate::SimOptions {
                    no_files: true,
                    ..Default::default()
                },
            )
        })
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains("requests.jsonl:11") && e.contains("arrival order"),
        "{e}"
    );
}

/// A folder of the user's own runs: names not in the catalog are mapped by its
/// `names.toml`, and an unmapped one is refused naming the line and the fix.
#[test]
fn a_users_runs_map_their_names_through_names_toml() {
    let dir = std::env::temp_dir().join(format!("planner-serving-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("trtllm_mine.csv"),
        "model,gpu,tp,precision,isl,osl,output_tokens_per_s\n\
         acme/MyLlama-8B,My-A100,1,fp16,128,128,6627.27\n",
    )
    .unwrap();
    let catalog = Catalog::builtin();
    let e = planner::serving_runs::validate_serving(&dir, &catalog)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("trtllm_mine.csv:2")
            && e.contains("names.toml")
            && e.contains("acme/MyLlama-8B"),
        "{e}"
    );
    std::fs::write(
        dir.join("names.toml"),
        "[models]\n\"acme/MyLlama-8B\" = \"llama-3.1-8b\"\n[gpus]\n\"My-A100\" = \"a100-80gb\"\n",
    )
    .unwrap();
    let rows = planner::serving_runs::validate_serving(&dir, &catalog).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].gpu, "a100-80gb");
    assert!(rows[0].error().abs() < 0.10, "{}", rows[0].error());
    std::fs::remove_dir_all(&dir).unwrap();
}
