//! The serving simulator: hand-computable cases, conservation, determinism, overload and
//! bad scenarios.

use super::common::{scenario, summary};
use planner::cost::iteration::IterationCost;
use planner::report::table::TableFormat;
use planner::scenario::Scenario;
use planner::serving::config::{EngineConfig, Preemption, SchedulerKind};
use planner::serving::engine::Simulation;
use planner::serving::{IterationDone, Observer, Outcome, RequestDone};
use planner::sim::{Nanos, RngStreams};
use planner::simulate::{Prepared, SimOptions, prepare, simulate};
use planner::workload::{Request, Segment};
use std::path::{Path, PathBuf};

#[derive(Default)]
struct Record {
    done: Vec<RequestDone>,
    iterations: Vec<IterationDone>,
    gaps: Vec<Nanos>,
}

impl Observer for Record {
    fn request(&mut self, d: &RequestDone) {
        self.done.push(d.clone());
    }
    fn inter_token(&mut self, gap: Nanos, count: u32) {
        self.gaps.extend(std::iter::repeat_n(gap, count as usize));
    }
    fn iteration(&mut self, it: &IterationDone) {
        self.iterations.push(*it);
    }
}

fn req(id: u64, at_ms: u64, prompt: u32, output: u32) -> Request {
    Request {
        id,
        arrival: Nanos(at_ms * 1_000_000),
        prompt_tokens: prompt,
        output_tokens: output,
        ..Request::default()
    }
}

/// The engine's own clock: no API-server time either way (the closed forms below count
/// engine iterations).
fn engine_only(cfg: EngineConfig) -> EngineConfig {
    EngineConfig {
        api_in_s: 0.0,
        api_out_s: 0.0,
        ..cfg
    }
}

fn run(cfg: EngineConfig, blocks: u32, requests: Vec<Request>) -> Record {
    let cost = IterationCost::constant(0.010); // every iteration: 10 ms
    let mut sim = Simulation::new(engine_only(cfg), &cost, 1, blocks, 1.0, 1 << 20);
    let mut rec = Record::default();
    sim.run(&mut requests.into_iter(), &mut rec);
    assert_eq!(sim.unfinished(), 0);
    rec
}

/// One request, constant 10 ms iterations: the prompt is one iteration, so TTFT = 10 ms, and
/// each of the other 9 tokens takes one more: E2E = 100 ms, TPOT = 10 ms, every ITL 10 ms.
/// With chunked prefill and a 256-token budget, a 1000-token prompt takes ⌈1000/256⌉ = 4
/// iterations: TTFT = 40 ms.
#[test]
fn one_request_closed_form() {
    let rec = run(EngineConfig::default(), 1000, vec![req(0, 0, 100, 10)]);
    let d = &rec.done[0];
    assert_eq!(d.outcome, Outcome::Finished);
    assert_eq!(d.first_token, Nanos(10_000_000));
    assert_eq!(d.last_token, Nanos(100_000_000));
    assert_eq!(rec.gaps, vec![Nanos(10_000_000); 9]);
    let cfg = EngineConfig {
        max_num_batched_tokens: 256,
        ..EngineConfig::default()
    };
    let rec = run(cfg, 1000, vec![req(0, 5, 1000, 3)]);
    assert_eq!(rec.done[0].first_token, Nanos(5_000_000 + 40_000_000));
    assert_eq!(rec.done[0].last_token, Nanos(5_000_000 + 60_000_000));
    assert_eq!(
        rec.iterations
            .iter()
            .map(|i| i.prefill_tokens)
            .collect::<Vec<_>>(),
        vec![256, 256, 256, 232, 0, 0]
    );
}

