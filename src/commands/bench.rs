//! `planner bench`: measure the cost model's primitives on this machine's GPU (or CPU) and
//! write `hardware/measured/<device>.toml` and `.csv`.

use crate::bench::{self, Backend, Suite};
use crate::cli::{BackendKind, BenchArgs};
use std::process::ExitCode;

pub(super) fn run_bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if let Some(arch) = &args.compile_only {
        #[cfg(feature = "cuda")]
        {
            let ptx = bench::cuda::compile_kernels(arch)?;
            println!(
                "kernels.cu compiled for {arch}: {} bytes of PTX, {} entry points",
                ptx.len(),
                ptx.matches(".entry").count()
            );
            return Ok(ExitCode::SUCCESS);
        }
        #[cfg(not(feature = "cuda"))]
        anyhow::bail!("--compile-only {arch}: this build has no `cuda` feature");
    }
    let (mut backend, suite): (Box<dyn Backend>, Suite) = match args.backend {
        BackendKind::Cpu => (Box::new(bench::cpu::CpuBackend::new()), Suite::cpu()),
        BackendKind::Cuda => {
            #[cfg(feature = "cuda")]
            {
                (Box::new(bench::cuda::CudaBackend::new()?), Suite::gpu())
            }
            #[cfg(not(feature = "cuda"))]
            anyhow::bail!(
                "--backend cuda: this build has no `cuda` feature (rebuild with default features)"
            )
        }
    };
    let mut suite = suite.filter(&args.only);
    if let Some(f) = &args.filter {
        suite
            .cases
            .retain(|c| c.describe().shape.contains(f.as_str()));
    }
    if suite.cases.is_empty() {
        anyhow::bail!(
            "--only {:?} selects no case (primitives: stream, gemm, attention, paged_decode, kv_quantize)",
            args.only
        );
    }
    let dev = backend.device().clone();
    eprintln!(
        "bench: {} ({}), driver {}, {}; {} cases",
        dev.name,
        dev.backend,
        dev.driver,
        dev.cuda,
        suite.cases.len()
    );
    let result = bench::run_suite(backend.as_mut(), &suite, |m| {
        eprintln!(
            "  {:<12} {:<8} {:<48} {:>11.2} us {:>9.1} GB/s {:>8.2} TFLOP/s  {}",
            m.primitive, m.variant, m.shape, m.time_us, m.gb_per_s, m.tflop_per_s, m.status
        );
    });
    let stem = args.name.clone().unwrap_or_else(|| bench::slug(&dev.name));
    let toml_path = args.out.join(format!("{stem}.toml"));
    let csv_path = args.out.join(format!("{stem}.csv"));
    crate::util::write_atomic(&toml_path, result.to_toml().as_bytes())?;
    crate::util::write_atomic(&csv_path, result.to_csv().as_bytes())?;
    let failed = result
        .measurement
        .iter()
        .filter(|m| !m.status.is_ok())
        .count();
    println!(
        "wrote {} and {} ({} cases, {} failed)",
        toml_path.display(),
        csv_path.display(),
        result.measurement.len(),
        failed
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
