//! Prefix caching in the engine: the Mooncake trace's hit rate against the value its hash
//! lists give, the fall with cache capacity, and the tenant closed form with isolation.

use planner::catalog::Catalog;
use planner::kv::Isolation;
use planner::kv::prefix::trace_hit_rate_unbounded;
use planner::scenario::Scenario;
use planner::serving::engine::Simulation;
use planner::serving::tenancy::{Tenancy, TenantPolicy, TenantScheduling};
use planner::serving::{IterationDone, Observer, RequestDone};
use planner::sim::{Nanos, RngStreams};
use planner::simulate::prepare;
use planner::workload::{Request, Segment, requests, source};
use std::path::Path;
use std::sync::Arc;

const TRACE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/traces/mooncake_conversation_trace.jsonl"
);

#[derive(Default)]
struct Hits {
    lookup: u64,
    hit: u64,
    done: Vec<RequestDone>,
}

impl Observer for Hits {
    fn request(&mut self, d: &RequestDone) {
        self.done.push(d.clone());
    }
    fn inter_token(&mut self, _: Nanos, _: u32) {}
    fn iteration(&mut self, it: &IterationDone) {
        self.lookup += it.prefix_lookup_tokens as u64;
        self.hit += it.prefix_hit_tokens as u64;
    }
}

/// The trace replayed one request at a time (time stretched 1000×) on one replica with
/// `blocks` KV blocks of 16 tokens: (hit tokens, prompt tokens).
fn replay(limit: u64, blocks: u32) -> (u64, u64) {
    let text = format!(
        "name = \"t\"\n[model]\nname = \"llama-3.1-8b\"\n[hardware]\ngpu = \"h100-sxm\"\n\
         [workload]\narrival = \"trace\"\ntrace = \"{TRACE}\"\ntime_scale = 0.001\n\
         num_requests = {limit}\nmax_prompt_tokens = 128000\nmax_output_tokens = 3000\n"
    );
    let scn = Scenario::from_str(&text, Path::new("t.toml"), &Catalog::builtin()).unwrap();
    let p = prepare(&scn).unwrap();
    let mut sim = Simulation::new(scn.engine.clone(), &p.cost, 1, blocks, 1.0, 1 << 20);
    let mut obs = Hits::default();
    let mut reqs = requests(&scn.workload, &RngStreams::new(0)).unwrap();
    sim.run(&mut reqs, &mut obs);
    assert_eq!(sim.unfinished(), 0);
    assert_eq!(sim.kv_blocks_in_use(), 0);
    (obs.hit, obs.lookup)
}

fn trace_lists(limit: usize) -> Vec<(u64, Vec<u64>)> {
    #[derive(serde::Deserialize)]
    struct Row {
        input_length: u64,
        hash_ids: Vec<u64>,
    }
    std::fs::read_to_string(TRACE)
        .unwrap()
        .lines()
        .take(limit)
        .map(|l| {
            let r: Row = serde_json::from_str(l).unwrap();
            (r.input_length, r.hash_ids)
        })
        .collect()
}

/// With room for every block, the engine's hit rate on the whole trace is the one its hash
/// lists give (`trace_hit_rate_unbounded`), less what the engine's conventions cost: it
/// caches only full 16-token blocks (the tokens of a partial last block past the last
/// multiple of 16 are recomputed) and always recomputes at least one prompt token.
#[test]
fn mooncake_replay_matches_the_hash_lists() {
    let (hit, lookup) = replay(20_000, 8_000_000);
    let (want_hit, want_total) = trace_hit_rate_unbounded(&trace_lists(20_000), 512);
    assert_eq!(lookup, want_total, "every prompt token is looked up once");
    let (got, want) = (
        hit as f64 / lookup as f64,
        want_hit as f64 / want_total as f64,
    );
    eprintln!("engine {got:.5} vs hash lists {want:.5} ({hit} vs {want_hit} tokens)");
    assert!(hit <= want_hit);
    assert!(want - got < 0.001, "{got} vs {want}");
}

