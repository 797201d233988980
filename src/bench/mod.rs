//! Micro-benchmarks of the primitives the cost model prices, on real hardware.
//!
//! A [`Backend`] runs [`Case`]s and returns [`Measurement`]s; the simulator never calls a
//! backend, it only reads the tables they write (`hardware/measured/<device>.toml`).
//! Two backends: `cuda` (cudarc, kernels compiled at run time by NVRTC, cuBLAS for bf16
//! GEMM and cuBLASLt for fp8/int8 GEMM ([`lt`](mod@lt) names the cuBLAS documentation it
//! follows), timed with CUDA events) and `cpu` (the same primitives in Rust on the host).
//! Besides its `[[measurement]]` rows, the TOML ends with the `[measured]` ceilings for
//! `hardware/<gpu>.toml` as comments ([`MeasuredFile::measured_ceilings`]).
//!
//! Every case's output is checked against a CPU reference ([`reference`](mod@reference)) before it is
//! timed; a case that fails its check, runs out of memory or fails to launch is recorded
//! with its error, and the rest of the suite still runs.

pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
#[cfg(feature = "cuda")]
pub mod lt;
pub mod reference;
pub mod suite;

use crate::hardware::raw::RawMeasured;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub use suite::{Case, Suite};

/// What went wrong in one case or in starting a backend.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// No usable GPU stack on this machine (library missing, no device).
    #[error("{0}")]
    Unavailable(String),
    /// A CUDA driver / NVRTC / cuBLAS call failed.
    #[error("{primitive} {shape}: {message}")]
    Device {
        /// Which primitive was running.
        primitive: String,
        /// Its shape, as written in the report.
        shape: String,
        /// The driver's or library's message.
        message: String,
    },
    /// The kernel ran but its output disagrees with the CPU reference.
    #[error(
        "{primitive} {shape}: wrong result: relative error {error:.3e} exceeds {tolerance:.1e}"
    )]
    WrongResult {
        /// Which primitive was checked.
        primitive: String,
        /// Its shape.
        shape: String,
        /// ‖out − ref‖ / ‖ref‖.
        error: f64,
        /// The bar it had to meet.
        tolerance: f64,
    },
}

/// The machine a suite ran on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeviceInfo {
    /// Device name as the driver reports it, e.g. "NVIDIA H100 80GB HBM3".
    pub name: String,
    /// `cuda` or `cpu`.
    pub backend: String,
    /// Kernel driver version (e.g. "580.159.04"), or "n/a".
    pub driver: String,
    /// CUDA driver API version and NVRTC version, or "n/a".
    pub cuda: String,
    /// Compute capability, e.g. "9.0", or the CPU's model name.
    pub arch: String,
    /// Streaming multiprocessors (GPU) or logical cores (CPU).
    pub units: u32,
    /// Last-level cache in bytes (GPU L2), 0 if unknown.
    pub l2_bytes: u64,
    /// Device memory in bytes.
    pub memory_bytes: u64,
    /// UTC date of the run, YYYY-MM-DD.
    pub date: String,
}

/// One timed primitive at one shape.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Measurement {
    /// `stream`, `gemm`, `attention`, `paged_decode`, `kv_quantize`.
    pub primitive: String,
    /// Variant within the primitive: `read`/`write`/`copy`/`memcpy`, `bf16`/`fp8`/`int8`,
    /// `standard`/`tiled`, `f16`/`q8_0`/`q4_0`.
    pub variant: String,
    /// Human-readable shape, e.g. `m=1 n=6144 k=4096`.
    pub shape: String,
    /// GEMM rows (tokens).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub m: u64,
    /// GEMM columns / attention sequence length.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub n: u64,
    /// GEMM inner dimension / head dim.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub k: u64,
    /// Heads (attention) or sequences (paged decode).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub batch: u64,
    /// Tokens of context per sequence (paged decode).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub context: u64,
    /// Median time of one launch, microseconds.
    pub time_us: f64,
    /// Fastest launch, microseconds.
    pub min_us: f64,
    /// Timed repetitions.
    pub reps: u32,
    /// Bytes the primitive must move through device memory (by its design; see each case).
    pub bytes: f64,
    /// Floating-point operations (integer multiply-adds ×2 for `int8` GEMM).
    pub flops: f64,
    /// bytes / median time, GB/s (1e9 B/s).
    pub gb_per_s: f64,
    /// flops / median time, TFLOP/s (TOP/s for `int8` GEMM).
    pub tflop_per_s: f64,
    /// Relative error of the checked output against the CPU reference.
    pub check_error: f64,
    /// `ok`, or the error that stopped this case.
    pub status: Status,
}

