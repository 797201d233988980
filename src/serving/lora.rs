//! Per-tenant fine-tuned models served as LoRA adapters on one base model (issue #16 §5), as
//! vLLM does it (`vllm/lora/`, v0.11 – 0.16; S-LoRA/Punica-style batching):
//!
//! - **Memory.** With LoRA enabled the engine wraps every LoRA-capable linear layer
//!   (`q/k/v_proj`, `o_proj`, `gate/up_proj`, `down_proj`) and allocates, at model load, a
//!   stacked buffer of `max_loras` adapter slots at `max_lora_rank` for each
//!   (`lora/layers/*: create_lora_weights`, `lora_a_stacked` / `lora_b_stacked`), whatever
//!   modules the adapters target: `max_loras × max_lora_rank × Σ (in + out)` elements per
//!   layer, in the model's dtype. Column-parallel layers keep A whole and shard B; row-parallel
//!   ones shard A and keep B whole. The buffers come out of the memory the KV cache would
//!   have had (they exist before the profile run).
//! - **Residency.** `max_loras` adapters sit in GPU slots; others wait in host memory (an LRU
//!   of `max_cpu_loras`, `LRUCacheWorkerLoRAManager`). A step that admits a request whose
//!   adapter is not in a slot copies it in over PCIe before the forward pass (its own rank and
//!   targeted modules' weights), evicting the least recently used slot no running request
//!   uses. Reading an adapter from disk the first time is not priced (counted as a host miss).
//! - **Scheduling.** A waiting request whose adapter is not among the running requests'
//!   adapters is skipped (it keeps its place) when the batch already has `max_loras`
//!   distinct adapters (`v1/core/sched/scheduler.py`: `len(scheduled_loras) ==
//!   max_loras and lora_int_id not in scheduled_loras`). SGLang's `--max-loras-per-batch`
//!   is the same rule.
//! - **Step cost.** Each wrapped layer runs, over the LoRA tokens of the batch, a *shrink*
//!   (`x · A` into a zeroed fp32 buffer) and an *expand* (`· B`, added into the output) for
//!   every module the engine wraps, whether the adapter targets it or not (zero weights): V1
//!   fuses each module group into one launch and reads each distinct adapter once; V0 launches
//!   per slice and reads the weights once per token ([`crate::cost::lora::LoraKernels`]).
//!   Priced on the roofline with the O-projection GEMM's efficiency and launch overhead.
//!   Tokens without an adapter cost nothing; a batch with none runs no LoRA kernel.

use serde::Serialize;

pub use crate::cost::lora::{LoraShapes, MODULES, Targets};

/// The engine's LoRA settings, under vLLM's names.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LoraEngine {
    /// `--max-loras`: adapter slots on the GPU, and the most distinct adapters in a batch.
    pub max_loras: u32,
    /// `--max-lora-rank`: the slots' rank (an adapter of higher rank is refused).
    pub max_lora_rank: u32,
    /// `--max-cpu-loras`: adapters kept in host memory (at least `max_loras`).
    pub max_cpu_loras: u32,
}

/// A tenant's fine-tuned models: `adapters` distinct adapters of one shape, its requests
/// spread evenly over them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TenantLora {
    /// LoRA rank `r`.
    pub rank: u32,
    /// Modules it adapts.
    pub targets: Targets,
    /// How many distinct adapters.
    pub adapters: u32,
}

/// A run's LoRA setup: the engine's settings, each tenant's adapters, the shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraRun {
    /// The engine's settings.
    pub engine: LoraEngine,
    /// By tenant; `None`: the base model.
    pub tenants: Vec<Option<TenantLora>>,
    /// The model's LoRA-capable modules on one GPU.
    pub shapes: LoraShapes,
    /// The first adapter id of each tenant (ids from 1; 0 is the base model).
    first: Vec<u32>,
}

impl LoraRun {
    /// Adapter ids numbered tenant by tenant.
    pub fn new(engine: LoraEngine, tenants: Vec<Option<TenantLora>>, shapes: LoraShapes) -> Self {
        let mut next = 1;
        let first = tenants
            .iter()
            .map(|t| {
                let f = next;
                next += t.map_or(0, |l| l.adapters);
                f
            })
            .collect();
        LoraRun {
            engine,
            tenants,
            shapes,
            first,
        }
    }

    /// The adapter request `id` of `tenant` runs with (0: none): its tenant's adapters in
    /// turn by a hash of the id, so each gets an even share, the same in every run.
    pub fn adapter_of(&self, tenant: u32, id: u64) -> u32 {
        match self.tenants.get(tenant as usize).copied().flatten() {
            None => 0,
            Some(l) => {
                let k = crate::hash::mix64(id ^ 0x4c6f_5241) % u64::from(l.adapters);
                self.first[tenant as usize] + k as u32
            }
        }
    }

    /// Bytes per GPU that loading adapter `a` copies in.
    pub fn adapter_bytes(&self, a: u32) -> f64 {
        let t = self.first.partition_point(|&f| f <= a) - 1;
        let l = self.tenants[t].expect("an adapter's tenant has LoRA");
        self.shapes.adapter_bytes(l.rank, l.targets)
    }

