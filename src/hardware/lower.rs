//! [`GpuSpec::from_raw`]: unit conversion and the checks a GPU file must pass. No I/O.
//!
//! Rules, each reported as `file: key = value: what is wrong (unit)`:
//! - every number is finite and > 0 (optional keys only when present);
//! - counts (`compute.sm_count`, `interconnect.pcie_generation`) are whole numbers;
//! - `memory.capacity_gib` is 75–105 % of `memory.capacity_gb` read as GiB (catches MiB or
//!   bytes written where GiB was meant); L2 is smaller than device memory;
//! - `compute.max_smem_per_block_kib` ≤ `compute.smem_per_sm_kib`;
//! - a measured ceiling is at most 1.25 × its datasheet peak (catches unit slips; boost
//!   clocks above the datasheet's reference clock explain a few percent, not more), and
//!   `measured.fp8_tflops` needs `compute.fp8_tflops`.

use super::raw::{RawGpu, RawMeasured};
use super::{GpuSpec, HardwareError, Measured, PeakFlops};
use crate::units::{GB, GIB, MIB};
use std::path::Path;

/// Bytes in a MiB / KiB.
const BYTES_PER_KIB: f64 = 1024.0;
/// 1 TFLOP/s in FLOP/s; 1 MHz in Hz.
const FLOPS_PER_TFLOPS: f64 = 1e12;
const HZ_PER_MHZ: f64 = 1e6;

/// Allowed range of `capacity_gib / capacity_gb`. Marketed "80 GB" HBM is really 80 GiB of
/// which drivers expose 90–99 % (H100 79.11, A10G 22.06 of 24, L40S 44.42 of 48).
const CAPACITY_RATIO: (f64, f64) = (0.75, 1.05);

/// A measured ceiling may exceed its datasheet peak by at most this factor.
const MEASURED_OVER_PEAK_MAX: f64 = 1.25;

const GB_S: &str = "GB/s, 1 GB = 1e9 bytes";
const GB_S_PER_DIRECTION: &str = "GB/s per direction, 1 GB = 1e9 bytes";
const TFLOPS: &str = "dense TFLOP/s, 1 TFLOP/s = 1e12 FLOP/s";

impl GpuSpec {
    /// Parse and validate a GPU file's text; `path` names the file in errors and becomes
    /// [`GpuSpec::source`].
    pub fn from_toml_str(text: &str, path: &Path) -> Result<GpuSpec, HardwareError> {
        GpuSpec::from_raw(&RawGpu::parse(text, path)?, path)
    }

