//! `planner size`: KV bytes per token, the memory budget and the dtype trade-off table.

use crate::catalog::Catalog;
use crate::cli::{Format, SizeArgs};
use std::process::ExitCode;

pub(super) fn run_size(args: SizeArgs, catalog: &Catalog) -> anyhow::Result<ExitCode> {
    use crate::kv::{CacheDtype, EngineMemory};
    use crate::model::{Precision, WeightDtype};
    use crate::size::{SizeRequest, size};
    use crate::units::GIB;
    let model = catalog.model(&args.model)?;
    let gpu = catalog.gpu(&args.gpu)?;
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
    let weight_dtype: WeightDtype = args
        .weight_dtype
        .parse()
        .map_err(|e| anyhow::anyhow!("--weight-dtype: {e}"))?;
    if !(1..=1 << 32).contains(&args.ctx) {
        anyhow::bail!("--ctx {}: must be in 1..=4294967296 tokens", args.ctx);
    }
    if !(1..=1 << 24).contains(&args.parallel) {
        anyhow::bail!(
            "--parallel {}: must be in 1..=16777216 sequences",
            args.parallel
        );
    }
    for (flag, v) in [
        ("--max-num-batched-tokens", args.max_num_batched_tokens),
        ("--max-num-seqs", args.max_num_seqs),
    ] {
        if !(1..=1 << 24).contains(&v) {
            anyhow::bail!("{flag} {v}: must be in 1..=16777216");
        }
    }
    if !(args.runtime_reserve_gib >= 0.0 && args.runtime_reserve_gib.is_finite()) {
        anyhow::bail!(
            "--runtime-reserve-gib {}: must be a non-negative number of GiB (vLLM's non-torch memory: 0.35 on one GPU)",
            args.runtime_reserve_gib
        );
    }
    let req = SizeRequest {
        ctx: args.ctx as u64,
        parallel: args.parallel as u64,
        tp: args.tp,
        k,
        v,
        tensor_split: args.tensor_split.clone(),
        engine: EngineMemory {
            gpu_memory_utilization: args.gpu_memory_utilization,
            block_size: args.block_size,
            max_num_batched_tokens: args.max_num_batched_tokens,
            max_num_seqs: args.max_num_seqs,
            runtime_reserve_bytes: args.runtime_reserve_gib * GIB as f64,
            weights: Precision::uniform(weight_dtype).from("--weight-dtype"),
            activation_bytes: 2.0,
        },
    };
    let models = catalog.all_models();
    let report = size(&model, &gpu, &req, &models)?;
    if let Some(dir) = &args.out
        && report.weights_fit()
    {
        for p in crate::size::write_tradeoff_chart(&model, &gpu, &req, &models, dir)? {
            eprintln!("wrote {}", p.display());
        }
    }
    match args.format {
        Format::Table => print!("{}", report.render_table()),
        Format::Csv => print!("{}", report.render_csv()),
        Format::Json => println!("{}", report.render_json()),
    }
    let b = &report.budget;
    if !report.weights_fit() {
        let per_gpu_need = b.weights + b.activations + b.reserve;
        eprintln!(
            "does not fit: weights {:.2} GiB + activations {:.2} GiB + reserve {:.2} GiB per GPU exceed {:.2} GiB usable ({:.2} GiB × {}); try --tp {} or a GPU with at least {:.0} GiB",
            b.weights / GIB as f64,
            b.activations / GIB as f64,
            b.reserve / GIB as f64,
            b.usable / GIB as f64,
            b.memory / GIB as f64,
            req.engine.gpu_memory_utilization,
            (req.tp * 2).min(model.num_attention_heads),
            (per_gpu_need / req.engine.gpu_memory_utilization / GIB as f64).ceil()
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
            k,
            v,
            row.kv_budget_bytes as f64 / GIB as f64,
            row.max_context,
            row.max_parallel
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
