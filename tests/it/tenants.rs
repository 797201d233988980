//! Tenants of one service (issue #16): the gateway's rate limits, the scheduler's caps,
//! fair share by weight and priority preemption in closed form; each tenant's own traffic;
//! conservation and determinism per tenant; bad policies refused with file, line and key.

use super::common::{Record, assert_refused, bare_engine, scenario, scenario_err};
use planner::cost::iteration::IterationCost;
use planner::serving::config::EngineConfig;
use planner::serving::engine::Simulation;
use planner::serving::tenancy::{Bucket, OnLimit, Tenancy, TenantPolicy, TenantScheduling};
use planner::serving::{Outcome, RequestDone};
use planner::sim::{Nanos, RngStreams};
use planner::simulate::{SimOptions, prepare, simulate};
use planner::workload::Request;

fn req(id: u64, tenant: u32, at_ms: u64, prompt: u32, output: u32) -> Request {
    Request {
        id,
        arrival: Nanos(at_ms * 1_000_000),
        prompt_tokens: prompt,
        output_tokens: output,
        tenant,
        ..Request::default()
    }
}

fn ms(m: u64) -> Nanos {
    Nanos(m * 1_000_000)
}

/// Constant 10 ms iterations, the engine's own clock (no API time, no async scheduling),
/// blocks of 16 tokens.
fn run(tenancy: Tenancy, max_num_seqs: u32, blocks: u32, requests: Vec<Request>) -> Record {
    let cfg = EngineConfig {
        api_in_s: 0.0,
        api_out_s: 0.0,
        async_scheduling: false,
        max_num_seqs,
        block_size: 16,
        tenancy,
        ..EngineConfig::default()
    };
    let cost = IterationCost::constant(0.010);
    let mut sim = Simulation::new(cfg, &cost, 1, blocks, 1.0, 1 << 20);
    let mut rec = Record::default();
    sim.run(&mut requests.into_iter(), &mut rec);
    assert_eq!(sim.unfinished(), 0);
    rec
}

fn two(scheduling: TenantScheduling, a: TenantPolicy, b: TenantPolicy) -> Tenancy {
    Tenancy {
        scheduling,
        tenants: vec![a, b],
    }
}

/// Two tenants with 300 requests each waiting from t = 0, four sequences at a time: under
/// `fair` (VTC) the requests served while both are backlogged split as their weights,
/// 2 : 1, then 1 : 1 with equal weights; `fifo` serves them in arrival order.
#[test]
fn fair_share_of_two_saturated_tenants_follows_their_weights() {
    let requests = || -> Vec<Request> {
        (0..600)
            .map(|i| req(i, (i / 300) as u32, 0, 16, 16))
            .collect()
    };
    let share = |rec: &Record| {
        // The first 300 to finish: both tenants are backlogged all along.
        let mut done: Vec<&RequestDone> = rec.done.iter().collect();
        done.sort_by_key(|d| (d.last_token, d.req.id));
        let first = done[..300].iter().filter(|d| d.req.tenant == 0).count();
        first as f64 / (300 - first) as f64
    };
    let weighted = |w: f64| TenantPolicy {
        weight: w,
        ..TenantPolicy::open("a")
    };
    let served = |scheduling, a: f64, b: f64| {
        share(&run(
            two(scheduling, weighted(a), weighted(b)),
            4,
            100_000,
            requests(),
        ))
    };
    let r = served(TenantScheduling::Fair, 2.0, 1.0);
    assert!((r - 2.0).abs() < 0.15, "weights 2:1 served {r:.3}:1");
    let r = served(TenantScheduling::Fair, 1.0, 1.0);
    assert!((r - 1.0).abs() < 0.1, "weights 1:1 served {r:.3}:1");
    // Arrival order: tenant 0's 300 requests all come first.
    assert!(served(TenantScheduling::Fifo, 2.0, 1.0) > 100.0);
}