/// Async scheduling (vLLM ≥ 0.14, SGLang's overlap scheduler): step N + 1 is scheduled
/// while step N runs, so a request arriving at 15 ms, during the step 10–20 ms of a request
/// decoding since 0 ms, is first scheduled in the step from 30 ms (its first token at 40 ms);
/// without it, in the step from 20 ms (first token at 30 ms). An idle engine takes a request
/// at once either way.
#[test]
fn async_scheduling_delays_a_new_request_by_one_step() {
    let first_token = |async_scheduling: bool, second_at: u64| {
        let cfg = EngineConfig {
            async_scheduling,
            ..EngineConfig::default()
        };
        let rec = run(cfg, 1000, vec![req(0, 0, 10, 20), req(1, second_at, 10, 2)]);
        let d = rec.done.iter().find(|d| d.req.id == 1).unwrap();
        (d.first_scheduled, d.first_token)
    };
    let ms = |m: u64| Nanos(m * 1_000_000);
    assert_eq!(first_token(true, 15), (ms(30), ms(40)));
    assert_eq!(first_token(false, 15), (ms(20), ms(30)));
    // After request 0 ends (at 200 ms) the engine is idle: no step to wait for.
    assert_eq!(first_token(true, 300), (ms(300), ms(310)));
    assert_eq!(first_token(false, 300), (ms(300), ms(310)));
}

/// The API server's time: the scheduler sees a request `api_in` after it was sent and the
/// client has each token `api_out` after it was sampled, so TTFT and E2E grow by both and
/// TPOT not at all.
#[test]
fn api_server_time_is_in_ttft_and_e2e() {
    let cost = IterationCost::constant(0.010);
    let cfg = EngineConfig {
        api_in_s: 0.003,
        api_out_s: 0.002,
        ..EngineConfig::default()
    };
    let mut sim = Simulation::new(cfg, &cost, 1, 1000, 1.0, 1 << 20);
    let mut rec = Record::default();
    sim.run(&mut vec![req(0, 0, 100, 10)].into_iter(), &mut rec);
    let d = &rec.done[0];
    assert_eq!(d.first_scheduled, Nanos(3_000_000));
    assert_eq!(d.first_token, Nanos(15_000_000));
    assert_eq!(d.last_token, Nanos(105_000_000));
    let l = d.latencies().unwrap();
    assert!((l.ttft - 0.015).abs() < 1e-12 && (l.tpot - 0.010).abs() < 1e-12);
}

/// Two 64-token prompts share 10 blocks of 16 tokens. After prefill each holds 4 blocks; the
/// first decode step takes a 5th each (10 used). At 80 tokens both need a 6th: the newer one
/// (request 1) is preempted when decode step 17 is scheduled, at 1 prefill + 16 decode
/// iterations = 170 ms. It is recomputed after request 0 finishes; both finish.
#[test]
fn two_requests_contend_for_blocks() {
    let cfg = EngineConfig {
        block_size: 16,
        scheduler: SchedulerKind::ChunkedPrefill,
        ..EngineConfig::default()
    };
    let rec = run(cfg, 10, vec![req(0, 0, 64, 40), req(1, 0, 64, 40)]);
    let first = rec
        .iterations
        .iter()
        .find(|i| i.preemptions > 0)
        .expect("a preemption");
    assert_eq!(first.start, Nanos(170_000_000));
    assert_eq!(first.preemptions, 1);
    let d1 = rec.done.iter().find(|d| d.req.id == 1).unwrap();
    let d0 = rec.done.iter().find(|d| d.req.id == 0).unwrap();
    assert_eq!(d1.preemptions, 1);
    assert_eq!(d0.preemptions, 0);
    // Request 0 never waits: 1 prefill + 39 decodes.
    assert_eq!(d0.last_token, Nanos(400_000_000));
    assert!(d1.last_token > d0.last_token);
    assert!(rec.iterations.iter().all(|i| i.kv_blocks_used <= 10));
}