/// With a finite cache the hit rate falls as the capacity shrinks (LRU: a smaller cache
/// holds a subset of what a larger one holds, one request at a time).
#[test]
fn hit_rate_falls_with_capacity() {
    let rates: Vec<f64> = [2_000_000, 100_000, 30_000, 10_000]
        .iter()
        .map(|&b| {
            let (h, l) = replay(2500, b);
            h as f64 / l as f64
        })
        .collect();
    eprintln!("hit rate by capacity (2M, 100k, 30k, 10k blocks): {rates:?}");
    assert!(rates.windows(2).all(|w| w[0] >= w[1]), "{rates:?}");
    assert!(rates[0] > rates[3] + 0.05, "{rates:?}");
}

/// T tenants, each sending N requests (one at a time) of an S-token system prompt then a
/// unique question. Per tenant, every request after the first hits the system prompt:
/// T·(N−1)·S hit tokens. With byte-identical system prompts across tenants, `shared`
/// isolation lets every request after the very first hit it, (T·N−1)·S, the same as one
/// tenant sending T·N requests; `per_tenant` keeps them apart (no tenant's first request hits
/// another's blocks), under every order across tenants (fifo, fair, priority).
#[test]
fn tenants_closed_form_and_isolation() {
    let (t, n, s, q) = (3u32, 20u32, 320u32, 100u32);
    let scn = Scenario::from_str(
        "name = \"t\"\n[model]\nname = \"llama-3.1-8b\"\n[hardware]\ngpu = \"h100-sxm\"\n\
         [workload]\narrival = \"poisson\"\nrate = 1.0\nnum_requests = 1\n\
         prompt = { dist = \"fixed\", value = 10 }\noutput = { dist = \"fixed\", value = 10 }\n",
        Path::new("t.toml"),
        &Catalog::builtin(),
    )
    .unwrap();
    let p = prepare(&scn).unwrap();
    let run_as = |isolation: Isolation, tenants: u32, scheduling: TenantScheduling| {
        let mut cfg = scn.engine.clone();
        cfg.prefix_isolation = isolation;
        cfg.tenancy = Tenancy {
            scheduling,
            tenants: (0..tenants)
                .map(|i| TenantPolicy {
                    priority: i as i64,
                    ..TenantPolicy::open(&format!("t{i}"))
                })
                .collect(),
        };
        let reqs: Vec<Request> = (0..t * n)
            .map(|i| Request {
                id: i as u64,
                arrival: Nanos(i as u64 * 1_000_000_000),
                prompt_tokens: s + q,
                output_tokens: 10,
                tenant: i % tenants,
                prefix: Some(Arc::from(vec![
                    // The same system prompt text for everyone.
                    Segment { key: 7, tokens: s },
                    Segment {
                        key: 1000 + i as u64,
                        tokens: q + 10,
                    },
                ])),
                ..Default::default()
            })
            .collect();
        let mut sim = Simulation::new(cfg, &p.cost, 1, 100_000, 1.0, 1 << 20);
        let mut obs = Hits::default();
        sim.run(&mut reqs.into_iter(), &mut obs);
        assert_eq!(obs.lookup, ((s + q) * t * n) as u64);
        obs
    };
    let run = |isolation, tenants| run_as(isolation, tenants, TenantScheduling::Fifo);
    // No tenant ever hits another's blocks, whatever the order across tenants.
    for scheduling in [
        TenantScheduling::Fifo,
        TenantScheduling::Fair,
        TenantScheduling::Priority,
    ] {
        let per_tenant = run_as(Isolation::PerTenant, t, scheduling);
        assert_eq!(per_tenant.hit, (t * (n - 1) * s) as u64, "{scheduling:?}");
        for d in &per_tenant.done {
            let first_of_its_tenant = d.req.id < t as u64;
            assert_eq!(
                d.cached_tokens == 0,
                first_of_its_tenant,
                "{scheduling:?}: request {}",
                d.req.id
            );
        }
    }
    let per_tenant = run(Isolation::PerTenant, t);
    let shared = run(Isolation::Shared, t);
    assert_eq!(shared.hit, ((t * n - 1) * s) as u64);
    let one = run(Isolation::Shared, 1);
    assert_eq!(one.hit, shared.hit);
    assert!(per_tenant.hit < shared.hit);
    eprintln!(
        "hit rates: per_tenant {:.4}, shared {:.4}, one tenant {:.4}",
        per_tenant.hit as f64 / per_tenant.lookup as f64,
        shared.hit as f64 / shared.lookup as f64,
        one.hit as f64 / one.lookup as f64
    );
}