/// A low-priority request (tenant 1: prompt 100, 7 blocks of 10) is decoding when a
/// high-priority one (tenant 0: prompt 80, 5 blocks) arrives at 25 ms. At the step boundary
/// at 30 ms only 3 blocks are free: under `priority` the low one is preempted then and the
/// high one prefills in the step 30–40 ms; under `fifo` it waits until the low one has
/// finished (its 50th token at 500 ms).
#[test]
fn priority_preempts_a_worse_request_at_a_computable_time() {
    let ranked = |p: i64| TenantPolicy {
        priority: p,
        ..TenantPolicy::open("t")
    };
    let requests = || vec![req(0, 1, 0, 100, 50), req(1, 0, 25, 80, 5)];
    let find = |rec: &Record, id: u64| rec.done.iter().find(|d| d.req.id == id).unwrap().clone();
    let rec = run(
        two(TenantScheduling::Priority, ranked(0), ranked(1)),
        256,
        10,
        requests(),
    );
    let (low, high) = (find(&rec, 0), find(&rec, 1));
    assert_eq!((high.first_scheduled, high.first_token), (ms(30), ms(40)));
    assert_eq!((low.preemptions, high.preemptions), (1, 0));
    let preempting: Vec<Nanos> = rec
        .iterations
        .iter()
        .filter(|i| i.preemptions > 0)
        .map(|i| i.start)
        .collect();
    assert_eq!(preempting, vec![ms(30)]);
    assert!(low.last_token > high.last_token);
    let fifo = run(
        two(TenantScheduling::Fifo, ranked(0), ranked(1)),
        256,
        10,
        requests(),
    );
    let (low, high) = (find(&fifo, 0), find(&fifo, 1));
    assert_eq!(low.last_token, ms(500));
    assert_eq!(high.first_scheduled, ms(500));
    assert_eq!(low.preemptions, 0);
}

/// Tenant 0 capped at 2 running sequences never has more in any step, while tenant 1 runs
/// many beside it.
#[test]
fn a_tenant_limited_to_k_sequences_never_runs_more() {
    let capped = TenantPolicy {
        max_num_seqs: Some(2),
        ..TenantPolicy::open("a")
    };
    let requests: Vec<Request> = (0..100)
        .map(|i| req(i, (i % 2) as u32, 0, 20, 30))
        .collect();
    for scheduling in [
        TenantScheduling::Fifo,
        TenantScheduling::Fair,
        TenantScheduling::Priority,
    ] {
        let rec = run(
            two(scheduling, capped.clone(), TenantPolicy::open("b")),
            64,
            100_000,
            requests.clone(),
        );
        let running = |tenant: u32, t: Nanos| {
            rec.done
                .iter()
                .filter(|d| d.req.tenant == tenant && d.first_scheduled <= t && t < d.last_token)
                .count()
        };
        let most = |tenant| {
            rec.iterations
                .iter()
                .map(|i| running(tenant, i.start))
                .max()
                .unwrap()
        };
        assert_eq!(most(0), 2, "{scheduling:?}");
        assert!(most(1) > 10, "{scheduling:?}: {}", most(1));
        assert_eq!(rec.done.len(), 100);
    }
}

/// The gateway in the engine: tenant 0 sends 10 requests/s against a limit of 2/s with a
/// burst of 1. Rejecting, 20 of its 100 pass (the bucket's rate over 10 s), the rest are
/// refused with the reason, and tenant 1 is untouched; delaying, all pass, the k-th not
/// before k/2 s.
#[test]
fn rate_limits_refuse_or_pace_one_tenant() {
    let limited = |on_limit| TenantPolicy {
        rate_limit: Some(Bucket {
            rate: 2.0,
            burst: 1.0,
        }),
        on_limit,
        ..TenantPolicy::open("a")
    };
    let requests: Vec<Request> = (0..200)
        .map(|i| req(i, (i % 2) as u32, (i / 2) * 100, 20, 5))
        .collect();
    let rec = run(
        two(
            TenantScheduling::Fifo,
            limited(OnLimit::Reject),
            TenantPolicy::open("b"),
        ),
        256,
        100_000,
        requests.clone(),
    );
    let count = |tenant: u32, outcome: Outcome| {
        rec.done
            .iter()
            .filter(|d| d.req.tenant == tenant && d.outcome == outcome)
            .count()
    };
    assert_eq!(count(0, Outcome::Finished), 20);
    assert_eq!(count(0, Outcome::RejectedRateLimit), 80);
    assert_eq!(count(1, Outcome::Finished), 100);
    let paced = run(
        two(
            TenantScheduling::Fifo,
            limited(OnLimit::Delay),
            TenantPolicy::open("b"),
        ),
        256,
        100_000,
        requests,
    );
    let mut starts: Vec<Nanos> = paced
        .done
        .iter()
        .filter(|d| d.req.tenant == 0)
        .map(|d| d.first_scheduled)
        .collect();
    starts.sort();
    assert_eq!(starts.len(), 100);
    for (k, s) in starts.iter().enumerate() {
        assert!(s.as_secs_f64() >= k as f64 * 0.5 - 1e-9, "{k}: {s:?}");
    }
}