/// Static batching holds the whole batch until its longest member ends.
#[test]
fn static_batching_waits_for_the_longest() {
    let cfg = EngineConfig {
        scheduler: SchedulerKind::Static,
        ..EngineConfig::default()
    };
    let rec = run(
        cfg,
        1000,
        vec![req(0, 0, 10, 2), req(1, 0, 10, 5), req(2, 1, 10, 2)],
    );
    let end = |id| rec.done.iter().find(|d| d.req.id == id).unwrap();
    // Request 0 arrives alone at 0 ms and forms the first batch (prefill + 1 decode: ends at
    // 20 ms). Requests 1 and 2 form the second, from 20 ms: request 2 has its tokens by
    // 40 ms but stays in the batch, decoding padding, until request 1 ends at 70 ms.
    assert_eq!(end(0).last_token, Nanos(20_000_000));
    assert_eq!(end(1).first_token, Nanos(30_000_000));
    assert_eq!(end(1).last_token, Nanos(70_000_000));
    assert_eq!(end(2).last_token, Nanos(40_000_000));
    let second: Vec<u32> = rec
        .iterations
        .iter()
        .filter(|i| i.start >= Nanos(20_000_000))
        .map(|i| i.batch_size)
        .collect();
    assert_eq!(second, vec![2, 2, 2, 2, 2]);
}

const SMALL: &str = r#"
name = "it"
seed = 5
[model]
name = "llama-3.1-8b"
[hardware]
gpu = "h100-sxm"
[workload]
arrival = "poisson"
rate = 8.0
num_requests = 400
max_prompt_tokens = 8192
max_output_tokens = 512
prompt = { dist = "lognormal", median = 1500, sigma = 0.8 }
output = { dist = "lognormal", median = 120, sigma = 0.6 }
[slo]
ttft_ms = { p90 = 2000 }
"#;

/// Every request ends finished or rejected; the tokens produced are the sum of the
/// requested output lengths.
#[test]
fn conservation() {
    let scn = scenario(SMALL);
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
    let expected: Vec<Request> =
        planner::workload::requests(&scn.workload, &RngStreams::new(scn.seed))
            .unwrap()
            .collect();
    assert_eq!(s.finished + s.rejected, 400);
    assert_eq!(s.rejected, 0);
    assert_eq!(
        s.output_tokens,
        expected.iter().map(|r| r.output_tokens as u64).sum::<u64>()
    );
}