/// Requests by their segments (prompt and answer): the turn before a request is the one
/// whose segments are its history, all its segments but its own question and answer.
fn previous_turns(reqs: &[Request]) -> std::collections::HashMap<Vec<Segment>, &Request> {
    reqs.iter()
        .map(|r| (r.prefix.clone().unwrap().to_vec(), r))
        .collect()
}

/// Conversations under load (think time 1 s, answers take longer): closed loop, every turn
/// arrives a think time after its previous turn's answer ended; open loop (`think_from =
/// "arrival"`), turns arrive while the previous answer is still being generated.
#[test]
fn closed_loop_turns_wait_for_the_answer() {
    let run = |think_from: &str| {
        let text = format!(
            "name = \"t\"\n[model]\nname = \"llama-3.1-8b\"\n[hardware]\ngpu = \"h100-sxm\"\n\
             [workload]\narrival = \"poisson\"\nrate = 4.0\nnum_requests = 3000\n\
             max_prompt_tokens = 100000\nmax_output_tokens = 2000\n\
             prompt = {{ dist = \"lognormal\", median = 150, sigma = 0.8 }}\n\
             output = {{ dist = \"lognormal\", median = 250, sigma = 0.7 }}\n\
             [[workload.tenants]]\nname = \"app\"\nshare = 1.0\nsystem_prompt_tokens = 500\n\
             [workload.sessions]\nturns = {{ dist = \"uniform\", min = 2, max = 8 }}\n\
             think_time_s = 1.0\nthink_from = \"{think_from}\"\n"
        );
        let scn = Scenario::from_str(&text, Path::new("t.toml"), &Catalog::builtin()).unwrap();
        let p = prepare(&scn).unwrap();
        let mut sim = Simulation::new(scn.engine.clone(), &p.cost, 1, 200_000, 1.0, 1 << 20);
        let mut obs = Hits::default();
        sim.run(
            &mut source(&scn.workload, &RngStreams::new(0)).unwrap(),
            &mut obs,
        );
        assert_eq!(obs.done.len(), 3000, "{think_from}: every turn issued ends");
        assert_eq!(sim.unfinished(), 0);
        let ends: std::collections::HashMap<u64, Nanos> =
            obs.done.iter().map(|d| (d.req.id, d.last_token)).collect();
        let reqs: Vec<Request> = obs.done.iter().map(|d| d.req.clone()).collect();
        let prev = previous_turns(&reqs);
        let (mut later, mut early) = (0, 0);
        for r in &reqs {
            let segs = r.prefix.clone().unwrap();
            if let Some(p) = prev.get(&segs[..segs.len() - 2]) {
                later += 1;
                if r.arrival < ends[&p.id] {
                    early += 1;
                }
            }
        }
        (later, early)
    };
    let (later, early) = run("answer");
    assert!(later > 2000, "{later} later turns");
    assert_eq!(
        early, 0,
        "closed loop: {early} turns came before their answer"
    );
    let (later, early) = run("arrival");
    assert!(later > 2000, "{later} later turns");
    assert!(
        early > 100,
        "open loop: only {early} turns came before their answer"
    );
}