/// A tenant's queue cap refuses its own excess, not the other tenant's requests.
#[test]
fn a_tenant_queue_cap_refuses_its_own_excess() {
    let capped = TenantPolicy {
        max_queue: Some(5),
        ..TenantPolicy::open("a")
    };
    // One sequence at a time: everyone else queues.
    let requests: Vec<Request> = (0..40).map(|i| req(i, (i % 2) as u32, 0, 20, 10)).collect();
    let rec = run(
        two(TenantScheduling::Fifo, capped, TenantPolicy::open("b")),
        1,
        100_000,
        requests,
    );
    let refused = |t: u32| {
        rec.done
            .iter()
            .filter(|d| d.req.tenant == t && d.outcome == Outcome::RejectedTenantQueueFull)
            .count()
    };
    // Tenant 0's first request runs, five queue, the other fourteen are refused.
    assert_eq!(refused(0), 14);
    assert_eq!(refused(1), 0);
}

const NOISY: &str = include_str!("../../scenarios/noisy_neighbour.toml");

/// Each tenant sends its own stream: over the run its count is its rate × the duration
/// (Poisson, within 4 standard deviations), the merged stream is in time order and numbered
/// from 0; every tenant's requests end finished or refused (conservation); two runs with
/// the same seed give the same summary.
#[test]
fn each_tenant_sends_its_own_traffic_and_every_request_ends() {
    let scn = scenario(NOISY);
    let reqs: Vec<Request> = planner::workload::requests(&scn.workload, &RngStreams::new(scn.seed))
        .unwrap()
        .collect();
    assert!(reqs.windows(2).all(|w| w[0].arrival <= w[1].arrival));
    assert!(reqs.iter().enumerate().all(|(i, r)| r.id == i as u64));
    let sent = |t: u32| reqs.iter().filter(|r| r.tenant == t).count() as f64;
    let expected = 2.0 * 600.0;
    assert!(
        (sent(0) - expected).abs() < 4.0 * expected.sqrt(),
        "app sent {}",
        sent(0)
    );
    // The app's prompts are short, the batch tenant's long.
    let mean_prompt = |t: u32| {
        let v: Vec<f64> = reqs
            .iter()
            .filter(|r| r.tenant == t)
            .map(|r| r.prompt_tokens as f64)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(mean_prompt(1) > 20.0 * mean_prompt(0));
    let p = prepare(&scn).unwrap();
    let opts = SimOptions {
        no_files: true,
        ..Default::default()
    };
    let a = simulate(&scn, &p, &opts).unwrap();
    let b = simulate(&scn, &p, &opts).unwrap();
    assert_eq!(a.rows(), b.rows());
    for (i, t) in a.tenants.iter().enumerate() {
        assert_eq!(
            (t.requests + t.rejected) as f64,
            sent(i as u32),
            "{}",
            t.name
        );
    }
    // The limit refuses only the batch tenant's requests; those refusals are the policy
    // at work, not a lack of capacity (plan does not fail a configuration for them).
    assert_eq!(a.tenants[0].rejected, 0);
    assert!(a.tenants[1].limited > 0);
    assert_eq!(a.rejected_by_tenant_limits, a.rejected);
}

/// The noisy neighbour, in figures: the app's TTFT p90 under fifo without limits is many
/// times what fair share, priority or the batch tenant's rate limit give it.
#[test]
fn isolation_protects_the_small_tenant() {
    let p90 = |scheduling: &str, limit: bool| {
        let mut text = NOISY.replace(
            "tenant_scheduling = \"fair\"",
            &format!("tenant_scheduling = \"{scheduling}\""),
        );
        if !limit {
            text = text.replace("rate_limit = { rate = 0.6, burst = 10 }", "");
        }
        let scn = scenario(&text);
        let p = prepare(&scn).unwrap();
        let opts = SimOptions {
            no_files: true,
            ..Default::default()
        };
        let s = simulate(&scn, &p, &opts).unwrap();
        s.tenants[0].ttft.p90
    };
    let fifo = p90("fifo", false);
    for (s, limit) in [("fair", false), ("priority", false), ("fifo", true)] {
        let other = p90(s, limit);
        assert!(
            other * 5.0 < fifo,
            "{s} limit {limit}: {other} vs fifo {fifo}"
        );
    }
}

/// Bad policies: errors naming the file, line and key, and the fix.
#[test]
fn bad_tenant_policies_are_refused_with_the_key() {
    let with = |extra: &str| format!("{NOISY}\n{extra}\n");
    let cases = [
        (
            with("[tenants.nobody]\nweight = 2"),
            "tenants.nobody",
            "no tenant is named \"nobody\"",
        ),
        (
            NOISY.replace(
                "rate_limit = { rate = 0.6, burst = 10 }",
                "rate_limit = { rate = 0, burst = 10 }",
            ),
            "tenants.batch.rate_limit",
            "rate > 0",
        ),
        (
            NOISY.replace("priority = 1\n", "priority = 1\nmax_num_seqs = 0\n"),
            "tenants.batch.max_num_seqs",
            "1..=",
        ),
        (
            NOISY.replace("priority = 1\n", "priority = 1\nweight = 0\n"),
            "tenants.batch.weight",
            "positive weight",
        ),
        (
            NOISY
                .replace(
                    "tenant_scheduling = \"fair\"",
                    "tenant_scheduling = \"priority\"",
                )
                .replace("priority = 1\n", "priority = 0\n"),
            "engine.tenant_scheduling",
            "same priority",
        ),
        (
            NOISY.replace("rate = 2.0\n", ""),
            "workload.tenants[0].rate",
            "every tenant needs one",
        ),
        (
            NOISY.replace("rate = 2.0\n", "rate = 2.0\nshare = 1.0\n"),
            "workload.tenants[0].share",
            "remove share",
        ),
        (
            NOISY.replace("priority = 1\n", "priority = 1\nmax_kv_blocks = 0\n"),
            "tenants.batch.max_kv_blocks",
            "1..=",
        ),
        (
            NOISY.replace("priority = 1\n", "priority = 1\nprefix_cache_share = 1.5\n"),
            "tenants.batch.prefix_cache_share",
            "(0, 1]",
        ),
        (
            NOISY
                .replace("priority = 1\n", "priority = 1\nprefix_cache_share = 0.5\n")
                .replace(
                    "[engine]\n",
                    "[engine]\nprefix_cache_isolation = \"shared\"\n",
                ),
            "tenants.batch.prefix_cache_share",
            "per_tenant",
        ),
        (
            NOISY.replace("duration_s = 600", "duration_s = 600\nrate = 3.0"),
            "workload.rate",
            "remove workload.rate",
        ),
    ];
    assert_refused(&cases);
}

/// Admission control by time: one sequence at a time, five 10-step requests at t = 0 (100 ms
/// each). With a 150 ms queue timeout the server runs the first two (the second waited
/// 100 ms) and sheds the other three at 150 ms; a client patience of 150 ms cancels the
/// same three, with the client's reason.
#[test]
fn requests_not_scheduled_in_time_are_shed_or_cancelled() {
    use planner::workload::Patience;
    let go = |max_wait: Option<f64>, patience: Option<f64>| {
        let cfg = EngineConfig {
            api_in_s: 0.0,
            api_out_s: 0.0,
            async_scheduling: false,
            max_num_seqs: 1,
            max_queue_wait_s: max_wait,
            ..EngineConfig::default()
        };
        let cost = IterationCost::constant(0.010);
        let mut sim = Simulation::new(cfg, &cost, 1, 100_000, 1.0, 1 << 20);
        if let Some(p) = patience {
            sim = sim.with_patience(Patience::Fixed(p), RngStreams::new(1));
        }
        let mut rec = Record::default();
        let reqs: Vec<Request> = (0..5).map(|i| req(i, 0, 0, 10, 10)).collect();
        sim.run(&mut reqs.into_iter(), &mut rec);
        assert_eq!(sim.unfinished(), 0);
        let mut out: Vec<(u64, Outcome, Nanos)> = rec
            .done
            .iter()
            .map(|d| (d.req.id, d.outcome, d.last_token))
            .collect();
        out.sort_by_key(|o| o.0);
        out
    };
    let shed = go(Some(0.150), None);
    assert_eq!(
        shed,
        vec![
            (0, Outcome::Finished, ms(100)),
            (1, Outcome::Finished, ms(200)),
            (2, Outcome::RejectedQueueTimeout, ms(150)),
            (3, Outcome::RejectedQueueTimeout, ms(150)),
            (4, Outcome::RejectedQueueTimeout, ms(150)),
        ]
    );
    let cancelled = go(None, Some(0.150));
    assert!(
        cancelled[2..]
            .iter()
            .all(|o| o.1 == Outcome::Cancelled && o.2 == ms(150))
    );
    // The earlier deadline wins: patience 120 ms before a 150 ms queue timeout.
    let both = go(Some(0.150), Some(0.120));
    assert!(
        both[2..]
            .iter()
            .all(|o| o.1 == Outcome::Cancelled && o.2 == ms(120))
    );
}

/// Exponential patience through a scenario: some of the batch tenant's requests give up,
/// reported with their reason, and every request still ends exactly once.
#[test]
fn impatient_clients_through_a_scenario() {
    let text = NOISY
        .replace("rate_limit = { rate = 0.6, burst = 10 }", "")
        .replace(
            "tenant_scheduling = \"fair\"",
            "tenant_scheduling = \"priority\"",
        )
        .replace(
            "duration_s = 600",
            "duration_s = 600\npatience_s = { mean = 5 }",
        );
    let scn = scenario(&text);
    let p = prepare(&scn).unwrap();
    let opts = SimOptions {
        no_files: true,
        ..Default::default()
    };
    let s = simulate(&scn, &p, &opts).unwrap();
    let sent = planner::workload::requests(&scn.workload, &RngStreams::new(scn.seed))
        .unwrap()
        .count() as u64;
    assert_eq!(s.finished + s.rejected, sent);
    // The low-priority batch tenant waits longest: a far larger share of its clients give
    // up than of the app's (a few: patience is exponential, some are very short).
    let gave_up = |t: &planner::metrics::summary::TenantSummary| {
        t.rejected as f64 / (t.requests + t.rejected) as f64
    };
    let (app, batch) = (gave_up(&s.tenants[0]), gave_up(&s.tenants[1]));
    assert!(
        batch > 5.0 * app && app > 0.0,
        "app {app:.3}, batch {batch:.3}"
    );
    assert_eq!(
        s.tenants[1].limited, 0,
        "cancellations are not the tenant's limits"
    );
    let e = scenario_err(&NOISY.replace("duration_s = 600", "duration_s = 600\npatience_s = -1"));
    assert!(e.contains("workload.patience_s"), "{e}");
}

/// Memory residue: two tenants take turns on a pool of 4 blocks without prefix caching;
/// each request's 2 blocks are the ones the other tenant's request just freed, so every
/// request after the first reuses 2 blocks across tenants. With `scrub_freed_blocks` each
/// such block is cleared (a memset at memory bandwidth) in the step that takes it.
#[test]
fn kv_blocks_reused_across_tenants_are_counted_and_scrubbed() {
    let scn = scenario(
        "[model]\nname = \"llama-3.1-8b\"\n[hardware]\ngpu = \"h100-sxm\"\n\
         [workload]\narrival = \"poisson\"\nrate = 1.0\nnum_requests = 1\n\
         prompt = { dist = \"fixed\", value = 10 }\noutput = { dist = \"fixed\", value = 10 }\n",
    );
    let p = prepare(&scn).unwrap();
    let go = |scrub: bool| {
        let cfg = EngineConfig {
            prefix_caching: false,
            scrub_freed_blocks: scrub,
            block_size: 16,
            tenancy: two(
                TenantScheduling::Fifo,
                TenantPolicy::open("a"),
                TenantPolicy::open("b"),
            ),
            ..scn.engine.clone()
        };
        let mut sim = Simulation::new(cfg, &p.cost, 1, 4, p.kv_bytes_per_token, 1 << 20);
        let mut rec = Record::default();
        let reqs: Vec<Request> = (0..10)
            .map(|i| req(i, (i % 2) as u32, i * 1000, 32, 1))
            .collect();
        sim.run(&mut reqs.into_iter(), &mut rec);
        (sim.kv_blocks_reused_across_tenants(), rec)
    };
    let (reused, plain) = go(false);
    assert_eq!(reused, 18);
    assert!(plain.iterations.iter().all(|i| i.scrub_s == 0.0));
    let (_, scrubbed) = go(true);
    let block = p.kv_bytes_per_token * 16.0;
    let scrubs: Vec<f64> = scrubbed.iterations.iter().map(|i| i.scrub_s).collect();
    assert_eq!(
        scrubs[0], 0.0,
        "the first request's blocks were never written"
    );
    for s in &scrubs[1..] {
        assert_eq!(*s, p.cost.memset_seconds(2.0 * block));
    }
    // Each scrubbed step is longer by exactly its scrub.
    for (a, b) in plain.iterations.iter().zip(&scrubbed.iterations).skip(1) {
        let d = (b.duration.as_secs_f64() - a.duration.as_secs_f64()) - b.scrub_s;
        assert!(d.abs() < 2e-9, "{d}");
    }
}

/// Prefix-cache shares: a 20-block pool. Tenant a caches a 4-block prompt; tenant b then
/// caches 4 unique 4-block prompts, one at a time, filling the pool, and a fifth that must
/// evict. Least recently used, that is a's prefix (4 blocks lost to another tenant), and
/// a's repeat misses (and takes 4 of b's blocks back); with b capped at 8 blocks (40 %), b's
/// own oldest blocks go instead and a's repeat hits its 3 reusable blocks (48 tokens: one
/// token is always computed), computing the last 16 in one block taken from b, still over
/// its cap.
#[test]
fn a_prefix_cache_share_keeps_one_tenant_from_evicting_another() {
    use planner::workload::Segment;
    use std::sync::Arc;
    let prompt = |key: u64| Some(Arc::from(vec![Segment { key, tokens: 64 }]));
    let go = |share: Option<f64>| {
        let b = TenantPolicy {
            prefix_cache_share: share,
            ..TenantPolicy::open("b")
        };
        let cfg = EngineConfig {
            api_in_s: 0.0,
            api_out_s: 0.0,
            async_scheduling: false,
            prefix_caching: true,
            block_size: 16,
            tenancy: two(TenantScheduling::Fifo, TenantPolicy::open("a"), b),
            ..EngineConfig::default()
        };
        let cost = IterationCost::constant(0.010);
        let mut sim = Simulation::new(cfg, &cost, 1, 20, 1.0, 1 << 20);
        let mut reqs = vec![Request {
            prefix: prompt(1),
            ..req(0, 0, 0, 64, 1)
        }];
        for i in 0..5 {
            reqs.push(Request {
                prefix: prompt(100 + i),
                ..req(1 + i, 1, 100 * (1 + i), 64, 1)
            });
        }
        reqs.push(Request {
            prefix: prompt(1),
            ..req(6, 0, 1000, 64, 1)
        });
        let mut rec = Record::default();
        sim.run(&mut reqs.into_iter(), &mut rec);
        assert_eq!(sim.unfinished(), 0);
        let repeat = rec
            .done
            .iter()
            .find(|d| d.req.id == 6)
            .unwrap()
            .cached_tokens;
        (
            repeat,
            sim.prefix_blocks_lost_to_others(0),
            sim.prefix_blocks_lost_to_others(1),
        )
    };
    assert_eq!(go(None), (0, 4, 4));
    assert_eq!(go(Some(0.4)), (48, 0, 1));
}

/// Client timeouts on the whole answer (`workload.timeout_s`): one sequence at a time,
/// 10 ms steps, four 10-token requests sent at t = 0, clients that give up after 150 ms.
/// Request 0 runs steps 1–10 and finishes at 100 ms. Request 1 runs from 100 ms; at the step
/// boundary of 150 ms its client has left: it is aborted running, its 16 prompt tokens and
/// the 5 tokens it had generated thrown away, its blocks freed. Requests 2 and 3 never ran
/// and leave the queue at 150 ms. Nothing leaks.
#[test]
fn timed_out_requests_are_aborted_where_they_are() {
    let cfg = EngineConfig {
        api_in_s: 0.0,
        api_out_s: 0.0,
        async_scheduling: false,
        max_num_seqs: 1,
        block_size: 16,
        ..EngineConfig::default()
    };
    let cost = IterationCost::constant(0.010);
    let mut sim = Simulation::new(cfg, &cost, 1, 100, 1.0, 1 << 20).with_timeout(0.150);
    let mut rec = Record::default();
    let reqs: Vec<Request> = (0..4).map(|i| req(i, 0, 0, 16, 10)).collect();
    sim.run(&mut reqs.into_iter(), &mut rec);
    assert_eq!(sim.unfinished(), 0);
    assert_eq!(sim.kv_blocks_in_use(), 0);
    let mut got: Vec<(u64, Outcome, u64)> = rec
        .done
        .iter()
        .map(|d| (d.req.id, d.outcome, d.last_token.0 / 1_000_000))
        .collect();
    got.sort_by_key(|g| g.0);
    assert_eq!(
        got,
        [
            (0, Outcome::Finished, 100),
            (1, Outcome::TimedOut, 150),
            (2, Outcome::TimedOut, 150),
            (3, Outcome::TimedOut, 150),
        ]
    );
    assert_eq!(sim.wasted_tokens(), 16 + 5);
}

/// Through a scenario: `workload.timeout_s` is read, counted in the summary, and refused
/// when not positive.
#[test]
fn client_timeouts_through_a_scenario() {
    let text = NOISY.replace("duration_s = 600", "duration_s = 120\ntimeout_s = 2.0");
    let s = super::common::summary(&text);
    let (n, wasted) = s.timed_out.expect("counted");
    assert!(n > 0 && wasted > 0, "{n} {wasted}");
    assert!(s.rejected >= n);
    let e = scenario_err(&NOISY.replace("duration_s = 600", "duration_s = 600\ntimeout_s = 0"));
    assert!(
        e.contains("workload.timeout_s") && e.contains("positive seconds"),
        "{e}"
    );
}

/// A tenant limited to K KV blocks never holds more: tenants a (at most 5 blocks) and b (at
/// most 1,000, to record its peak) each send six requests at t = 0 whose KV grows to 5
/// blocks (32 prompt + 40 output tokens, 16-token blocks), in a 200-block pool. Tenant a's
/// sequences preempt their own newest to grow and its requests wait their turn; b runs all
/// six at once. Every request finishes, and a's last ends after b's last.
#[test]
fn a_tenant_limited_to_k_blocks_never_holds_more() {
    let a = TenantPolicy {
        max_kv_blocks: Some(5),
        ..TenantPolicy::open("a")
    };
    let b = TenantPolicy {
        max_kv_blocks: Some(1000),
        ..TenantPolicy::open("b")
    };
    let cfg = EngineConfig {
        tenancy: two(TenantScheduling::Fifo, a, b),
        ..bare_engine()
    };
    let cost = IterationCost::constant(0.010);
    let mut sim = Simulation::new(cfg, &cost, 1, 200, 1.0, 1 << 20);
    let mut rec = Record::default();
    let reqs: Vec<Request> = (0..12).map(|i| req(i, (i % 2) as u32, 0, 32, 40)).collect();
    sim.run(&mut reqs.into_iter(), &mut rec);
    assert_eq!(sim.unfinished(), 0);
    assert_eq!(sim.kv_blocks_in_use(), 0);
    assert!(rec.done.iter().all(|d| d.outcome == Outcome::Finished));
    assert_eq!(sim.tenant_kv_blocks_peak(0), 5);
    assert_eq!(sim.tenant_kv_blocks_peak(1), 30);
    let last = |t: u32| {
        rec.done
            .iter()
            .filter(|d| d.req.tenant == t)
            .map(|d| d.last_token)
            .max()
            .unwrap()
    };
    assert!(last(0) > last(1), "{:?} {:?}", last(0), last(1));
}