fn out_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("planner-sim-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Simulate `scn` into a fresh folder named by `tag`; returns the folder.
fn write(
    scn: &Scenario,
    p: &Prepared,
    tag: &str,
    seed: Option<u64>,
    format: TableFormat,
) -> PathBuf {
    let d = out_dir(tag);
    simulate(
        scn,
        p,
        &SimOptions {
            out_dir: Some(d.clone()),
            seed,
            format,
            ..Default::default()
        },
    )
    .unwrap();
    d
}

fn files(dir: &Path) -> Vec<Vec<u8>> {
    ["summary.csv", "requests.csv", "iterations.csv"]
        .iter()
        .map(|f| std::fs::read(dir.join(f)).unwrap())
        .collect()
}

/// Same scenario and seed → byte-identical reports, serially or from two threads at once; a
/// different seed changes them.
#[test]
fn determinism_serial_and_parallel() {
    let scn = scenario(SMALL);
    let p = prepare(&scn).unwrap();
    let go = |tag: &str, seed: Option<u64>| files(&write(&scn, &p, tag, seed, TableFormat::Csv));
    let a = go("a", None);
    let b = go("b", None);
    assert_eq!(a, b);
    let (c, d) = std::thread::scope(|s| {
        let h1 = s.spawn(|| go("c", None));
        let h2 = s.spawn(|| go("d", None));
        (h1.join().unwrap(), h2.join().unwrap())
    });
    assert_eq!(a, c);
    assert_eq!(a, d);
    assert_ne!(a[1], go("e", Some(6))[1]);
}

/// `--format parquet` writes the same tables as CSV, readable by polars: same rows, same
/// columns, same values; twice gives the same bytes; no temporary file is left behind.
#[test]
fn parquet_tables_match_csv() {
    use polars::prelude::{CsvReadOptions, ParquetReader, SerReader};
    let scn = scenario(SMALL);
    let p = prepare(&scn).unwrap();
    let go = |tag: &str, format| write(&scn, &p, tag, None, format);
    let (csv, pq, pq2) = (
        go("csv", TableFormat::Csv),
        go("pq", TableFormat::Parquet),
        go("pq2", TableFormat::Parquet),
    );
    let mut names: Vec<String> = std::fs::read_dir(&pq)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let tables: Vec<&String> = names.iter().filter(|n| n.ends_with(".parquet")).collect();
    assert_eq!(
        tables,
        ["iterations.parquet", "requests.parquet", "summary.parquet"]
    );
    // Beside them the charts, each a PNG of sensible size with the CSV of its data, and an
    // index naming every chart; nothing else (no temporary file). (No prefix is shared
    // here, so no hit-rate chart.)
    let charts = [
        "batch_size_over_time",
        "kv_blocks_over_time",
        "latency_cdf",
        "memory",
    ];
    let mut want: Vec<String> = charts
        .iter()
        .flat_map(|c| [format!("{c}.csv"), format!("{c}.png")])
        .chain(tables.iter().map(|t| t.to_string()))
        .chain([
            "README.md".to_string(),
            "index.html".to_string(),
            ".planner-report".to_string(),
        ])
        .collect();
    want.sort();
    assert_eq!(names, want);
    let index = std::fs::read_to_string(pq.join("README.md")).unwrap();
    // The index names the tables in the format they were written in.
    assert!(
        index.contains("`requests.parquet`") && !index.contains("requests.csv"),
        "{index}"
    );
    for c in charts {
        let png = std::fs::read(pq.join(format!("{c}.png"))).unwrap();
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
            "{c}"
        );
        assert!(index.contains(&format!("![{c}.png]({c}.png)")), "{c}");
        let csv = std::fs::read_to_string(pq.join(format!("{c}.csv"))).unwrap();
        let header = csv.lines().next().unwrap();
        let rows = csv.lines().count() - 1;
        let (cols, min_rows) = match c {
            "latency_cdf" => ("metric,latency_ms,fraction", 100),
            "kv_blocks_over_time" => ("time_s,mean_kv_blocks_used", 50),
            "batch_size_over_time" => ("time_s,mean_batch_size", 50),
            "memory" => ("component,gib", 5),
            _ => ("tenant,prompt_tokens,cached_tokens,hit_rate", 1),
        };
        assert_eq!(header, cols, "{c}");
        assert!(rows >= min_rows, "{c}: {rows} rows");
    }
    for table in ["requests", "iterations", "summary"] {
        let f = format!("{table}.parquet");
        assert_eq!(
            std::fs::read(pq.join(&f)).unwrap(),
            std::fs::read(pq2.join(&f)).unwrap()
        );
        let a = ParquetReader::new(std::fs::File::open(pq.join(&f)).unwrap())
            .finish()
            .unwrap();
        let b = CsvReadOptions::default()
            .with_infer_schema_length(None)
            .try_into_reader_with_file_path(Some(csv.join(format!("{table}.csv"))))
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(a.get_column_names(), b.get_column_names(), "{table}");
        assert_eq!(a.height(), b.height(), "{table}");
        if table == "requests" {
            assert_eq!(a.height(), 400);
            for col in ["id", "ttft_us", "e2e_us", "prompt_tokens"] {
                let sum = |df: &polars::prelude::DataFrame| {
                    df.column(col)
                        .unwrap()
                        .cast(&polars::prelude::DataType::Float64)
                        .unwrap()
                        .as_materialized_series()
                        .sum::<f64>()
                        .unwrap()
                };
                assert_eq!(sum(&a), sum(&b), "{col}");
            }
        }
    }
}

/// A rate far above capacity still terminates; with a bounded queue the overload shows as
/// rejections.
#[test]
fn overload_terminates_and_is_reported() {
    let text = SMALL
        .replace("rate = 8.0", "rate = 1000.0")
        .replace("[model]", "[engine]\nmax_queue = 50\n[model]");
    let scn = scenario(&text);
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
    assert_eq!(s.finished + s.rejected, 400);
    assert!(s.rejected > 100, "{}", s.rejected);
    assert!(!s.slo_met);
}