/// Multi-turn conversations, each turn long after the last has finished: every turn after
/// a conversation's first finds the whole previous turn (its prompt and its answer) in the
/// cache, to the last full block; every first turn but the very first finds the system
/// prompt.
#[test]
fn each_turn_reuses_the_conversation_so_far() {
    let text = "name = \"t\"\n[model]\nname = \"llama-3.1-8b\"\n[hardware]\ngpu = \"h100-sxm\"\n\
        [workload]\narrival = \"poisson\"\nrate = 0.001\nnum_requests = 300\n\
        max_prompt_tokens = 100000\nmax_output_tokens = 2000\n\
        prompt = { dist = \"lognormal\", median = 150, sigma = 0.8 }\n\
        output = { dist = \"lognormal\", median = 250, sigma = 0.7 }\n\
        [[workload.tenants]]\nname = \"app\"\nshare = 1.0\nsystem_prompt_tokens = 500\n\
        [workload.sessions]\nturns = { dist = \"uniform\", min = 1, max = 8 }\nthink_time_s = 20000.0\n";
    let scn = Scenario::from_str(text, Path::new("t.toml"), &Catalog::builtin()).unwrap();
    let p = prepare(&scn).unwrap();
    let mut sim = Simulation::new(scn.engine.clone(), &p.cost, 1, 1_000_000, 1.0, 1 << 20);
    let mut obs = Hits::default();
    sim.run(
        &mut source(&scn.workload, &RngStreams::new(0)).unwrap(),
        &mut obs,
    );
    assert_eq!(obs.done.len(), 300);
    let reqs: Vec<Request> = obs.done.iter().map(|d| d.req.clone()).collect();
    let by_segments = previous_turns(&reqs);
    let bs = 16;
    let (mut later_turns, mut first_seen) = (0, false);
    for d in obs.done.iter() {
        let segs = d.req.prefix.clone().unwrap();
        let history = &segs[..segs.len() - 2];
        let reusable = match by_segments.get(history) {
            Some(prev) => {
                later_turns += 1;
                prev.prompt_tokens + prev.output_tokens - 1
            }
            None if first_seen => 500,
            None => 0,
        };
        if !by_segments.contains_key(history) {
            first_seen = true;
        }
        let want = (reusable / bs).min((d.req.prompt_tokens - 1) / bs) * bs;
        assert_eq!(d.cached_tokens, want, "request {}", d.req.id);
    }
    assert!(later_turns > 100, "{later_turns}");
}

/// A tenant's own SLO is judged on that tenant's requests: the interactive tenant ("chat")
/// gets a TTFT target between its own p90 and the other tenant's, and the run meets or
/// misses it as the tenant's figure says, whatever the global percentile.
#[test]
fn per_tenant_slo_judges_that_tenants_requests() {
    let base = "name = \"t\"\n[model]\nname = \"llama-3.1-8b\"\n[hardware]\ngpu = \"h100-sxm\"\n\
        [engine]\nscheduler = \"chunked_prefill\"\n\
        [workload]\narrival = \"poisson\"\nrate = 6.0\nnum_requests = 3000\n\
        max_prompt_tokens = 16000\nmax_output_tokens = 2000\n\
        prompt = { dist = \"lognormal\", median = 100, sigma = 0.5 }\n\
        output = { dist = \"lognormal\", median = 100, sigma = 0.5 }\n\
        [[workload.tenants]]\nname = \"chat\"\nshare = 0.5\nsystem_prompt_tokens = 100\n\
        [[workload.tenants]]\nname = \"docs\"\nshare = 0.5\nsystem_prompt_tokens = 6000\nsystem_prompts = 400\n";
    let p90 = |s: &planner::simulate::RunSummary, tenant: &str| -> f64 {
        s.tenants
            .iter()
            .find(|t| t.name == tenant)
            .unwrap()
            .ttft
            .p90
            * 1e3
    };
    let plain = crate::common::summary(base);
    let (chat, docs) = (p90(&plain, "chat"), p90(&plain, "docs"));
    assert!(docs > 1.25 * chat, "chat {chat} ms, docs {docs} ms");
    for (limit, met) in [(chat * 1.1, true), (chat * 0.9, false)] {
        let s = crate::common::summary(&format!(
            "{base}[slo.tenants.chat]\nttft_ms = {{ p90 = {limit} }}\n"
        ));
        let v = &s.slo[0];
        assert_eq!(v.name(), "tenant_chat_ttft_p90");
        assert!(
            (v.measured_ms - chat).abs() < 1e-9,
            "{} vs {chat}",
            v.measured_ms
        );
        assert_eq!(s.slo_met, met, "limit {limit} ms, chat p90 {chat} ms");
        // The same limit on everyone's p90 is missed: the docs tenant is slower.
        let all = crate::common::summary(&format!("{base}[slo]\nttft_ms = {{ p90 = {limit} }}\n"));
        assert!(!all.slo_met);
    }
}