/// How a case ended. Written in files as `ok`, `pending` or `error: <why>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum Status {
    /// Not run yet.
    #[default]
    Pending,
    /// Checked and timed.
    Ok,
    /// Stopped by this error.
    Error(String),
}

impl Measurement {
    /// The case's output was checked within `tolerance` (relative error) of the reference.
    pub fn check(&self, tolerance: f64) -> Result<(), BenchError> {
        if self.check_error.is_finite() && self.check_error <= tolerance {
            Ok(())
        } else {
            Err(BenchError::WrongResult {
                primitive: self.primitive.clone(),
                shape: self.shape.clone(),
                error: self.check_error,
                tolerance,
            })
        }
    }
}

impl Status {
    /// Checked and timed.
    pub fn is_ok(&self) -> bool {
        *self == Status::Ok
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Pending => f.write_str("pending"),
            Status::Ok => f.write_str("ok"),
            Status::Error(e) => write!(f, "error: {e}"),
        }
    }
}

impl From<Status> for String {
    fn from(s: Status) -> String {
        s.to_string()
    }
}

impl From<String> for Status {
    fn from(s: String) -> Status {
        match s.as_str() {
            "ok" => Status::Ok,
            "pending" => Status::Pending,
            _ => Status::Error(s.strip_prefix("error: ").unwrap_or(&s).to_string()),
        }
    }
}

fn is_zero(x: &u64) -> bool {
    *x == 0
}

/// A whole suite's output: the device and each case's result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MeasuredFile {
    /// Where and when.
    pub device: DeviceInfo,
    /// One entry per case, in suite order.
    pub measurement: Vec<Measurement>,
}

/// A benchmark backend: the same primitives on different hardware.
pub trait Backend {
    /// The device this backend measures.
    fn device(&self) -> &DeviceInfo;
    /// Check, then time, one case.
    fn run(&mut self, case: &Case) -> Result<Measurement, BenchError>;
}

/// Run every case, recording failures instead of stopping.
pub fn run_suite(
    backend: &mut dyn Backend,
    suite: &Suite,
    mut progress: impl FnMut(&Measurement),
) -> MeasuredFile {
    let mut out = Vec::with_capacity(suite.cases.len());
    for case in &suite.cases {
        let m = match backend.run(case) {
            Ok(m) => m,
            Err(e) => {
                let mut m = case.describe();
                m.status = Status::Error(e.to_string());
                m
            }
        };
        progress(&m);
        out.push(m);
    }
    MeasuredFile {
        device: backend.device().clone(),
        measurement: out,
    }
}

impl MeasuredFile {
    /// Render as TOML (the committed, human-readable form), ending with the `[measured]`
    /// ceilings as comments.
    pub fn to_toml(&self) -> String {
        let body =
            toml::to_string(self).unwrap_or_else(|e| format!("# serialization failed: {e}\n"));
        format!(
            "# Measured by `planner bench --backend {}` on {} ({}), {}.\n# Written by the tool; never edit by hand: rerun the bench.\n{body}{}",
            self.device.backend,
            self.device.name,
            self.device.driver,
            self.device.date,
            self.ceilings_comment()
        )
    }