/// A request of the maximum length that cannot fit in KV is refused before simulating,
/// with the numbers.
#[test]
fn longest_request_must_fit() {
    let text = SMALL
        .replace("llama-3.1-8b", "llama-3.1-70b")
        .replace(
            "[hardware]\ngpu = \"h100-sxm\"",
            "[hardware]\ngpu = \"h100-sxm\"\ntp = 2",
        )
        .replace("max_prompt_tokens = 8192", "max_prompt_tokens = 120000");
    let scn = scenario(&text);
    let e = prepare(&scn).err().expect("does not fit").to_string();
    assert!(
        e.contains("cannot fit in one replica's KV cache") && e.contains("tokens"),
        "{e}"
    );
}

/// vLLM refuses to start when one request of `max_model_len` (default: the model's 131072
/// tokens) cannot fit in its KV cache, naming the largest that would; a smaller
/// `engine.max_model_len` starts, and the other engines size their cache by memory alone.
#[test]
fn vllm_refuses_a_max_model_len_its_kv_cache_cannot_hold() {
    let l4 = SMALL.replace("gpu = \"h100-sxm\"", "gpu = \"l4\"");
    let scn = scenario(&l4);
    let e = prepare(&scn).err().expect("refused").to_string();
    assert!(
        e.contains("vLLM would refuse to start: one request of max_model_len = 131072 tokens"),
        "{e}"
    );
    // The largest that starts is the cache's token count: it starts, one token more does not.
    let most: u64 = e
        .split("set engine.max_model_len (vllm --max-model-len) to at most ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("the largest that starts");
    let with = |len: u64| {
        l4.replace(
            "[workload]",
            &format!("[engine]\nmax_model_len = {len}\n[workload]"),
        )
    };
    assert_eq!(prepare(&scenario(&with(most))).unwrap().budget.tokens, most);
    assert!(prepare(&scenario(&with(most + 1))).is_err());
    let sglang = l4.replace("[workload]", "[engine]\nkind = \"sglang\"\n[workload]");
    assert!(prepare(&scenario(&sglang)).is_ok());
}

/// A scenario can point the cost model at a measured bench file: its GEMM efficiencies
/// (relative to the Vidur A100 fit) rescale the iteration cost, so the latencies move.
#[test]
fn measured_file_changes_the_cost_model() {
    let with = SMALL.replace(
        "gpu = \"h100-sxm\"",
        "gpu = \"h100-sxm\"\nmeasured = \"../hardware/measured/nvidia-h100-80gb-hbm3.toml\"",
    );
    let run = |text: &str| summary(text).ttft.p50;
    let (a, b) = (run(SMALL), run(&with));
    assert!(a != b && (a - b).abs() / a < 0.5, "{a} vs {b}");
}

/// The aggregate decode group gives exactly what handling every sequence one by one gives:
/// the same request records, iteration rows and inter-token gaps, with the real cost model,
/// over random workloads that preempt (recompute and swap), chunk prompts and cut decodes
/// short of the token budget.
#[test]
fn grouped_decode_matches_one_by_one() {
    use rand::{RngExt, SeedableRng, rngs::StdRng};
    let scn = scenario(SMALL);
    let p = prepare(&scn).unwrap();
    let cases = [
        (
            SchedulerKind::Continuous,
            Preemption::Recompute,
            16,
            8192,
            600,
        ),
        (
            SchedulerKind::ChunkedPrefill,
            Preemption::Recompute,
            16,
            2048,
            400,
        ),
        (
            SchedulerKind::ChunkedPrefill,
            Preemption::Swap,
            32,
            512,
            300,
        ),
        (SchedulerKind::Continuous, Preemption::Swap, 8, 300, 250),
        (
            SchedulerKind::Continuous,
            Preemption::Recompute,
            16,
            8192,
            100_000,
        ),
    ];
    // Each case twice: unique prompts, and prompts sharing prefixes (two tenants' system
    // prompts, one of five documents) so the prefix cache hits, evicts and is reclaimed.
    for (i, &(scheduler, preemption, block_size, budget, blocks)) in
        cases.iter().flat_map(|c| [c, c]).enumerate()
    {
        let shared = i % 2 == 1;
        let mut rng = StdRng::seed_from_u64(100 + i as u64);
        let mut t = 0u64;
        let requests: Vec<Request> = (0..300)
            .map(|id| {
                t += rng.random_range(0..40_000_000u64);
                let (prompt, output) = (rng.random_range(1..1500), rng.random_range(1..400));
                let prefix = shared.then(|| {
                    let segments = vec![
                        Segment {
                            key: id % 2,
                            tokens: 300,
                        },
                        Segment {
                            key: 10 + rng.random_range(0..5),
                            tokens: 200,
                        },
                        Segment {
                            key: 1000 + id,
                            tokens: prompt + output,
                        },
                    ];
                    segments.into()
                });
                Request {
                    id,
                    arrival: Nanos(t),
                    prompt_tokens: prompt + if shared { 500 } else { 0 },
                    output_tokens: output,
                    tenant: (id % 2) as u32,
                    prefix,
                    ..Default::default()
                }
            })
            .collect();
        let cfg = EngineConfig {
            scheduler,
            preemption,
            block_size,
            max_num_batched_tokens: budget,
            max_num_seqs: 64,
            ..EngineConfig::default()
        };
        let go = |grouped: bool| {
            let mut sim = Simulation::new(cfg.clone(), &p.cost, 1, blocks, 1.0e5, 1 << 20);
            if !grouped {
                sim = sim.one_by_one();
            }
            let mut rec = Record::default();
            sim.run(&mut requests.clone().into_iter(), &mut rec);
            assert_eq!(sim.unfinished(), 0);
            rec.gaps.sort();
            rec
        };
        let (a, b) = (go(true), go(false));
        let preemptions: u32 = b.iterations.iter().map(|i| i.preemptions).sum();
        let hits: u32 = b.iterations.iter().map(|i| i.prefix_hit_tokens).sum();
        eprintln!(
            "case {i}: {} iterations, {preemptions} preemptions, {hits} prefix-hit tokens",
            b.iterations.len()
        );
        assert_eq!(hits > 0, shared, "case {i}");
        assert_eq!(a.done, b.done, "case {i}");
        assert_eq!(a.iterations, b.iterations, "case {i}");
        assert_eq!(a.gaps, b.gaps, "case {i}");
        // The tight cases do exercise preemption; the roomy one none.
        assert_eq!(preemptions > 0, blocks < 100_000, "case {i}");
    }
}

/// `simulate --trace` writes a trace-event file Perfetto and chrome://tracing read: every
/// event well-formed, each replica's iterations back to back without overlap, each finished
/// request an async track whose phases open and close in order.
#[test]
fn trace_file_follows_the_trace_event_format() {
    let dir = std::env::temp_dir().join(format!("planner-trace-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let scn = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/multi_tenant.toml");
    let trace = dir.join("run.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_planner"))
        .args(["simulate", scn.to_str().unwrap(), "-q", "--out"])
        .arg(dir.join("report"))
        .arg("--trace")
        .arg(&trace)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = std::fs::read_to_string(dir.join("report/summary.csv")).unwrap();
    let finished: u64 = summary
        .lines()
        .find_map(|l| l.strip_prefix("requests_finished,"))
        .unwrap()
        .parse()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&trace).unwrap()).unwrap();
    let events = v["traceEvents"].as_array().unwrap();
    let num = |e: &serde_json::Value, k: &str| e[k].as_f64().unwrap_or_else(|| panic!("{k}: {e}"));
    let mut last_end: std::collections::HashMap<u64, f64> = Default::default();
    let mut open: std::collections::HashMap<(u64, String), f64> = Default::default();
    let (mut slices, mut tracks) = (0u64, 0u64);
    for e in events {
        let ph = e["ph"].as_str().unwrap();
        assert!(e["name"].is_string() && e["pid"].is_u64(), "{e}");
        match ph {
            "M" => assert!(e["args"]["name"].is_string(), "{e}"),
            "X" => {
                let (ts, dur) = (num(e, "ts"), num(e, "dur"));
                assert!(ts >= 0.0 && dur > 0.0, "{e}");
                let pid = e["pid"].as_u64().unwrap();
                let prev = last_end.insert(pid, ts + dur).unwrap_or(0.0);
                assert!(
                    ts >= prev - 1e-3,
                    "iterations of replica {pid} overlap: {e}"
                );
                assert!(e["args"]["batch_size"].as_u64().unwrap() >= 1, "{e}");
                slices += 1;
            }
            "b" | "e" => {
                assert_eq!(e["cat"], "request", "{e}");
                let key = (
                    e["id"].as_u64().unwrap(),
                    e["name"].as_str().unwrap().to_string(),
                );
                let ts = num(e, "ts");
                if ph == "b" {
                    assert!(open.insert(key, ts).is_none(), "opened twice: {e}");
                    if e["name"].as_str().unwrap().starts_with("request ") {
                        tracks += 1;
                    }
                } else {
                    let from = open
                        .remove(&key)
                        .unwrap_or_else(|| panic!("closed unopened: {e}"));
                    assert!(ts >= from, "ends before it begins: {e}");
                }
            }
            "i" => assert_eq!(e["cat"], "request"),
            other => panic!("unexpected phase {other}: {e}"),
        }
    }
    assert!(open.is_empty(), "{} spans never closed", open.len());
    assert_eq!(tracks, finished);
    assert!(slices > finished / 10, "{slices} iterations");
    std::fs::remove_dir_all(&dir).ok();
}

