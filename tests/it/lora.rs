//! LoRA adapters (issue #16 §5): vLLM's `max_loras` batch rule in closed form, the slots'
//! memory taken from the KV cache, an adapter's load priced in the step that admits it, and
//! bad settings refused with file, line and key.

use super::common::{Record, assert_refused, bare_engine, scenario};
use planner::cost::iteration::IterationCost;
use planner::serving::config::EngineConfig;
use planner::serving::engine::Simulation;
use planner::serving::lora::{LoraEngine, LoraRun, LoraShapes, Targets, TenantLora};
use planner::serving::tenancy::{Tenancy, TenantPolicy, TenantScheduling};
use planner::sim::Nanos;
use planner::simulate::prepare;
use planner::workload::Request;

const LORA: &str = include_str!("../../scenarios/lora.toml");

fn req(id: u64, tenant: u32, output: u32) -> Request {
    Request {
        id,
        arrival: Nanos::ZERO,
        prompt_tokens: 16,
        output_tokens: output,
        tenant,
        ..Request::default()
    }
}

fn tenants(adapters: [u32; 2]) -> Tenancy {
    let with = |name: &str, n: u32| TenantPolicy {
        lora: Some(TenantLora {
            rank: 8,
            targets: Targets::ATTENTION,
            adapters: n,
        }),
        ..TenantPolicy::open(name)
    };
    Tenancy {
        scheduling: TenantScheduling::Fifo,
        tenants: vec![with("a", adapters[0]), with("b", adapters[1])],
    }
}

fn lora_run(tenancy: &Tenancy, max_loras: u32) -> LoraRun {
    let model = planner::catalog::Catalog::builtin()
        .model("llama-3.1-8b")
        .unwrap();
    LoraRun::new(
        LoraEngine {
            max_loras,
            max_lora_rank: 16,
            max_cpu_loras: 8,
        },
        tenancy.tenants.iter().map(|t| t.lora).collect(),
        LoraShapes::new(&model, 1),
    )
}

/// One adapter each for tenants a and b, four requests (a, b, a, b) of 10 output tokens at
/// t = 0, 10 ms steps. The first step starts with the first arrival alone (request 0); the
/// other three join from step 2. With `max_loras = 1` a batch runs one adapter: request 2
/// (a's adapter) joins request 0 and ends a step after it (110 ms), while b's requests skip
/// their turn, keep their place, and run once a's are done (steps 12–21, ending at 210 ms);
/// with `max_loras = 2` all three join at step 2 and end at 110 ms.
#[test]
fn max_loras_limits_the_distinct_adapters_in_a_batch() {
    let go = |max_loras: u32| {
        let tenancy = tenants([1, 1]);
        let run = lora_run(&tenancy, max_loras);
        let cfg = EngineConfig {
            tenancy,
            lora: Some(run.engine),
            ..bare_engine()
        };
        let cost = IterationCost::constant(0.010);
        let mut sim = Simulation::new(cfg, &cost, 1, 100, 1.0, 1 << 20).with_lora(run);
        let mut rec = Record::default();
        let reqs: Vec<Request> = (0..4).map(|i| req(i, (i % 2) as u32, 10)).collect();
        sim.run(&mut reqs.into_iter(), &mut rec);
        assert_eq!(sim.unfinished(), 0);
        let mut ends: Vec<(u64, u64)> = rec
            .done
            .iter()
            .map(|d| (d.req.id, d.last_token.0 / 1_000_000))
            .collect();
        ends.sort();
        (ends, sim.lora_loads())
    };
    let (ends, loads) = go(1);
    assert_eq!(ends, [(0, 100), (1, 210), (2, 110), (3, 210)]);
    assert_eq!(loads, (2, 2));
    let (ends, _) = go(2);
    assert_eq!(ends, [(0, 100), (1, 110), (2, 110), (3, 110)]);
}

