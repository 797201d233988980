//! Speculative decoding: the simulated acceptance and speedup against the closed forms of
//! Leviathan et al. (2023), the load at which it stops paying, KV rollback without leaks,
//! and the settings it refuses.

use super::common::{scenario, summary};
use planner::catalog::Catalog;
use planner::cost::iteration::SeqWork;
use planner::kv::paged::BlockAllocator;
use planner::scenario::Scenario;
use planner::serving::engine::Simulation;
use planner::serving::spec::{Acceptance, DraftCost, SpecRun, expected_tokens};
use planner::serving::{IterationDone, Observer, RequestDone};
use planner::sim::{Nanos, RngStreams};
use planner::simulate::prepare;
use planner::speculate::sweep;
use planner::workload::Request;
use rand::{RngExt, SeedableRng, rngs::StdRng};
use std::path::Path;

fn spec_decode() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/spec_decode.toml"
    ))
    .unwrap()
}

/// One request at a time: 100-token prompts, 600 output tokens, far-apart arrivals.
fn batch_one(text: &str) -> String {
    text.replace("arrival = \"poisson\"", "arrival = \"constant\"")
        .replace("rate = 1.0", "rate = 0.02")
        .replace("num_requests = 600", "num_requests = 40")
        .replace(
            "prompt = { dist = \"lognormal\", median = 600, sigma = 0.7 }",
            "prompt = { dist = \"fixed\", value = 100 }",
        )
        .replace(
            "output = { dist = \"lognormal\", median = 300, sigma = 0.6 }",
            "output = { dist = \"fixed\", value = 600 }",
        )
}

/// With a constant α the mean tokens per verification converge to
/// (1 − α^(γ+1)) / (1 − α) (here over 46,000 to 137,000 verifications).
#[test]
fn tokens_per_verification_converge_to_the_closed_form() {
    for (alpha, gamma) in [(0.7, 4), (0.5, 2), (0.9, 6)] {
        let text = spec_decode()
            .replace("acceptance = 0.7", &format!("acceptance = {alpha}"))
            .replace(
                "num_speculative_tokens = 4",
                &format!("num_speculative_tokens = {gamma}"),
            )
            .replace("num_requests = 600", "num_requests = 800")
            .replace(
                "output = { dist = \"lognormal\", median = 300, sigma = 0.6 }",
                "output = { dist = \"fixed\", value = 300 }",
            );
        let sp = summary(&text).spec.expect("speculating");
        let simulated = (sp.accepted + sp.verified) as f64 / sp.verified as f64;
        let want = expected_tokens(alpha, gamma);
        eprintln!(
            "α = {alpha}, γ = {gamma}: {simulated:.4} tokens per verification over {} verifications, closed form {want:.4}",
            sp.verified
        );
        assert!(sp.verified > 40_000, "{}", sp.verified);
        assert!(
            (simulated / want - 1.0).abs() < 0.01,
            "{simulated} vs {want}"
        );
        assert_eq!(sp.drafted, sp.verified * gamma as u64);
    }
}

/// At batch size 1 the speedup is E[tokens] / (γ·c + 1), c the draft/target step-time ratio
/// of the cost model (the verification of γ + 1 tokens costs about one decode step there).
#[test]
fn batch_one_speedup_matches_the_closed_form() {
    let base_text = batch_one(&spec_decode());
    let scn = scenario(&base_text);
    let p = prepare(&scn).unwrap();
    let draft = p.draft_cost.as_ref().unwrap();
    // c at the mean context over the run (prompt 100 + half the output).
    let w = [SeqWork {
        context: 400,
        tokens: 1,
    }];
    let c = draft.iteration_seconds(&w, 1) / p.cost.iteration_seconds(&w, 1);
    let no_spec = {
        let mut t = String::new();
        let mut skip = false;
        for line in base_text.lines() {
            if line.starts_with('[') {
                skip = line == "[engine.speculative]";
            }
            if !skip {
                t.push_str(line);
                t.push('\n');
            }
        }
        summary(&t)
    };
    for (alpha, gamma) in [(0.7, 4), (0.8, 2), (0.6, 6)] {
        let text = base_text
            .replace("acceptance = 0.7", &format!("acceptance = {alpha}"))
            .replace(
                "num_speculative_tokens = 4",
                &format!("num_speculative_tokens = {gamma}"),
            );
        let s = summary(&text);
        let simulated = no_spec.tpot.mean / s.tpot.mean;
        let want = expected_tokens(alpha, gamma) / (gamma as f64 * c + 1.0);
        eprintln!(
            "α = {alpha}, γ = {gamma}, c = {c:.4}: simulated speedup {simulated:.3}, closed form {want:.3}"
        );
        assert!(
            (simulated / want - 1.0).abs() < 0.05,
            "{simulated} vs {want}"
        );
    }
}