    /// The `[measured]` table of `hardware/<gpu>.toml` this file supports, each figure from
    /// the largest passing case of its kind: `copy_gb_s` from `stream/memcpy` and `read_gb_s`
    /// from `stream/read` (most bytes), `bf16_tflops` and `fp8_tflops` from `gemm/bf16` and
    /// `gemm/fp8` (most FLOPs); rounded to 4 significant digits. `None` where no such case
    /// passed.
    pub fn measured_ceilings(&self) -> RawMeasured {
        let largest = |primitive, variant, size: fn(&Measurement) -> f64| {
            self.find(primitive, variant)
                .max_by(|a, b| size(a).total_cmp(&size(b)))
        };
        let gb = |variant| largest("stream", variant, |m| m.bytes).map(|m| sig4(m.gb_per_s));
        let tf = |variant| largest("gemm", variant, |m| m.flops).map(|m| sig4(m.tflop_per_s));
        let mut ceilings = RawMeasured {
            copy_gb_s: gb("memcpy"),
            read_gb_s: gb("read"),
            bf16_tflops: tf("bf16"),
            fp8_tflops: tf("fp8"),
            source: None,
        };
        if ceilings != RawMeasured::default() {
            ceilings.source = Some(format!(
                "planner bench --backend {} on {}, {} (largest case of each kind)",
                self.device.backend, self.device.name, self.device.date
            ));
        }
        ceilings
    }

    /// [`Self::measured_ceilings`] as TOML comments, with the largest int8 GEMM's TOP/s
    /// (which has no `[measured]` key); empty for the CPU backend or when nothing passed.
    fn ceilings_comment(&self) -> String {
        let ceilings = self.measured_ceilings();
        if self.device.backend != "cuda" || ceilings == RawMeasured::default() {
            return String::new();
        }
        let table = toml::to_string(&ceilings).unwrap_or_default();
        let mut s = String::from(
            "\n# Ceilings for hardware/<gpu>.toml, largest passing case of each kind:\n# [measured]\n",
        );
        for line in table.lines() {
            s.push_str(&format!("# {line}\n"));
        }
        if let Some(int8) = self
            .find("gemm", "int8")
            .max_by(|a, b| a.flops.total_cmp(&b.flops))
        {
            s.push_str(&format!(
                "# int8 GEMM: {:.1} TOP/s ({}; no [measured] key)\n",
                int8.tflop_per_s, int8.shape
            ));
        }
        s
    }

    /// Render as CSV, one row per measurement, fixed column order.
    pub fn to_csv(&self) -> String {
        let mut s = String::from(
            "primitive,variant,shape,m,n,k,batch,context,time_us,min_us,reps,bytes,flops,gb_per_s,tflop_per_s,check_error,status\n",
        );
        for m in &self.measurement {
            s.push_str(&format!(
                "{},{},\"{}\",{},{},{},{},{},{:.3},{:.3},{},{:.0},{:.0},{:.2},{:.3},{:.3e},\"{}\"\n",
                m.primitive,
                m.variant,
                m.shape,
                m.m,
                m.n,
                m.k,
                m.batch,
                m.context,
                m.time_us,
                m.min_us,
                m.reps,
                m.bytes,
                m.flops,
                m.gb_per_s,
                m.tflop_per_s,
                m.check_error,
                m.status.to_string().replace('"', "'")
            ));
        }
        s
    }

    /// Read a measured file back.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// The measurements of one primitive and variant.
    pub fn find<'a>(
        &'a self,
        primitive: &'a str,
        variant: &'a str,
    ) -> impl Iterator<Item = &'a Measurement> + 'a {
        self.measurement
            .iter()
            .filter(move |m| m.primitive == primitive && m.variant == variant && m.status.is_ok())
    }
}

/// `x` rounded to 4 significant digits (dividing by an exact power of ten, so the result
/// prints short: 711.8174 → 711.8, 0.0140537 → 0.01405).
fn sig4(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let e = x.abs().log10().floor() as i32 - 3;
    if e >= 0 {
        let p = 10f64.powi(e);
        (x / p).round() * p
    } else {
        let p = 10f64.powi(-e);
        (x * p).round() / p
    }
}

/// A file-name-safe slug of a device name: "NVIDIA H100 80GB HBM3" → "nvidia-h100-80gb-hbm3".
pub fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    s.trim_end_matches('-').to_string()
}