/// With the scenario's own cost model: the first step loads the adapter (its rank-16,
/// all-linear weights over PCIe) and runs the kernels; later steps only the kernels; the
/// sums are exact.
#[test]
fn an_adapter_load_and_the_kernels_are_priced_in_the_step() {
    let scn = scenario(LORA);
    let p = prepare(&scn).unwrap();
    let run = p.lora.clone().unwrap();
    let cfg = EngineConfig {
        tenancy: Tenancy {
            scheduling: TenantScheduling::Fifo,
            tenants: vec![
                TenantPolicy::open("chat"),
                scn.engine.tenancy.tenants[1].clone(),
            ],
        },
        ..scn.engine.clone()
    };
    let mut sim = Simulation::new(cfg, &p.cost, 1, p.num_blocks, p.kv_bytes_per_token, 1 << 20)
        .with_lora(run.clone());
    let mut rec = Record::default();
    sim.run(&mut vec![req(0, 1, 3)].into_iter(), &mut rec);
    let a = run.adapter_of(1, 0);
    let load = p.cost.swap_seconds(run.adapter_bytes(a));
    let l = &run.shapes;
    let kind = planner::cost::lora::LoraKernels::Fused;
    let kernels = |t| p.cost.lora_seconds(l, kind, t, 1, 16);
    let lora: Vec<f64> = rec.iterations.iter().map(|i| i.lora_s).collect();
    assert_eq!(lora.len(), 3);
    assert_eq!(lora[0], load + kernels(16));
    assert_eq!(lora[1], kernels(1));
    assert_eq!(lora[2], kernels(1));
    // Rank 16 over every module of Llama-3.1-8B: 80 MiB, ~1.6 ms over the H100's PCIe.
    assert_eq!(run.adapter_bytes(a), 80.0 * 1024.0 * 1024.0);
    assert!((1e-3..3e-3).contains(&load), "{load}");
    // Tokens of the base model cost nothing.
    assert_eq!(p.cost.lora_seconds(l, kind, 0, 0, 16), 0.0);
}

/// The slots' memory comes out of the KV cache: 8 slots of rank 16 over every module of
/// Llama-3.1-8B are 8 × 80 MiB, so the cache has that much less, to the block.
#[test]
fn adapter_slots_take_their_memory_from_the_kv_cache() {
    let with = prepare(&scenario(LORA)).unwrap();
    let without = prepare(&scenario(
        &LORA
            .replace(
                "lora = { rank = 16, targets = [\"all-linear\"], adapters = 64 }",
                "",
            )
            .replace("max_loras = 8", "")
            .replace("max_lora_rank = 16", "")
            .replace("max_cpu_loras = 64", ""),
    ))
    .unwrap();
    assert!(without.lora.is_none());
    let reserved = with.lora.as_ref().unwrap().reserved_bytes();
    assert_eq!(reserved, 8.0 * 80.0 * 1024.0 * 1024.0);
    let block = with.kv_bytes_per_token * 16.0;
    let fewer = (without.num_blocks - with.num_blocks) as f64;
    assert!((fewer - reserved / block).abs() <= 1.0, "{fewer} blocks");
}

/// Bad LoRA settings: errors naming the file, line and key, and the fix.
#[test]
fn bad_lora_settings_are_refused_with_the_key() {
    let cases = [
        (
            LORA.replace("rank = 16, targets", "rank = 5000, targets"),
            "tenants.custom.lora",
            "1..=4096",
        ),
        (
            LORA.replace("[\"all-linear\"]", "[\"qkv\"]"),
            "tenants.custom.lora",
            "unknown target module",
        ),
        (
            LORA.replace("rank = 16, targets", "rank = 32, targets"),
            "tenants.custom.lora",
            "max_lora_rank",
        ),
        (
            LORA.replace("max_lora_rank = 16", "max_lora_rank = 20"),
            "engine.max_lora_rank",
            "one of 1, 8, 16",
        ),
        (
            LORA.replace("max_cpu_loras = 64", "max_cpu_loras = 4"),
            "engine.max_cpu_loras",
            "at least engine.max_loras",
        ),
        (
            LORA.replace("adapters = 64", "adapters = 0"),
            "tenants.custom.lora",
            "1..=100000",
        ),
        (
            LORA.replace("[engine]\n", "[engine]\nenable_lora = false\n"),
            "engine.enable_lora",
            "has LoRA adapters",
        ),
        (
            LORA.replace(
                "lora = { rank = 16, targets = [\"all-linear\"], adapters = 64 }",
                "weight = 1",
            ),
            "engine.max_loras",
            "LoRA is off",
        ),
        (
            LORA.replace("name = \"llama-3.1-8b\"", "name = \"qwen3-30b-a3b\""),
            "tenants.custom.lora",
            "dense models",
        ),
    ];
    assert_refused(&cases);
}
