//! `planner size`: KV bytes per token, each engine's memory budget and the dtype trade-off
//! table. Flags keep their engine's names and meanings: `--ctx` / `--max-model-len` is one
//! sequence's context (vLLM), `-c` / `--ctx-size` is llama.cpp's total over `-np` slots.

use crate::catalog::Catalog;
use crate::cli::{Format, SizeArgs};
use crate::hardware::GpuSpec;
use crate::kv::{CacheDtype, EngineKind, EngineMemory, Offload, Stage};
use crate::model::Model;
use crate::size::{SizeRequest, StageGpu, size};
use crate::units::GIB;
use std::process::ExitCode;

/// llama.cpp pads `n_ctx` and each slot's share to this many cells
/// (`src/llama-context.cpp` @63d93d173: `GGML_PAD(n_ctx, 256)`, `GGML_PAD(n_ctx/n_seq, 256)`).
const LLAMA_CPP_CTX_PAD: u64 = 256;

/// Each slot's context for llama.cpp's `-c total -np parallel`.
pub fn llama_cpp_slot_context(total: u64, parallel: u64) -> u64 {
    let n_ctx = total.div_ceil(LLAMA_CPP_CTX_PAD) * LLAMA_CPP_CTX_PAD;
    (n_ctx / parallel).div_ceil(LLAMA_CPP_CTX_PAD) * LLAMA_CPP_CTX_PAD
}

