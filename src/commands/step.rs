//! `planner step`: one iteration's time from the cost model, for the weights' precision and
//! (when quantized) for 16-bit weights side by side, with the tensor-core math and peak each
//! GEMM runs at. The figures of BENCHMARKS.md's FP8-vs-BF16 table come from this command.

use crate::catalog::Catalog;
use crate::cli::StepArgs;
use crate::cost::iteration::{ATTENTION, BatchCost, CostSetup, IterationCost, SeqWork};
use crate::cost::precision::gemm_math;
use crate::kv::{CacheDtype, EngineKind, KvSpec};
use crate::model::{Precision, Role, WeightDtype};
use std::process::ExitCode;

pub(super) fn run_step(args: StepArgs, catalog: &Catalog) -> anyhow::Result<ExitCode> {
    let model = catalog.model(&args.model)?;
    let gpu = catalog.gpu(&args.gpu)?;
    let engine: EngineKind = args
        .engine
        .parse()
        .map_err(|e| anyhow::anyhow!("--engine: {e}"))?;
    let cache: CacheDtype = args
        .kv_cache_dtype
        .parse()
        .map_err(|e| anyhow::anyhow!("--kv-cache-dtype: {e}"))?;
    let precision = super::weights_flag(&model, args.weight_dtype.as_deref())?;
    for (flag, v) in [
        ("--prefill", args.prefill),
        ("--decode-batch", args.decode_batch),
    ] {
        if !(1..=1 << 20).contains(&v) {
            anyhow::bail!("{flag} {v}: must be in 1..=1048576");
        }
    }
    let kv = KvSpec::new(&model, cache, cache, args.tp)?;
    let mut variants = vec![precision.clone()];
    if !precision.format.is_16_bit() {
        variants.push(Precision::uniform(WeightDtype::Bf16).from("16-bit, for comparison"));
    }
    println!(
        "{} on {} (TP {}), engine {}, KV cache {}; peaks from {}",
        model.name,
        gpu.name,
        args.tp,
        engine,
        cache,
        gpu.source.display()
    );
    let mut rows: Vec<(String, BatchCost, BatchCost)> = Vec::new();
    for p in &variants {
        let cost = IterationCost::new(&CostSetup {
            model: &model,
            gpu: &gpu,
            kv: &kv,
            precision: p,
            engine,
            kernel: crate::cost::attention::AttentionKernel::Flash,
            max_tokens: args.prefill.max(args.decode_batch),
            max_seqs: args.decode_batch,
            gemm_scale: None,
            attn_eff: ATTENTION,
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!("\n{} weights ({}):", p.format, p.source);
        let mut roles = vec![Role::Attention];
        if model.mlp_layers.contains(&crate::model::MlpKind::Dense) {
            roles.push(Role::DenseMlp);
        }
        if model.moe.is_some() {
            roles.push(Role::Expert);
        }
        roles.push(Role::LmHead);
        for role in roles {
            let m = gemm_math(&model, &gpu, engine, p, role).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "  {:<12} {:>5} math at {:>7.1} TFLOP/s{}, {:.3} bytes per weight",
                format!("{role:?}"),
                m.dtype.as_str(),
                m.peak / 1e12,
                if m.dequant_flops.is_some() {
                    " (dequantized in the kernel)"
                } else {
                    ""
                },
                m.weight_bytes
            );
        }
        let prefill = cost.batch_cost(
            &[SeqWork {
                context: 0,
                tokens: args.prefill,
            }],
            0,
            0,
            1,
        );
        let decode_work = vec![
            SeqWork {
                context: args.context,
                tokens: 1,
            };
            args.decode_batch as usize
        ];
        let decode = if cost.aggregates_decodes() {
            cost.batch_cost(
                &[],
                args.decode_batch,
                args.context as u64 * args.decode_batch as u64,
                args.decode_batch,
            )
        } else {
            cost.batch_cost(&decode_work, 0, 0, args.decode_batch)
        };
        rows.push((p.format.to_string(), prefill, decode));
    }
    println!(
        "\n{:<8} {:>22} {:>10} {:>10} {:>10} {:>22} {:>10} {:>10}",
        "weights",
        format!("prefill {} tok (ms)", args.prefill),
        "linear",
        "attention",
        "lm_head",
        format!("decode {}×{} (ms)", args.decode_batch, args.context),
        "linear",
        "attention"
    );
    for (name, p, d) in &rows {
        println!(
            "{:<8} {:>22.3} {:>10.3} {:>10.3} {:>10.3} {:>22.3} {:>10.3} {:>10.3}",
            name,
            p.seconds * 1e3,
            p.linear_s * 1e3,
            p.attention_s * 1e3,
            p.lm_head_s * 1e3,
            d.seconds * 1e3,
            d.linear_s * 1e3,
            d.attention_s * 1e3
        );
    }
    if rows.len() == 2 {
        println!(
            "\n16-bit / {}: prefill {:.2}×, decode {:.2}×",
            rows[0].0,
            rows[1].1.seconds / rows[0].1.seconds,
            rows[1].2.seconds / rows[0].2.seconds
        );
    }
    Ok(ExitCode::SUCCESS)
}
