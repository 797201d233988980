//! The hardware catalog: `hardware/<name>.toml` files, found by name, plus any GPU file by path.

use super::{GpuSpec, HardwareError, RawGpu};
pub use crate::util::closest_first;
use std::path::{Path, PathBuf};

/// Environment variable that overrides [`default_hardware_dir`].
pub const HARDWARE_DIR_ENV: &str = "PLANNER_HARDWARE_DIR";

/// The catalog folder: `$PLANNER_HARDWARE_DIR` if set, else the `hardware` folder next to
/// the crate's `Cargo.toml`.
pub fn default_hardware_dir() -> PathBuf {
    match std::env::var_os(HARDWARE_DIR_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("hardware"),
    }
}

/// Catalog names (stems of the `*.toml` files) in `dir`, sorted; empty if the folder cannot
/// be read. Subfolders (such as `hardware/measured/`) are not part of the catalog.
pub fn list_gpus(dir: &Path) -> Vec<String> {
    crate::util::toml_stems(dir)
}

/// Load a GPU from `spec`:
/// - a path, when `spec` contains a path separator or ends with `.toml`;
/// - otherwise a catalog name, matched case-insensitively against [`list_gpus`]`(dir)`. The
///   file's `name` must equal its stem. An unknown name is an error listing every known
///   name, closest first (see [`closest_first`]).
pub fn load_gpu(spec: &str, dir: &Path) -> Result<GpuSpec, HardwareError> {
    if spec.contains(['/', '\\']) || spec.to_ascii_lowercase().ends_with(".toml") {
        return load_gpu_file(Path::new(spec));
    }
    let known = list_gpus(dir);
    let Some(stem) = known.iter().find(|name| name.eq_ignore_ascii_case(spec)) else {
        return Err(HardwareError::UnknownGpu {
            name: spec.to_string(),
            known: closest_first(spec, &known),
            dir: dir.to_path_buf(),
        });
    };
    let file = dir.join(format!("{stem}.toml"));
    let gpu = load_gpu_file(&file)?;
    if gpu.name != *stem {
        return Err(HardwareError::invalid(
            &file,
            "name",
            format!("{:?}", gpu.name),
            format!(
                "must equal the file name without .toml (\"{stem}\"): a catalog GPU is found by \
                 its file name"
            ),
        ));
    }
    Ok(gpu)
}