pub(super) fn run_size(args: SizeArgs, catalog: &Catalog) -> anyhow::Result<ExitCode> {
    let model = catalog.model(&args.model)?;
    let gpu = catalog.gpu(&args.gpu)?;
    let req = request(&args, &model, &gpu, catalog)?;
    let models = catalog.all_models();
    let report = size(&model, &gpu, &req, &models)?;
    if let Some(dir) = &args.out
        && report.weights_fit()
    {
        for p in crate::size::write_tradeoff_chart(&model, &gpu, &req, &models, dir)? {
            eprintln!("wrote {}", p.display());
        }
    }
    let format = if args.json { Format::Json } else { args.format };
    match format {
        Format::Table => print!("{}", report.render_table()),
        Format::Csv => print!("{}", report.render_csv()),
        Format::Json => println!(
            "{}",
            crate::util::json_envelope("planner.size", "size", &report)
        ),
    }
    let b = &report.budget;
    if !report.weights_fit() {
        eprintln!(
            "does not fit under {}'s rule: {}; try --tp {}, a quantized checkpoint (--weight-dtype fp8) or a larger GPU",
            b.kind,
            b.formula(),
            (req.tp * 2).min(model.num_attention_heads),
        );
        return Ok(ExitCode::from(1));
    }
    let row = report.requested();
    if !row.fits {
        eprintln!(
            "does not fit: {} × {} tokens need {:.2} GiB of KV per GPU at {}/{}, {:.2} GiB is available; at this parallelism the context can be {} tokens, or {} sequences at this context",
            req.parallel,
            req.ctx,
            row.request_bytes as f64 / GIB as f64,
            req.k,
            req.v,
            row.kv_budget_bytes as f64 / GIB as f64,
            row.max_context,
            row.max_parallel
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The flags, checked and resolved into a request (engine defaults filled in).
fn request(
    args: &SizeArgs,
    model: &Model,
    gpu: &GpuSpec,
    catalog: &Catalog,
) -> anyhow::Result<SizeRequest> {
    let kind: EngineKind = args
        .engine
        .parse()
        .map_err(|e| anyhow::anyhow!("--engine: {e}"))?;
    let dtype = |flag: &str, s: &str| -> anyhow::Result<CacheDtype> {
        s.parse().map_err(|e| anyhow::anyhow!("{flag}: {e}"))
    };
    let (k, v) = match &args.kv_cache_dtype {
        Some(d) => (dtype("--kv-cache-dtype", d)?, dtype("--kv-cache-dtype", d)?),
        None => (
            dtype("--cache-type-k", &args.cache_type_k)?,
            dtype("--cache-type-v", &args.cache_type_v)?,
        ),
    };
    let weights = super::weights_flag(model, args.weight_dtype.as_deref())?;
    if !(1..=1 << 24).contains(&args.parallel) {
        anyhow::bail!(
            "--parallel {}: must be in 1..=16777216 sequences",
            args.parallel
        );
    }
    let parallel = args.parallel as u64;
    let ctx = match (args.ctx, args.ctx_size) {
        (Some(c), _) if !(1..=1 << 32).contains(&c) => {
            anyhow::bail!("--ctx {c}: must be in 1..=4294967296 tokens")
        }
        (None, Some(c)) if !(1..=1 << 32).contains(&c) => {
            anyhow::bail!("-c {c}: must be in 1..=4294967296 tokens")
        }
        (_, Some(total)) if (total as u64) < parallel => anyhow::bail!(
            "-c {total} is smaller than -np {parallel}: llama.cpp splits -c over the slots, so each would get no context; give -c at least {parallel} (e.g. -c {} for {} tokens per slot)",
            parallel * 4096,
            4096
        ),
        (_, Some(total)) => llama_cpp_slot_context(total as u64, parallel),
        (Some(c), None) => c as u64,
        (None, None) => 8192,
    };
    for (flag, v) in [
        ("--max-num-batched-tokens", args.max_num_batched_tokens),
        ("--max-num-seqs", args.max_num_seqs),
    ] {
        if let Some(v) = v
            && !(1..=1 << 24).contains(&v)
        {
            anyhow::bail!("{flag} {v}: must be in 1..=16777216");
        }
    }
    if let Some(r) = args.runtime_reserve_gib
        && !(r >= 0.0 && r.is_finite())
    {
        anyhow::bail!(
            "--runtime-reserve-gib {r}: must be a non-negative number of GiB (vLLM's non-torch memory: 0.13 on one H100)"
        );
    }
    for (flag, f) in [
        ("--mem-fraction-static", args.mem_fraction_static),
        (
            "--kv-cache-free-gpu-memory-fraction",
            Some(args.kv_cache_free_gpu_memory_fraction),
        ),
    ] {
        if let Some(f) = f
            && !(f > 0.0 && f <= 1.0)
        {
            anyhow::bail!("{flag} {f}: must be in (0, 1], e.g. 0.9");
        }
    }
    if args.ubatch_size == 0 {
        anyhow::bail!("-ub/--ubatch-size 0: must be at least 1 (llama.cpp's default is 512)");
    }
    let defaults = EngineMemory::defaults_for(kind, &gpu.name, gpu.memory_bytes, ctx);
    let engine = EngineMemory {
        gpu_memory_utilization: args.gpu_memory_utilization,
        mem_fraction_static: args.mem_fraction_static,
        kv_cache_free_gpu_mem_fraction: args.kv_cache_free_gpu_memory_fraction,
        block_size: args.block_size.unwrap_or(defaults.block_size),
        max_num_batched_tokens: args
            .max_num_batched_tokens
            .unwrap_or(defaults.max_num_batched_tokens),
        // llama.cpp keeps one recurrent state per -np slot.
        max_num_seqs: args
            .max_num_seqs
            .unwrap_or(if kind == EngineKind::LlamaCpp {
                parallel
            } else {
                defaults.max_num_seqs
            }),
        non_torch_bytes: args.runtime_reserve_gib.map(|g| g * GIB as f64),
        weights,
        offload: Offload {
            n_gpu_layers: args.n_gpu_layers,
            n_cpu_moe: args.n_cpu_moe,
            n_ubatch: args.ubatch_size,
        },
        ..defaults
    };
    Ok(SizeRequest {
        ctx,
        parallel,
        tp: args.tp,
        stages: stages(args, model, gpu, catalog)?,
        ctx_size: args.ctx_size.map(|c| c as u64),
        k,
        v,
        tensor_split: args.tensor_split.clone(),
        engine,
    })
}

/// `--pp`, `--pp-layer-partition` and `--pp-gpus`, resolved into stages (empty for PP 1).
fn stages(
    args: &SizeArgs,
    model: &Model,
    gpu: &GpuSpec,
    catalog: &Catalog,
) -> anyhow::Result<Vec<StageGpu>> {
    let pp = args.pp;
    if pp == 0 || pp as usize > model.n_layers() {
        anyhow::bail!(
            "--pp {pp}: must be in 1..={} (one stage per layer at most)",
            model.n_layers()
        );
    }
    if pp == 1 {
        if !args.pp_layer_partition.is_empty() || args.pp_gpus.len() > 1 {
            anyhow::bail!("--pp-layer-partition and --pp-gpus need --pp 2 or more");
        }
        return Ok(Vec::new());
    }
    let split =
        Stage::split(model.n_layers(), pp as usize, &args.pp_layer_partition).ok_or_else(|| {
            anyhow::anyhow!(
                "--pp-layer-partition {:?}: needs {pp} non-zero layer counts summing to the model's {} layers (vLLM's VLLM_PP_LAYER_PARTITION)",
                args.pp_layer_partition,
                model.n_layers()
            )
        })?;
    let gpus: Vec<GpuSpec> = match args.pp_gpus.len() {
        0 => vec![gpu.clone(); pp as usize],
        n if n as u64 == pp => args
            .pp_gpus
            .iter()
            .map(|g| catalog.gpu(g))
            .collect::<Result<_, _>>()?,
        n => anyhow::bail!("--pp-gpus names {n} GPUs for --pp {pp}: give one per stage"),
    };
    Ok(split
        .into_iter()
        .zip(gpus)
        .map(|(stage, gpu)| StageGpu { stage, gpu })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama_cpp_slots_pad_to_256() {
        assert_eq!(llama_cpp_slot_context(65_536, 4), 16_384);
        assert_eq!(llama_cpp_slot_context(10_000, 3), 3_584);
        assert_eq!(llama_cpp_slot_context(4_096, 1), 4_096);
    }
}