/// At low load speculation pays; at high load (large, compute-bound batches) the γ + 1
/// positions verified per sequence cost more than the accepted tokens save, and with a
/// low α the speedup turns into a slowdown. The sweep finds the sign change.
#[test]
fn speculation_stops_paying_under_load() {
    let text = spec_decode().replace("acceptance = 0.7", "acceptance = 0.5");
    let scn = scenario(&text);
    let s = sweep(&scn, &[0.5, 2.0, 8.0, 32.0], &[4]).unwrap();
    eprint!("{}", s.render());
    let speedups: Vec<f64> = s
        .rows
        .iter()
        .filter(|r| r.gamma == 4)
        .map(|r| r.tpot_speedup)
        .collect();
    assert!(speedups[0] > 1.2, "{speedups:?}");
    assert!(speedups[3] < 1.0, "{speedups:?}");
    let cross = s.crossovers()[0].1.expect("a crossover");
    assert!(cross > 0.5 && cross <= 32.0, "{cross}");
    // Parallel sweeps give the same rows as a serial one.
    let serial = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| sweep(&scn, &[0.5, 2.0, 8.0, 32.0], &[4]).unwrap());
    assert_eq!(serial.rows, s.rows);
}

/// The allocator under 10⁵ speculative steps (append γ + 1 lookahead slots, keep the
/// accepted ones, roll the rest back, sometimes finish and start over) against a naive
/// twin that keeps only token counts: the same blocks in use after every step, and every
/// block back on the free list at the end.
#[test]
fn rollback_leaks_no_blocks() {
    let (num_blocks, bs, seqs, gamma) = (4096u32, 16u32, 32usize, 5u32);
    let mut alloc = BlockAllocator::new(num_blocks, bs);
    let mut twin = vec![0u32; seqs];
    let mut rng = StdRng::seed_from_u64(9);
    let a = Acceptance::Constant(0.6);
    for step in 0..100_000u32 {
        let slot = rng.random_range(0..seqs);
        if rng.random_range(0..200) == 0 || twin[slot] > 1500 {
            alloc.free(slot as u32);
            twin[slot] = 0;
        } else if twin[slot] == 0 {
            let prompt = rng.random_range(1..300);
            alloc.append(slot as u32, prompt).unwrap();
            twin[slot] = prompt;
        } else {
            alloc.append(slot as u32, gamma + 1).unwrap();
            let kept = a.accepted(gamma, f64::NAN, &mut rng) + 1;
            alloc.truncate(slot as u32, gamma + 1 - kept);
            twin[slot] += kept;
        }
        let want: u32 = twin.iter().map(|t| t.div_ceil(bs)).sum();
        assert_eq!(alloc.used_blocks(), want, "step {step}");
        assert_eq!(alloc.tokens(slot as u32), twin[slot], "step {step}");
    }
    for slot in 0..seqs {
        alloc.free(slot as u32);
    }
    assert_eq!(alloc.free_blocks(), num_blocks);
}

#[derive(Default)]
struct Peak {
    max_blocks: u32,
    verified: u64,
    preemptions: u64,
    finished: u64,
}

impl Observer for Peak {
    fn request(&mut self, _: &RequestDone) {
        self.finished += 1;
    }
    fn inter_token(&mut self, _: Nanos, _: u32) {}
    fn iteration(&mut self, it: &IterationDone) {
        self.max_blocks = self.max_blocks.max(it.kv_blocks_used);
        self.verified += it.spec_verified as u64;
        self.preemptions += it.preemptions as u64;
    }
}