/// Read and validate the GPU file at `path` (any name; no catalog rules).
pub fn load_gpu_file(path: &Path) -> Result<GpuSpec, HardwareError> {
    GpuSpec::from_raw(&RawGpu::read(path)?, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::{BYTES_PER_GIB, ComputeDtype, LinkKind, Vendor};

    fn hardware_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("hardware")
    }

    fn load(name: &str) -> GpuSpec {
        load_gpu(name, &hardware_dir()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn assert_close(actual: f64, expected: f64, tolerance: f64) {
        assert!(
            (actual / expected - 1.0).abs() <= tolerance,
            "{actual} is not within {tolerance} of {expected}"
        );
    }

    #[test]
    fn every_catalog_file_loads_and_validates() {
        let names = list_gpus(&hardware_dir());
        assert!(names.len() >= 12, "{names:?}");
        assert!(
            !names.contains(&"measured".to_string()),
            "subfolders are not GPUs"
        );
        for name in &names {
            let gpu = load(name);
            assert_eq!(&gpu.name, name);
            assert!(
                gpu.memory_bytes < gpu.nominal_gb * 1.05 * BYTES_PER_GIB,
                "{name}"
            );
            assert!(
                gpu.effective_hbm_bytes_per_s() <= gpu.hbm_bytes_per_s,
                "{name}"
            );
            assert!(gpu.effective_bf16_flops() <= gpu.peak.bf16, "{name}");
            for dtype in ComputeDtype::ALL {
                if dtype != ComputeDtype::Fp8 {
                    assert!(gpu.peak_flops(dtype).is_some(), "{name} {dtype}");
                }
            }
        }
    }

    #[test]
    fn h100_sxm_datasheet_figures() {
        let gpu = load("h100-sxm");
        assert_close(gpu.hbm_bytes_per_s, 3.35e12, 0.01);
        assert_close(gpu.peak_flops(ComputeDtype::Bf16).unwrap(), 989e12, 0.01);
        assert_close(gpu.peak_flops(ComputeDtype::Fp8).unwrap(), 1979e12, 0.01);
        assert_eq!(gpu.sm_count, 132);
        assert_eq!(gpu.l2_bytes, 50.0 * 1024.0 * 1024.0);
        assert_eq!(gpu.link_kind, LinkKind::Nvlink);
        assert_eq!(gpu.vendor, Vendor::Nvidia);
        assert_eq!(gpu.link_bytes_per_s, 450e9);
    }

    #[test]
    fn rtx_3090_memory_is_what_vllm_reports() {
        // vLLM logs total_gpu_memory (23.58GiB) on an RTX 3090.
        let gpu = load("rtx-3090");
        assert_eq!(gpu.memory_bytes, 23.58 * BYTES_PER_GIB);
        assert_eq!(gpu.nominal_gb, 24.0);
        assert_eq!(gpu.link_kind, LinkKind::Pcie);
    }

    #[test]
    fn ampere_has_no_fp8() {
        for name in ["a100-40gb", "a100-80gb", "rtx-3090"] {
            let gpu = load(name);
            assert_eq!(gpu.peak_flops(ComputeDtype::Fp8), None, "{name}");
            assert!(gpu.peak_flops(ComputeDtype::Bf16).is_some(), "{name}");
        }
        assert!(load("h100-sxm").peak_flops(ComputeDtype::Fp8).is_some());
    }

    #[test]
    fn measured_ceilings_from_the_catalog() {
        // hardware/h100-sxm.toml and h200.toml carry [measured] from sizing_cases.md.
        let h100 = load("h100-sxm");
        assert_close(h100.effective_hbm_bytes_per_s(), 3.0e12, 1e-9);
        assert_close(h100.effective_bf16_flops(), 798e12, 1e-9);
        let h200 = load("h200");
        assert_close(h200.effective_hbm_bytes_per_s(), 4.3e12, 1e-9);
        assert_close(h200.effective_bf16_flops(), 769e12, 1e-9);
        // Without a [measured] table the datasheet is used.
        let b200 = load("b200");
        assert!(b200.measured.is_none());
        assert_eq!(b200.effective_hbm_bytes_per_s(), b200.hbm_bytes_per_s);
    }

    #[test]
    fn names_are_case_insensitive_and_paths_work() {
        let gpu = load("H100-SXM");
        assert_eq!(gpu.name, "h100-sxm");
        assert_eq!(gpu.source, hardware_dir().join("h100-sxm.toml"));
        let path = hardware_dir().join("mi300x.toml");
        let by_path = load_gpu(path.to_str().unwrap(), Path::new("/nonexistent")).unwrap();
        assert_eq!(by_path.vendor, Vendor::Amd);
        assert_eq!(by_path.link_kind, LinkKind::Xgmi);
    }

    #[test]
    fn unknown_name_lists_closest_first() {
        let err = load_gpu("h100", &hardware_dir()).unwrap_err();
        let HardwareError::UnknownGpu { known, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(known[..3], ["h100-sxm", "h100-pcie", "h200"]);
        assert_eq!(known.len(), list_gpus(&hardware_dir()).len());
        let message = err.to_string();
        assert!(
            message.starts_with(
                "unknown gpu `h100` (known, closest first: h100-sxm, h100-pcie, h200, "
            ),
            "{message}"
        );
        let typo = load_gpu("mi30x", &hardware_dir()).unwrap_err();
        let HardwareError::UnknownGpu { known, .. } = &typo else {
            panic!("{typo}")
        };
        assert_eq!(known[0], "mi300x");
    }

    #[test]
    fn missing_file_and_missing_folder() {
        let err = load_gpu("nope.toml", &hardware_dir()).unwrap_err();
        assert!(
            err.to_string().starts_with("nope.toml: cannot read: "),
            "{err}"
        );
        let empty = load_gpu("h100-sxm", Path::new("/nonexistent-folder")).unwrap_err();
        assert_eq!(
            empty.to_string(),
            "unknown gpu `h100-sxm` (no *.toml GPU files in /nonexistent-folder)"
        );
    }

    #[test]
    fn catalog_name_must_match_file_name() {
        let dir = std::env::temp_dir().join(format!("planner-hw-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = std::fs::read_to_string(hardware_dir().join("h200.toml")).unwrap();
        std::fs::write(dir.join("my-gpu.toml"), &text).unwrap();
        let err = load_gpu("my-gpu", &dir).unwrap_err().to_string();
        // The same file loads by path, where no catalog rule applies.
        let by_path = load_gpu_file(&dir.join("my-gpu.toml")).map(|g| g.name);
        std::fs::remove_dir_all(&dir).unwrap();
        let expected = "my-gpu.toml: name = \"h200\": must equal the file name without .toml \
                        (\"my-gpu\"): a catalog GPU is found by its file name";
        assert!(err.ends_with(expected), "{err}");
        assert_eq!(by_path.unwrap(), "h200");
    }
}
