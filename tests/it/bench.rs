//! The bench pipeline on a machine without a GPU.

use planner::bench::suite::{AttnKind, Case, KvFormat, StreamOp};
use planner::bench::{Backend, MeasuredFile, Suite, cpu::CpuBackend, run_suite};

/// A small CPU suite runs end to end, every case passes its reference check, and the
/// measured file survives a TOML round trip unchanged.
#[test]
fn cpu_suite_runs_checks_and_round_trips() {
    let suite = Suite {
        cases: vec![
            Case::Stream {
                op: StreamOp::Copy,
                bytes: 1 << 20,
            },
            Case::Gemm {
                m: 4,
                n: 64,
                k: 64,
                label: "tiny".into(),
            },
            Case::Attention {
                kind: AttnKind::Standard,
                seq_len: 128,
                head_dim: 32,
                heads: 1,
            },
            Case::Attention {
                kind: AttnKind::Tiled,
                seq_len: 128,
                head_dim: 32,
                heads: 1,
            },
            Case::PagedDecode {
                format: KvFormat::Q4_0,
                batch: 2,
                context: 100,
                heads: 2,
                head_dim: 64,
                block_size: 16,
            },
            Case::Quantize {
                format: KvFormat::Q8_0,
                values: 4096,
            },
        ],
    };
    let mut backend = CpuBackend::new();
    let file = run_suite(&mut backend, &suite, |_| {});
    for m in &file.measurement {
        assert!(
            m.status.is_ok(),
            "{} {}: {}",
            m.primitive,
            m.shape,
            m.status
        );
        assert!(m.time_us > 0.0 && m.reps >= 3, "{m:?}");
    }
    let text = file.to_toml();
    let back: MeasuredFile = toml::from_str(&text).expect("measured TOML parses");
    assert_eq!(back, file);
    assert_eq!(file.to_csv().lines().count(), 1 + suite.cases.len());
    assert_eq!(backend.device().backend, "cpu");
}

/// The tiled kernel's design moves fewer bytes than the standard one, by ~N/BR·… at long N.
#[test]
fn tiled_attention_moves_fewer_bytes_than_standard() {
    for n in [512u64, 2048, 16384] {
        let b = |kind| {
            Case::Attention {
                kind,
                seq_len: n,
                head_dim: 128,
                heads: 1,
            }
            .describe()
            .bytes
        };
        let (std, tiled) = (b(AttnKind::Standard), b(AttnKind::Tiled));
        assert!(tiled < std, "N={n}: tiled {tiled} vs standard {std}");
    }
}

/// Every CUDA kernel compiles to PTX for Ampere and Hopper with NVRTC. Skipped when
/// libnvrtc is absent, unless PLANNER_REQUIRE_NVRTC is set (CI sets it).
#[cfg(feature = "cuda")]
#[test]
fn cuda_kernels_compile_with_nvrtc() {
    use planner::bench::cuda;
    if !cuda::nvrtc_available() {
        assert!(
            std::env::var_os("PLANNER_REQUIRE_NVRTC").is_none(),
            "PLANNER_REQUIRE_NVRTC is set but libnvrtc.so.13 is not on LD_LIBRARY_PATH"
        );
        eprintln!("skipped: libnvrtc not found");
        return;
    }
    for arch in ["compute_80", "compute_90"] {
        let ptx = cuda::compile_kernels(arch).unwrap_or_else(|e| panic!("{arch}: {e}"));
        for name in cuda::KERNEL_NAMES {
            assert!(
                ptx.contains(&format!(".entry {name}(")),
                "{arch}: no entry point {name}"
            );
        }
    }
    // A kernel that does not compile is an error naming NVRTC's log, not a panic.
    assert!(cuda::compile_kernels("compute_10").is_err());
}

/// Without a driver, the CUDA backend is a clean error.
#[cfg(feature = "cuda")]
#[test]
fn cuda_backend_without_driver_is_a_clean_error() {
    // SAFETY: only tries to dlopen libcuda.
    if unsafe { cudarc::driver::sys::is_culib_present() } {
        return; // a real GPU machine: nothing to check here
    }
    let err = planner::bench::cuda::CudaBackend::new()
        .err()
        .expect("no driver → error");
    assert!(err.to_string().contains("no CUDA driver"), "{err}");
}