    /// Validate `raw` (read from `path`, which only names the file in errors) and convert it
    /// to SI units. See the module docs for the rules.
    pub fn from_raw(raw: &RawGpu, path: &Path) -> Result<GpuSpec, HardwareError> {
        let check = Check { path };
        check.text("name", &raw.name)?;
        if raw
            .name
            .contains(|c: char| c.is_whitespace() || c == '/' || c == '\\')
        {
            return Err(check.fail(
                "name",
                format!("{:?}", raw.name),
                "must be a single word without spaces or slashes, e.g. \"h100-sxm\"",
            ));
        }
        check.text("display_name", &raw.display_name)?;
        check.text("architecture", &raw.architecture)?;

        let m = &raw.memory;
        let capacity_gb = check.positive(
            "memory.capacity_gb",
            m.capacity_gb,
            "GB as marketed, 1 GB = 1e9 bytes",
        )?;
        let capacity_gib = check.positive(
            "memory.capacity_gib",
            m.capacity_gib,
            "GiB, 1 GiB = 2^30 bytes: the total PyTorch and vLLM report",
        )?;
        let ratio = capacity_gib / capacity_gb;
        if !(CAPACITY_RATIO.0..=CAPACITY_RATIO.1).contains(&ratio) {
            return Err(check.fail(
                "memory.capacity_gib",
                capacity_gib,
                format!(
                    "is {:.0}% of memory.capacity_gb = {capacity_gb}; the usable total is normally \
                     90-100% of the marketed size (write GiB as PyTorch reports it, e.g. 79.11 \
                     for an 80 GB H100, not MiB or bytes)",
                    ratio * 100.0
                ),
            ));
        }
        let memory_bytes = capacity_gib * GIB as f64;
        let hbm_bytes_per_s =
            check.positive("memory.bandwidth_gb_s", m.bandwidth_gb_s, GB_S)? * GB as f64;
        let l2_bytes = check.positive(
            "memory.l2_cache_mib",
            m.l2_cache_mib,
            "MiB, 1 MiB = 2^20 bytes",
        )? * MIB as f64;
        if l2_bytes >= memory_bytes {
            return Err(check.fail(
                "memory.l2_cache_mib",
                m.l2_cache_mib,
                format!(
                    "L2 must be smaller than device memory (memory.capacity_gib = \
                     {capacity_gib}); L2 is in MiB"
                ),
            ));
        }

        let c = &raw.compute;
        let sm_count = check.whole("compute.sm_count", c.sm_count, "SMs, or CUs on AMD")?;
        let smem_per_sm_kib = check.positive(
            "compute.smem_per_sm_kib",
            c.smem_per_sm_kib,
            "KiB, 1 KiB = 1024 bytes",
        )?;
        let max_smem_kib = check.positive(
            "compute.max_smem_per_block_kib",
            c.max_smem_per_block_kib,
            "KiB, 1 KiB = 1024 bytes",
        )?;
        if max_smem_kib > smem_per_sm_kib {
            return Err(check.fail(
                "compute.max_smem_per_block_kib",
                max_smem_kib,
                format!(
                    "a block cannot use more shared memory than its SM has \
                     (compute.smem_per_sm_kib = {smem_per_sm_kib})"
                ),
            ));
        }
        let boost_clock_hz =
            check.positive("compute.boost_clock_mhz", c.boost_clock_mhz, "MHz")? * HZ_PER_MHZ;
        let peak = PeakFlops {
            fp32: check.positive("compute.fp32_tflops", c.fp32_tflops, "TFLOP/s, non-tensor")?
                * FLOPS_PER_TFLOPS,
            tf32: check.positive("compute.tf32_tflops", c.tf32_tflops, TFLOPS)? * FLOPS_PER_TFLOPS,
            fp16: check.positive("compute.fp16_tflops", c.fp16_tflops, TFLOPS)? * FLOPS_PER_TFLOPS,
            bf16: match check.optional(
                "compute.bf16_tflops",
                c.bf16_tflops,
                "dense TFLOP/s; omit the key if the GPU has no BF16 (Volta)",
            )? {
                Some(t) => t * FLOPS_PER_TFLOPS,
                None => c.fp16_tflops * FLOPS_PER_TFLOPS,
            },
            has_bf16: c.bf16_tflops.is_some(),
            fp8: check
                .optional(
                    "compute.fp8_tflops",
                    c.fp8_tflops,
                    "dense TFLOP/s; omit the key if the GPU has no FP8",
                )?
                .map(|t| t * FLOPS_PER_TFLOPS),
            int8: check
                .optional(
                    "compute.int8_tops",
                    c.int8_tops,
                    "dense TOP/s, 1 TOP/s = 1e12 op/s; omit the key if the GPU has no INT8 tensor cores",
                )?
                .map(|t| t * FLOPS_PER_TFLOPS),
            fp4: check
                .optional(
                    "compute.fp4_tflops",
                    c.fp4_tflops,
                    "dense TFLOP/s; omit the key if the GPU has no FP4 (before Blackwell)",
                )?
                .map(|t| t * FLOPS_PER_TFLOPS),
        };

        let i = &raw.interconnect;
        check.text("interconnect.generation", &i.generation)?;
        let link_bytes_per_s = check.positive(
            "interconnect.bandwidth_gb_s",
            i.bandwidth_gb_s,
            GB_S_PER_DIRECTION,
        )? * GB as f64;
        let pcie_generation = check.whole(
            "interconnect.pcie_generation",
            i.pcie_generation,
            "PCIe generation, e.g. 5",
        )?;
        let pcie_bytes_per_s =
            check.positive("interconnect.pcie_gb_s", i.pcie_gb_s, GB_S_PER_DIRECTION)? * GB as f64;

        let usd_per_hour = check.positive(
            "cost.usd_per_gpu_hour",
            raw.cost.usd_per_gpu_hour,
            "USD per GPU-hour",
        )?;

        let measured = match &raw.measured {
            Some(raw_measured) => Some(check.measured(raw_measured, hbm_bytes_per_s, &peak)?),
            None => None,
        };

        Ok(GpuSpec {
            name: raw.name.clone(),
            display_name: raw.display_name.clone(),
            vendor: raw.vendor,
            architecture: raw.architecture.clone(),
            source: path.to_path_buf(),
            memory_bytes,
            nominal_gb: capacity_gb,
            hbm_bytes_per_s,
            l2_bytes,
            sm_count,
            smem_per_sm_bytes: smem_per_sm_kib * BYTES_PER_KIB,
            max_smem_per_block_bytes: max_smem_kib * BYTES_PER_KIB,
            boost_clock_hz,
            peak,
            link_kind: i.kind,
            link_generation: i.generation.clone(),
            link_bytes_per_s,
            pcie_generation,
            pcie_bytes_per_s,
            usd_per_hour,
            price_from: format!("{} (an assumption; override it)", path.display()),
            measured,
        })
    }
}