/// Overload is called out: `rag.toml` at 40 req/s (about five times what one H100 serves at
/// its lengths) is flagged, the completion rate naming the capacity; at its own rate it is
/// not.
#[test]
fn overload_is_called_out() {
    let rag = include_str!("../../scenarios/rag.toml");
    let rate = |r: &str| rag.replacen("\nrate = ", &format!("\nrate = {r}\n# was "), 1);
    let hot = super::common::summary(&rate("40.0"));
    let o = hot.overload.expect("40 req/s overloads one H100");
    assert!(o.offered_rps > 35.0 && o.served_rps < 12.0, "{o:?}");
    assert!(
        hot.rows()
            .iter()
            .any(|(k, v)| k == "OVERLOADED" && v.contains("capacity ≈"))
    );
    assert!(hot.digest().starts_with("OVERLOADED arrivals at "));
    assert!(super::common::summary(rag).overload.is_none());
}

/// Clamped lengths are counted, each once, and named: clamping moves no random stream, so
/// the requests a limit cuts are those the same workload without limits draws longer than
/// it (plain and RAG prompts, whose shared documents count toward the limit); the summary
/// counts exactly the requests its source marked (multi-turn conversations too), and a
/// run within its limits says nothing.
#[test]
fn clamped_lengths_are_counted_and_named() {
    let base = "name = \"c\"\nseed = 3\n[model]\nname = \"llama-3.1-8b\"\n[hardware]\n\
                gpu = \"h100-sxm\"\n[workload]\narrival = \"poisson\"\nrate = 4\n\
                num_requests = 300\nprompt = { dist = \"lognormal\", median = 700, sigma = 0.7 }\n\
                output = { dist = \"lognormal\", median = 90, sigma = 0.7 }\n";
    let limits = |p: u32, o: u32| format!("max_prompt_tokens = {p}\nmax_output_tokens = {o}\n");
    let rag = "[workload.rag]\ndocuments = 50\nper_request = 2\n\
               document_tokens = { dist = \"fixed\", value = 200 }\n";
    let sessions = "[workload.sessions]\nturns = { dist = \"uniform\", min = 1, max = 4 }\n\
                    think_time_s = 2.0\nthink_from = \"arrival\"\n";
    let drawn = |text: &str| -> Vec<Request> {
        planner::workload::requests(&scenario(text).workload, &RngStreams::new(3))
            .unwrap()
            .collect()
    };
    for extra in ["", rag, sessions] {
        let limited = format!("{base}{}{extra}", limits(1200, 120));
        let marked = drawn(&limited);
        let count = |f: fn(&Request) -> bool| marked.iter().filter(|r| f(r)).count() as u64;
        let (prompts, outputs) = (count(|r| r.clamped.prompt), count(|r| r.clamped.output));
        assert!(prompts > 20 && outputs > 20, "{extra}: {prompts} {outputs}");
        assert!(
            marked
                .iter()
                .all(|r| !r.clamped.prompt || r.prompt_tokens == 1200)
        );
        assert!(
            marked
                .iter()
                .all(|r| !r.clamped.output || r.output_tokens == 120)
        );
        if extra != sessions {
            // Conversations that outgrow the limit end, so only single requests compare.
            let free = drawn(&format!("{base}{}{extra}", limits(100_000, 4000)));
            let over = |f: fn(&Request) -> bool| free.iter().filter(|r| f(r)).count() as u64;
            assert_eq!(prompts, over(|r| r.prompt_tokens > 1200), "{extra}");
            assert_eq!(outputs, over(|r| r.output_tokens > 120), "{extra}");
        }
        let s = summary(&limited);
        assert_eq!((s.clamped.prompts, s.clamped.outputs), (prompts, outputs));
        let rows = s.rows();
        let row = |k: &str| rows.iter().find(|r| r.0 == k).map(|r| r.1.clone());
        let n = s.finished + s.rejected;
        assert_eq!(
            row("prompts_clamped").unwrap(),
            format!(
                "{prompts} of {n} prompts cut to workload.max_prompt_tokens = 1200: simulated shorter than drawn"
            )
        );
        assert!(
            row("outputs_clamped")
                .unwrap()
                .starts_with(&format!("{outputs} of {n} outputs"))
        );
    }
    let whole = summary(&format!("{base}{}", limits(100_000, 4000)));
    assert_eq!((whole.clamped.prompts, whole.clamped.outputs), (0, 0));
    assert!(!whole.rows().iter().any(|r| r.0.ends_with("_clamped")));
}