/// Today's UTC date as YYYY-MM-DD (days-from-civil inverse, Howard Hinnant's algorithm).
pub fn utc_date() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Median of a non-empty sample (sorts in place).
pub fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        0.5 * (xs[n / 2 - 1] + xs[n / 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_is_file_safe() {
        assert_eq!(slug("NVIDIA H100 80GB HBM3"), "nvidia-h100-80gb-hbm3");
        assert_eq!(slug("  AMD  EPYC (tm) "), "amd-epyc-tm");
    }

    #[test]
    fn median_odd_even() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    fn row(primitive: &str, variant: &str, size: f64, rate: f64, status: Status) -> Measurement {
        Measurement {
            primitive: primitive.into(),
            variant: variant.into(),
            shape: format!("size={size}"),
            bytes: size,
            flops: size,
            gb_per_s: rate,
            tflop_per_s: rate,
            status,
            ..Default::default()
        }
    }

    fn file(measurement: Vec<Measurement>) -> MeasuredFile {
        MeasuredFile {
            device: DeviceInfo {
                name: "GPU".into(),
                backend: "cuda".into(),
                driver: "1".into(),
                cuda: "13.0".into(),
                arch: "9.0".into(),
                units: 132,
                l2_bytes: 0,
                memory_bytes: 0,
                date: "2026-01-01".into(),
            },
            measurement,
        }
    }

    #[test]
    fn ceilings_come_from_the_largest_passing_case_of_each_kind() {
        let f = file(vec![
            row("stream", "memcpy", 1e9, 3012.34, Status::Ok),
            row("stream", "read", 1e9, 3045.0, Status::Ok),
            row("gemm", "bf16", 1e12, 711.84, Status::Ok),
            row("gemm", "bf16", 1e9, 500.0, Status::Ok),
            // The largest fp8 case failed: the next largest passing one counts.
            row("gemm", "fp8", 1e12, 0.0, Status::Error("boom".into())),
            row("gemm", "fp8", 5e11, 1250.06, Status::Ok),
            row("gemm", "fp8", 1e9, 100.0, Status::Ok),
            row("gemm", "int8", 1e12, 1400.0, Status::Ok),
        ]);
        let c = f.measured_ceilings();
        assert_eq!(c.copy_gb_s, Some(3012.0));
        assert_eq!(c.read_gb_s, Some(3045.0));
        assert_eq!(c.bf16_tflops, Some(711.8));
        assert_eq!(c.fp8_tflops, Some(1250.0));
        let text = f.to_toml();
        assert!(
            text.contains("# [measured]\n# copy_gb_s = 3012.0\n"),
            "{text}"
        );
        assert!(text.contains("# fp8_tflops = 1250.0\n"), "{text}");
        assert!(
            text.contains("# int8 GEMM: 1400.0 TOP/s (size=1000000000000;"),
            "{text}"
        );
        // The commented table parses as the hardware file's [measured] table.
        let table: String = text
            .lines()
            .skip_while(|l| *l != "# [measured]")
            .skip(1)
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| !l.starts_with("int8"))
            .map(|l| format!("{l}\n"))
            .collect();
        let back: RawMeasured = toml::from_str(&table).unwrap();
        assert_eq!(back, c);
        // And the file itself still round-trips.
        assert_eq!(toml::from_str::<MeasuredFile>(&text).unwrap(), f);
    }

    #[test]
    fn no_ceilings_without_passing_cases_or_from_the_cpu() {
        let f = file(vec![row(
            "gemm",
            "fp8",
            1e12,
            0.0,
            Status::Error("x".into()),
        )]);
        assert_eq!(f.measured_ceilings(), RawMeasured::default());
        assert!(!f.to_toml().contains("[measured]"));
        let mut cpu = file(vec![row("gemm", "bf16", 1e9, 0.0140537, Status::Ok)]);
        assert_eq!(cpu.measured_ceilings().bf16_tflops, Some(0.01405));
        cpu.device.backend = "cpu".into();
        assert!(!cpu.to_toml().contains("[measured]"));
    }

    #[test]
    fn four_significant_digits() {
        assert_eq!(sig4(711.8174), 711.8);
        assert_eq!(sig4(3045.143), 3045.0);
        assert_eq!(sig4(12345.6), 12350.0);
        assert_eq!(sig4(0.0140537), 0.01405);
        assert_eq!(sig4(-2.34567), -2.346);
        assert_eq!(sig4(0.0), 0.0);
    }

    #[test]
    fn date_shape() {
        let d = utc_date();
        assert_eq!(d.len(), 10);
        assert!(d.starts_with("20"));
    }
}