/// The checks, each naming `path` and the key in its error.
struct Check<'a> {
    path: &'a Path,
}

impl Check<'_> {
    fn fail(
        &self,
        key: &'static str,
        value: impl ToString,
        reason: impl Into<String>,
    ) -> HardwareError {
        HardwareError::invalid(self.path, key, value, reason)
    }

    /// `value` if finite and > 0.
    fn positive(&self, key: &'static str, value: f64, unit: &str) -> Result<f64, HardwareError> {
        if value.is_finite() && value > 0.0 {
            Ok(value)
        } else if value.is_finite() {
            Err(self.fail(key, value, format!("must be > 0 ({unit})")))
        } else {
            Err(self.fail(key, value, format!("must be a finite number > 0 ({unit})")))
        }
    }

    /// An optional key: absent is fine, present must be finite and > 0.
    fn optional(
        &self,
        key: &'static str,
        value: Option<f64>,
        unit: &str,
    ) -> Result<Option<f64>, HardwareError> {
        value.map(|v| self.positive(key, v, unit)).transpose()
    }

    /// A count: a whole number ≥ 1 that fits in a `u32`.
    fn whole(&self, key: &'static str, value: f64, unit: &str) -> Result<u32, HardwareError> {
        let value = self.positive(key, value, unit)?;
        if value.fract() != 0.0 || value > f64::from(u32::MAX) {
            return Err(self.fail(key, value, format!("must be a whole number ({unit})")));
        }
        // Exact: whole, positive and at most u32::MAX.
        Ok(value as u32)
    }

    /// A non-empty string.
    fn text(&self, key: &'static str, value: &str) -> Result<(), HardwareError> {
        if value.trim().is_empty() {
            Err(self.fail(key, format!("{value:?}"), "must not be empty"))
        } else {
            Ok(())
        }
    }

    /// An optional measured ceiling (file units × `scale`), at most
    /// [`MEASURED_OVER_PEAK_MAX`] × `peak` (SI units, named `peak_key` in the message).
    fn ceiling(
        &self,
        key: &'static str,
        value: Option<f64>,
        unit: &str,
        scale: f64,
        peak: f64,
        peak_key: &str,
    ) -> Result<Option<f64>, HardwareError> {
        let Some(value) = self.optional(key, value, unit)? else {
            return Ok(None);
        };
        if value * scale > MEASURED_OVER_PEAK_MAX * peak {
            return Err(self.fail(
                key,
                value,
                format!(
                    "exceeds the datasheet peak {peak_key} = {} by more than {:.0}%; a measured \
                     ceiling sits below the peak: check the units ({unit})",
                    peak / scale,
                    (MEASURED_OVER_PEAK_MAX - 1.0) * 100.0
                ),
            ));
        }
        Ok(Some(value * scale))
    }

    fn measured(
        &self,
        raw: &RawMeasured,
        hbm_bytes_per_s: f64,
        peak: &PeakFlops,
    ) -> Result<Measured, HardwareError> {
        let copy_unit = "GB/s counting bytes read + bytes written, 1 GB = 1e9 bytes";
        let copy_bytes_per_s = self.ceiling(
            "measured.copy_gb_s",
            raw.copy_gb_s,
            copy_unit,
            GB as f64,
            hbm_bytes_per_s,
            "memory.bandwidth_gb_s",
        )?;
        let read_bytes_per_s = self.ceiling(
            "measured.read_gb_s",
            raw.read_gb_s,
            GB_S,
            GB as f64,
            hbm_bytes_per_s,
            "memory.bandwidth_gb_s",
        )?;
        let bf16_flops = self.ceiling(
            "measured.bf16_tflops",
            raw.bf16_tflops,
            TFLOPS,
            FLOPS_PER_TFLOPS,
            peak.bf16,
            "compute.bf16_tflops",
        )?;
        let fp8_flops = match (raw.fp8_tflops, peak.fp8) {
            (Some(value), None) => {
                return Err(self.fail(
                    "measured.fp8_tflops",
                    value,
                    "compute.fp8_tflops is absent (no FP8 on this GPU); add it or remove this key",
                ));
            }
            (value, Some(fp8)) => self.ceiling(
                "measured.fp8_tflops",
                value,
                TFLOPS,
                FLOPS_PER_TFLOPS,
                fp8,
                "compute.fp8_tflops",
            )?,
            (None, None) => None,
        };
        if let Some(source) = &raw.source {
            self.text("measured.source", source)?;
        }
        Ok(Measured {
            copy_bytes_per_s,
            read_bytes_per_s,
            bf16_flops,
            fp8_flops,
            source: raw.source.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid file (H100 SXM figures) to mutate; `{extra}` is appended.
    fn text(extra: &str) -> String {
        format!(
            r#"
name = "test-gpu"
display_name = "Test GPU"
vendor = "nvidia"
architecture = "hopper"

[memory]
capacity_gb = 80
capacity_gib = 79.11
bandwidth_gb_s = 3350
l2_cache_mib = 50

[compute]
sm_count = 132
smem_per_sm_kib = 228
max_smem_per_block_kib = 227
boost_clock_mhz = 1980
fp32_tflops = 66.9
tf32_tflops = 494.7
bf16_tflops = 989.4
fp16_tflops = 989.4
fp8_tflops = 1978.9
int8_tops = 1978.9

[interconnect]
kind = "nvlink"
generation = "NVLink 4"
bandwidth_gb_s = 450
pcie_generation = 5
pcie_gb_s = 64

[cost]
usd_per_gpu_hour = 2.7
{extra}"#
        )
    }

    fn parse(text: &str) -> Result<GpuSpec, HardwareError> {
        GpuSpec::from_toml_str(text, Path::new("hardware/x.toml"))
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn converts_file_units_to_si() {
        let gpu = parse(&text("")).unwrap();
        assert_eq!(gpu.memory_bytes, 79.11 * 1073741824.0);
        assert_eq!(gpu.nominal_gb, 80.0);
        assert_eq!(gpu.hbm_bytes_per_s, 3.35e12);
        assert_eq!(gpu.l2_bytes, 52428800.0);
        assert_eq!(gpu.sm_count, 132);
        assert_eq!(gpu.smem_per_sm_bytes, 233472.0);
        assert_eq!(gpu.max_smem_per_block_bytes, 232448.0);
        assert_eq!(gpu.boost_clock_hz, 1.98e9);
        assert_eq!(gpu.link_bytes_per_s, 450e9);
        assert_eq!(gpu.pcie_bytes_per_s, 64e9);
        assert_eq!(gpu.pcie_generation, 5);
        assert_eq!(gpu.usd_per_hour, 2.7);
        assert_eq!(gpu.source, Path::new("hardware/x.toml"));
        assert!(gpu.measured.is_none());
        assert_eq!(gpu.effective_hbm_bytes_per_s(), gpu.hbm_bytes_per_s);
        assert_eq!(gpu.effective_bf16_flops(), gpu.peak.bf16);
    }

    #[test]
    fn zero_bandwidth_names_the_key_and_unit() {
        let bad = text("").replace("bandwidth_gb_s = 3350", "bandwidth_gb_s = 0");
        assert_eq!(
            error(&bad),
            "hardware/x.toml: memory.bandwidth_gb_s = 0: must be > 0 (GB/s, 1 GB = 1e9 bytes)"
        );
    }

    #[test]
    fn non_finite_and_negative_numbers_are_rejected() {
        let nan = text("").replace("fp32_tflops = 66.9", "fp32_tflops = nan");
        assert!(error(&nan).contains("compute.fp32_tflops = NaN: must be a finite number > 0"));
        let inf = text("").replace("usd_per_gpu_hour = 2.7", "usd_per_gpu_hour = inf");
        assert!(error(&inf).contains("cost.usd_per_gpu_hour = inf"));
        let negative = text("").replace("pcie_gb_s = 64", "pcie_gb_s = -64");
        assert!(error(&negative).contains("interconnect.pcie_gb_s = -64: must be > 0"));
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let typo = text("").replace("l2_cache_mib", "l2_cache_mb");
        let message = error(&typo);
        assert!(message.starts_with("hardware/x.toml: "), "{message}");
        assert!(message.contains("unknown field `l2_cache_mb`"), "{message}");
        let top = text("\n[extra]\nfoo = 1\n");
        assert!(error(&top).contains("unknown field `extra`"));
        let in_measured = text("\n[measured]\ncopy_gbs = 3000\n");
        assert!(error(&in_measured).contains("unknown field `copy_gbs`"));
    }

    #[test]
    fn toml_syntax_error_keeps_line_and_column() {
        let broken = text("").replace("sm_count = 132", "sm_count = = 132");
        let message = error(&broken);
        assert!(message.starts_with("hardware/x.toml: "), "{message}");
        assert!(message.contains("line 14, column 12"), "{message}");
    }

    #[test]
    fn unknown_vendor_and_link_kind_are_rejected() {
        let vendor = text("").replace("\"nvidia\"", "\"intel\"");
        assert!(error(&vendor).contains("unknown variant `intel`"));
        let kind = text("").replace("\"nvlink\"", "\"infiniband\"");
        assert!(error(&kind).contains("unknown variant `infiniband`"));
    }

    #[test]
    fn counts_must_be_whole() {
        let bad = text("").replace("sm_count = 132", "sm_count = 132.5");
        assert!(error(&bad).contains("compute.sm_count = 132.5: must be a whole number"));
        let float_but_whole = text("").replace("sm_count = 132", "sm_count = 132.0");
        assert_eq!(parse(&float_but_whole).unwrap().sm_count, 132);
    }

    #[test]
    fn capacity_in_mib_is_caught() {
        let bad = text("").replace("capacity_gib = 79.11", "capacity_gib = 81559");
        assert!(
            error(&bad)
                .contains("memory.capacity_gib = 81559: is 101949% of memory.capacity_gb = 80")
        );
    }

    #[test]
    fn l2_must_be_smaller_than_memory() {
        let bad = text("").replace("l2_cache_mib = 50", "l2_cache_mib = 81920");
        assert!(error(&bad).contains("memory.l2_cache_mib = 81920: L2 must be smaller"));
    }

    #[test]
    fn block_smem_cannot_exceed_sm_smem() {
        let bad = text("").replace(
            "max_smem_per_block_kib = 227",
            "max_smem_per_block_kib = 229",
        );
        assert!(error(&bad).contains("compute.max_smem_per_block_kib = 229"));
    }

    #[test]
    fn fp8_is_optional() {
        let gpu = parse(&text("").replace("fp8_tflops = 1978.9\n", "")).unwrap();
        assert_eq!(gpu.peak_flops(crate::hardware::ComputeDtype::Fp8), None);
        assert_eq!(
            gpu.effective_flops(crate::hardware::ComputeDtype::Fp8),
            None
        );
    }

    #[test]
    fn measured_overrides_datasheet() {
        use crate::hardware::ComputeDtype;
        let gpu = parse(&text(
            "\n[measured]\ncopy_gb_s = 3000\nbf16_tflops = 798\nfp8_tflops = 1300\n\
             source = \"bench\"\n",
        ))
        .unwrap();
        assert_eq!(gpu.effective_hbm_bytes_per_s(), 3.0e12);
        assert_eq!(gpu.effective_bf16_flops(), 798e12);
        assert_eq!(gpu.effective_flops(ComputeDtype::Bf16), Some(798e12));
        assert_eq!(gpu.effective_flops(ComputeDtype::Fp8), Some(1300e12));
        assert_eq!(gpu.effective_flops(ComputeDtype::Fp16), Some(989.4e12));
        // The datasheet figures are untouched.
        assert_eq!(gpu.hbm_bytes_per_s, 3.35e12);
        assert_eq!(gpu.peak_flops(ComputeDtype::Bf16), Some(989.4e12));
        let measured = gpu.measured.unwrap();
        assert_eq!(measured.read_bytes_per_s, None);
        assert_eq!(measured.source.as_deref(), Some("bench"));

        // A partial table overrides only what it has.
        let copy_only = parse(&text("\n[measured]\ncopy_gb_s = 3000\n")).unwrap();
        assert_eq!(copy_only.effective_hbm_bytes_per_s(), 3.0e12);
        assert_eq!(copy_only.effective_bf16_flops(), 989.4e12);
    }

    #[test]
    fn measured_above_datasheet_or_without_fp8_is_rejected() {
        let tb = error(&text("\n[measured]\ncopy_gb_s = 3000000\n"));
        assert!(
            tb.contains(
                "measured.copy_gb_s = 3000000: exceeds the datasheet peak \
                 memory.bandwidth_gb_s = 3350 by more than 25%"
            ),
            "{tb}"
        );
        let zero = error(&text("\n[measured]\nbf16_tflops = 0\n"));
        assert!(
            zero.contains("measured.bf16_tflops = 0: must be > 0"),
            "{zero}"
        );
        let no_fp8 = text("\n[measured]\nfp8_tflops = 1000\n").replace("fp8_tflops = 1978.9\n", "");
        assert!(
            error(&no_fp8).contains("measured.fp8_tflops = 1000: compute.fp8_tflops is absent")
        );
    }

    #[test]
    fn empty_strings_are_rejected() {
        let bad = text("").replace("architecture = \"hopper\"", "architecture = \"\"");
        assert_eq!(
            error(&bad),
            "hardware/x.toml: architecture = \"\": must not be empty"
        );
        let spaced = text("").replace("name = \"test-gpu\"", "name = \"test gpu\"");
        assert!(error(&spaced).contains("name = \"test gpu\": must be a single word"));
    }
}