    /// Bytes per GPU the adapter slots reserve.
    pub fn reserved_bytes(&self) -> f64 {
        self.engine.max_loras as f64 * self.shapes.slot_bytes(self.engine.max_lora_rank)
    }
}

/// A replica's adapters: which sit in GPU slots and in host memory (least recently used
/// first), and this step's.
#[derive(Debug, Clone, Default)]
pub struct Residency {
    /// In GPU slots, with when each was last used.
    pub gpu: Vec<(u32, u64)>,
    /// In host memory, likewise.
    pub host: Vec<(u32, u64)>,
    /// Distinct adapters of the step being formed.
    pub batch: Vec<u32>,
    /// Uses so far (the LRU clock).
    pub clock: u64,
    /// Adapters copied into a GPU slot.
    pub loads: u64,
    /// Of those, adapters not in host memory either (read from disk; not priced).
    pub host_misses: u64,
}

impl Residency {
    /// Whether a request with adapter `a` may join the step: the base model, an adapter
    /// already in it, or room for one more.
    pub fn admits(&self, a: u32, max_loras: u32) -> bool {
        a == 0 || self.batch.contains(&a) || (self.batch.len() as u32) < max_loras
    }

    /// Adapter `a` joins the step; returns the bytes to copy in if it was not in a GPU slot
    /// (it takes the least recently used slot no adapter of the step uses).
    pub fn take(&mut self, a: u32, run: &LoraRun) -> f64 {
        if a == 0 {
            return 0.0;
        }
        if !self.batch.contains(&a) {
            self.batch.push(a);
        }
        self.clock += 1;
        let now = self.clock;
        if let Some(e) = self.gpu.iter_mut().find(|e| e.0 == a) {
            e.1 = now;
            return 0.0;
        }
        // Host memory first (from disk if it is not there).
        match self.host.iter_mut().find(|e| e.0 == a) {
            Some(e) => e.1 = now,
            None => {
                self.host_misses += 1;
                if self.host.len() as u32 >= run.engine.max_cpu_loras {
                    let k = lru(&self.host, &[]);
                    self.host.swap_remove(k);
                }
                self.host.push((a, now));
            }
        }
        if self.gpu.len() as u32 >= run.engine.max_loras {
            let k = lru(&self.gpu, &self.batch);
            self.gpu.swap_remove(k);
        }
        self.gpu.push((a, now));
        self.loads += 1;
        run.adapter_bytes(a)
    }
}

/// The least recently used entry not in `keep` (the scheduling rule leaves one free).
fn lru(entries: &[(u32, u64)], keep: &[u32]) -> usize {
    entries
        .iter()
        .enumerate()
        .filter(|(_, e)| !keep.contains(&e.0))
        .min_by_key(|(_, e)| e.1)
        .map_or(0, |(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::model::Model;

    fn llama8b() -> Model {
        Catalog::builtin().model("llama-3.1-8b").unwrap()
    }

    #[test]
    fn adapters_are_spread_evenly_and_slots_evicted_least_recently_used() {
        let l = |n| {
            Some(TenantLora {
                rank: 8,
                targets: Targets::ATTENTION,
                adapters: n,
            })
        };
        let run = LoraRun::new(
            LoraEngine {
                max_loras: 2,
                max_lora_rank: 16,
                max_cpu_loras: 3,
            },
            vec![None, l(4), l(2)],
            LoraShapes::new(&llama8b(), 1),
        );
        assert_eq!(run.adapter_of(0, 7), 0);
        let mut seen = [0u32; 8];
        for id in 0..6000 {
            seen[run.adapter_of(1, id) as usize] += 1;
            seen[run.adapter_of(2, id) as usize] += 1;
        }
        assert_eq!(seen[0], 0);
        for a in 1..=4 {
            assert!((1400..1600).contains(&seen[a]), "{seen:?}");
        }
        for a in 5..=6 {
            assert!((2850..3150).contains(&seen[a]), "{seen:?}");
        }
        assert_eq!(run.adapter_bytes(6), run.adapter_bytes(1));
        let mut r = Residency::default();
        let bytes = run.shapes.adapter_bytes(8, Targets::ATTENTION);
        assert_eq!(r.take(1, &run), bytes);
        assert_eq!(r.take(1, &run), 0.0);
        assert!(r.admits(2, 2) && r.admits(3, 2));
        assert_eq!(r.take(2, &run), bytes);
        // Two distinct adapters in the step: a third waits; the two and the base model join.
        assert!(!r.admits(3, 2) && r.admits(1, 2) && r.admits(2, 2) && r.admits(0, 2));
        // Next step: only adapter 2 runs, so 3 takes adapter 1's slot.
        r.batch = vec![2];
        assert_eq!(r.take(3, &run), bytes);
        let mut gpu: Vec<u32> = r.gpu.iter().map(|e| e.0).collect();
        gpu.sort();
        assert_eq!(gpu, [2, 3]);
        // 1 is still in host memory (3 slots): no host miss; 4 is new and evicts host's LRU.
        r.batch.clear();
        assert_eq!(r.take(1, &run), bytes);
        assert_eq!((r.loads, r.host_misses), (4, 3));
        r.batch.clear();
        r.take(4, &run);
        assert_eq!((r.loads, r.host_misses), (5, 4));
    }
}