/// The engine over >10⁵ verifications with random acceptance and block pressure (preemption):
/// never more blocks than the pool, and none held once every request has finished.
#[test]
fn engine_rollback_leaks_no_blocks() {
    let scn = scenario(&spec_decode());
    let p = prepare(&scn).unwrap();
    let mut rng = StdRng::seed_from_u64(4);
    let mut t = 0u64;
    let requests: Vec<Request> = (0..2000)
        .map(|id| {
            t += rng.random_range(0..20_000_000u64);
            Request {
                id,
                arrival: Nanos(t),
                prompt_tokens: rng.random_range(1..800),
                output_tokens: rng.random_range(1..600),
                ..Request::default()
            }
        })
        .collect();
    let blocks = 3000;
    let mut sim = Simulation::new(scn.engine.clone(), &p.cost, 1, blocks, 1e5, 1 << 20)
        .with_speculation(SpecRun {
            num_tokens: 4,
            acceptance: Acceptance::Beta { a: 3.0, b: 2.0 },
            draft: DraftCost::Model(p.draft_cost.as_ref().unwrap()),
            streams: RngStreams::new(1),
        });
    let mut obs = Peak::default();
    sim.run(&mut requests.into_iter(), &mut obs);
    eprintln!(
        "{} verifications, {} preemptions, peak {} of {blocks} blocks",
        obs.verified, obs.preemptions, obs.max_blocks
    );
    assert_eq!(obs.finished, 2000);
    assert!(obs.verified > 100_000);
    assert!(obs.preemptions > 0);
    assert!(obs.max_blocks <= blocks);
    assert_eq!(sim.kv_blocks_in_use(), 0);
    assert_eq!(sim.unfinished(), 0);
}

fn error(from: &str, to: &str) -> String {
    let text = spec_decode().replace(from, to);
    assert_ne!(text, spec_decode(), "{from} not in the scenario");
    Scenario::from_str(
        &text,
        Path::new("scenarios/spec_decode.toml"),
        &Catalog::builtin(),
    )
    .expect_err("an error")
    .to_string()
}

/// γ out of range, α outside [0, 1], a draft as large as the target or with another
/// vocabulary, speculation with static batching: each named with its line.
#[test]
fn bad_settings_are_refused() {
    let e = error("num_speculative_tokens = 4", "num_speculative_tokens = 0");
    assert!(
        e.contains(
            "spec_decode.toml:23: engine.speculative.num_speculative_tokens = 0: must be in 1..=16"
        ),
        "{e}"
    );
    let e = error("num_speculative_tokens = 4", "num_speculative_tokens = 17");
    assert!(e.contains("must be in 1..=16"), "{e}");
    let e = error("acceptance = 0.7", "acceptance = 1.3");
    assert!(
        e.contains("engine.speculative.acceptance") && e.contains("[0, 1]"),
        "{e}"
    );
    let e = error("acceptance = 0.7", "acceptance = [0.9, -0.2]");
    assert!(e.contains("[0, 1]"), "{e}");
    let e = error("acceptance = 0.7", "acceptance = { beta = [0, 2] }");
    assert!(e.contains("positive"), "{e}");
    let e = error(
        "draft_model = \"llama-3.2-1b\"",
        "draft_model = \"llama-3.1-405b\"",
    );
    assert!(e.contains("not smaller than the target"), "{e}");
    let e = error(
        "draft_model = \"llama-3.2-1b\"",
        "draft_model = \"qwen2.5-0.5b\"",
    );
    assert!(e.contains("vocabulary"), "{e}");
    let e = error("scheduler = \"chunked_prefill\"", "scheduler = \"static\"");
    assert!(
        e.contains("speculative decoding needs iteration-level scheduling"),
        "{e}"
    );
    let e = error("method = \"draft_model\"", "method = \"medusa\"");
    assert!(
        e.contains("must be \"draft_model\", \"ngram\" or \"head\""),
        "{e}"
    );
    let e = error("method = \"draft_model\"", "method = \"ngram\"");
    assert!(
        e.contains("only method = \"draft_model\" takes a draft model"),
        "{e}"
    );
}