/// Every simulation report folder has an `index.html`: well-formed, self-contained, one
/// inline SVG per PNG chart, the verdicts first.
#[test]
fn html_report_is_well_formed_and_self_contained() {
    let dir = std::env::temp_dir().join(format!("planner-html-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let scn = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/noisy_neighbour.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_planner"))
        .args([
            "simulate",
            scn.to_str().unwrap(),
            "-q",
            "--requests",
            "300",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = crate::common::check_html(&dir);
    assert!(html.matches("<svg").count() >= 5);
    // The verdicts come first.
    let verdicts = html.find("<h2>Verdicts</h2>").expect("verdicts");
    assert!(verdicts < html.find("<h2>Charts</h2>").unwrap());
    assert!(html.contains("<h2>Tenants</h2>") && html.contains("<h2>Scenario</h2>"));
    std::fs::remove_dir_all(&dir).ok();

    // An overloaded run's page leads with the warning, marked as one, before the SLOs.
    let rag = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/rag.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_planner"))
        .args(["simulate", rag.to_str().unwrap(), "-q", "--rate", "40"])
        .args(["--requests", "300", "--tables", "none", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let html = crate::common::check_html(&dir);
    let warn = html
        .find("<li class=\"warn\">⚠ <strong>OVERLOADED</strong>: arrivals at")
        .expect("the overload warning");
    assert!(
        warn < html
            .find("<li class=\"bad\">✗ ttft_p90")
            .expect("the missed SLO")
    );
    std::fs::remove_dir_all(&dir).ok();
}
