//! Integration tests, one binary, read like a document:
//!
//! - `cli`: the command line as a user meets it (outputs, exit codes, errors).
//! - `golden`: the committed sizing table, a regression check on sizing assumptions.
//! - `configs`: published `config.json` files (FP8, AWQ, MXFP4, NVFP4, multimodal, hybrid)
//!   load and size as their checkpoints are published.
//! - `snapshot`: every shipped scenario's report and a small plan's, pinned byte for byte.
//! - `layering`: modules use only modules above them (src/lib.rs order); the event kernel
//!   names nothing of LLMs.
//! - `simulate`: the serving simulator — closed forms, conservation, determinism, overload.
//! - `engines`: each engine kind's admission and preemption rule in closed form, closed-loop
//!   load, and the measured serving runs replayed (`validate --serving`).
//! - `prefix`: prefix caching in the engine against the Mooncake trace's hash lists, its fall
//!   with capacity, and the tenant closed form under both isolation modes.
//! - `tenants`: tenants' rate limits, caps, fair share and priority in closed form; each
//!   tenant's own traffic; the noisy neighbour; bad policies.
//! - `lora`: LoRA adapters: the max_loras batch rule in closed form, slots taken from the KV
//!   cache, adapter loads priced, bad settings.
//! - `speculative`: speculative decoding against Leviathan et al.'s closed forms, the
//!   crossover where it stops paying, KV rollback without leaks, bad settings.
//! - `plan`: `planner plan` and `merge`: the chosen configuration meets its SLOs and the
//!   next-cheaper does not; threads, shards and resumes leave the report byte-identical.
//! - `docs`: docs/scenario.md generated from the key reference, which names every key the
//!   validator accepts and no other.
//! - `import`: engines' command lines read into scenarios and written back (the README's
//!   round-trip), Hugging Face ids resolved from the catalog or the local cache.
//! - `calibration`: the cost model against Vidur's A100 profiles and our H100 bench file.
//! - `standalone`: the binary works from any folder (built-in catalogs), user folders
//!   override them, `validate` takes every Vidur GPU folder, nothing points outside the repo.
//! - `fuzz`: mutated scenarios, traces and model configs end in a clean error or a finite
//!   result: no panic, hang or NaN.
//! - `reliability`: each reproducer of a fuzzing campaign (panics, hangs, silently wrong
//!   answers, leftovers, foreign folders), kept.
//! - `bench`: the bench pipeline without a GPU (CPU backend, measured-file round trip) and
//!   every CUDA kernel compiled to PTX by NVRTC.

mod bench;
mod calibration;
mod cli;
mod common;
mod configs;
mod docs;
mod engines;
mod fuzz;
mod golden;
mod import;
mod layering;
mod lora;
mod plan;
mod prefix;
mod reliability;
mod simulate;
mod snapshot;
mod speculative;
mod standalone;
mod tenants;
