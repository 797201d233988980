//! `planner validate`: the cost model's predictions against measurements — our own
//! `planner bench` files (`hardware/measured/*.toml`) and the published Vidur operator
//! profiles (every GPU folder of `data/vidur`, or of a user's folder of the same layout). Errors are reported out of sample: each prediction comes from
//! efficiencies fitted without the point it predicts (leave-one-out, or two-fold for large
//! classes), beside the uncalibrated datasheet roofline.

use crate::bench::MeasuredFile;
use crate::cost::calibrate::{cross_validated_errors, error_summary, fit, rel_errors};
use crate::cost::predict::bench_sample;
use crate::cost::vidur::{VidurOp, VidurRow};
use crate::cost::vidur_ops::{is_gemm, op_cost};
use crate::cost::{Efficiency, Sample};
use crate::hardware::GpuSpec;
use serde::Serialize;
use std::collections::BTreeMap;

/// One bench measurement with its predictions.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    /// Primitive.
    pub primitive: String,
    /// Variant.
    pub variant: String,
    /// Shape.
    pub shape: String,
    /// Calibration class.
    pub class: String,
    /// Measured median, µs.
    pub measured_us: f64,
    /// Datasheet roofline prediction, µs.
    pub roofline_us: f64,
    /// Calibrated prediction (fitted without this point), µs.
    pub calibrated_us: f64,
}

impl BenchRow {
    /// Relative error of the roofline prediction.
    pub fn roofline_error(&self) -> f64 {
        (self.roofline_us - self.measured_us) / self.measured_us
    }
    /// Relative error of the calibrated prediction.
    pub fn calibrated_error(&self) -> f64 {
        (self.calibrated_us - self.measured_us) / self.measured_us
    }
}

/// Fit and errors of one class of ops.
#[derive(Debug, Clone, Serialize)]
pub struct ClassFit {
    /// Where the data came from ("h100 bench", "a100", …).
    pub source: String,
    /// Class or op name.
    pub class: String,
    /// Samples.
    pub n: usize,
    /// Efficiencies fitted on all samples.
    pub efficiency: Efficiency,
    /// Median |error| of the uncalibrated roofline.
    pub roofline_median: f64,
    /// Median |error| out of sample.
    pub median: f64,
    /// 90th percentile |error| out of sample.
    pub p90: f64,
}

/// A `planner validate` result: a bench file's, the Vidur profiles', or both.
#[derive(Debug, Clone, Serialize)]
pub struct ValidateReport {
    /// The measured bench file's validation, when one was given.
    pub bench: Option<BenchValidation>,
    /// The Vidur profiles' validation (empty when skipped).
    pub vidur: VidurValidation,
}

/// A measured bench file against a catalog GPU.
#[derive(Debug, Clone, Serialize)]
pub struct BenchValidation {
    /// Measured device name.
    pub device: String,
    /// Catalog GPU whose datasheet peaks price the ops.
    pub gpu: String,
    /// Bench rows, in file order.
    pub rows: Vec<BenchRow>,
    /// Per-class fits of the bench file.
    pub classes: Vec<ClassFit>,
    /// Median |error| over all bench rows, out of sample.
    pub median: f64,
    /// Median |error| over all bench rows, uncalibrated roofline.
    pub roofline_median: f64,
}

impl BenchValidation {
    /// Validate `file` against `gpu` (see [`validate_bench`]).
    pub fn new(file: &MeasuredFile, gpu: &GpuSpec) -> BenchValidation {
        let (rows, classes) = validate_bench(file, gpu);
        let errs: Vec<f64> = rows.iter().map(BenchRow::calibrated_error).collect();
        let roof: Vec<f64> = rows.iter().map(BenchRow::roofline_error).collect();
        BenchValidation {
            device: file.device.name.clone(),
            gpu: gpu.name.clone(),
            median: error_summary(&errs).0,
            roofline_median: error_summary(&roof).0,
            rows,
            classes,
        }
    }
}

/// The Vidur profiles: per-op fits per GPU folder, and each folder's overall error.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VidurValidation {
    /// Per-op fits, folder by folder; transfers from the reference folder are sourced
    /// `"<reference>→<folder>"`.
    pub fits: Vec<ClassFit>,
    /// Per source (a folder, or a transfer): median |error| over every op sample, out of
    /// sample for a folder's own fit.
    pub medians: BTreeMap<String, f64>,
    /// Folder → the catalog GPU whose datasheet priced it.
    pub gpus: BTreeMap<String, String>,
}

/// The Vidur folder the cost model's built-in efficiencies were fitted on
/// ([`crate::cost::iteration::VIDUR_A100`]); every other folder is also predicted with its
/// fit, to show how far calibration carries across GPUs.
pub const REFERENCE_FOLDER: &str = "a100";

/// Smallest class that gets an out-of-sample calibrated prediction.
pub const MIN_CLASS: usize = 3;

/// Validate a measured bench file against a catalog GPU's datasheet.
pub fn validate_bench(file: &MeasuredFile, gpu: &GpuSpec) -> (Vec<BenchRow>, Vec<ClassFit>) {
    let mut by_class: BTreeMap<String, Vec<(usize, Sample)>> = BTreeMap::new();
    let mut rows = Vec::new();
    for m in &file.measurement {
        let Some((class, s)) = bench_sample(
            &m.primitive,
            &m.variant,
            m.flops,
            m.bytes,
            m.time_us,
            m.status.is_ok(),
            gpu,
        ) else {
            continue;
        };
        let ideal = Efficiency::default().predict(&s);
        by_class
            .entry(class.clone())
            .or_default()
            .push((rows.len(), s));
        rows.push(BenchRow {
            primitive: m.primitive.clone(),
            variant: m.variant.clone(),
            shape: m.shape.clone(),
            class,
            measured_us: m.time_us,
            roofline_us: ideal * 1e6,
            calibrated_us: f64::NAN,
        });
    }
    let mut classes = Vec::new();
    for (class, items) in by_class {
        let samples: Vec<Sample> = items.iter().map(|(_, s)| *s).collect();
        // Out-of-sample prediction needs at least 3 points (fit 3 parameters on the others
        // would be underdetermined below that): smaller classes get no calibrated figure.
        let cv = if samples.len() >= MIN_CLASS {
            cross_validated_errors(&samples)
        } else {
            vec![f64::NAN; samples.len()]
        };
        for ((i, s), e) in items.iter().zip(&cv) {
            rows[*i].calibrated_us = s.measured_s * (1.0 + e) * 1e6;
        }
        let (median, p90) = error_summary(&cv);
        let (roofline_median, _) = error_summary(&rel_errors(&Efficiency::default(), &samples));
        classes.push(ClassFit {
            source: format!("bench {}", file.device.name),
            class,
            n: samples.len(),
            efficiency: if samples.len() >= MIN_CLASS {
                fit(&samples)
            } else {
                Efficiency::default()
            },
            roofline_median,
            median,
            p90,
        });
    }
    (rows, classes)
}

/// Ideal times of each (op, row) on a GPU: GEMMs on bf16 tensor peaks, the rest by bytes.
fn vidur_samples(rows: &[&VidurRow], op: VidurOp, gpu: &GpuSpec) -> Vec<Sample> {
    rows.iter()
        .filter_map(|r| {
            let ms = r.median(op)?;
            if ms.is_nan() || ms <= 0.0 {
                return None;
            }
            let (flops, bytes) = op_cost(r, op);
            let peak = if is_gemm(op) {
                gpu.peak.bf16
            } else {
                f64::INFINITY
            };
            Some(Sample {
                compute_s: flops / peak,
                memory_s: bytes / gpu.hbm_bytes_per_s,
                measured_s: ms * 1e-3,
            })
        })
        .collect()
}

/// Fit and validate every Vidur op per GPU folder (`gpus` maps each folder under the Vidur
/// root to the catalog GPU it was measured on). Every folder other than
/// [`REFERENCE_FOLDER`] is also predicted with the reference folder's fit (source
/// `"a100→<folder>"`), to show how far calibration carries across GPUs.
pub fn validate_vidur(all: &[VidurRow], gpus: &BTreeMap<String, GpuSpec>) -> VidurValidation {
    let mut out = VidurValidation {
        gpus: gpus
            .iter()
            .map(|(f, g)| (f.clone(), g.name.clone()))
            .collect(),
        ..Default::default()
    };
    let mut reference_eff: BTreeMap<&'static str, Efficiency> = BTreeMap::new();
    for (name, gpu) in gpus {
        let rows: Vec<&VidurRow> = all.iter().filter(|r| &r.gpu == name).collect();
        let mut errors = Vec::new();
        for op in VidurOp::ALL {
            let samples = vidur_samples(&rows, op, gpu);
            if samples.is_empty() {
                continue;
            }
            let cv = cross_validated_errors(&samples);
            errors.extend(cv.iter().copied());
            let eff = fit(&samples);
            if name == REFERENCE_FOLDER {
                reference_eff.insert(op.name(), eff);
            }
            out.fits.push(class_fit(name, op, eff, &cv, &samples));
        }
        out.medians.insert(name.clone(), error_summary(&errors).0);
    }
    for (name, gpu) in gpus.iter().filter(|(n, _)| *n != REFERENCE_FOLDER) {
        let rows: Vec<&VidurRow> = all.iter().filter(|r| &r.gpu == name).collect();
        let source = format!("{REFERENCE_FOLDER}→{name}");
        let mut errors = Vec::new();
        for op in VidurOp::ALL {
            let (Some(eff), samples) =
                (reference_eff.get(op.name()), vidur_samples(&rows, op, gpu))
            else {
                continue;
            };
            if samples.is_empty() {
                continue;
            }
            let errs = rel_errors(eff, &samples);
            errors.extend(errs.iter().copied());
            out.fits.push(class_fit(&source, op, *eff, &errs, &samples));
        }
        if !errors.is_empty() {
            out.medians.insert(source, error_summary(&errors).0);
        }
    }
    out
}

/// One op's fit: `errors` are the |errors| it is judged by (out of sample, or a transfer's).
fn class_fit(
    source: &str,
    op: VidurOp,
    eff: Efficiency,
    errors: &[f64],
    samples: &[Sample],
) -> ClassFit {
    let (median, p90) = error_summary(errors);
    let (roofline_median, _) = error_summary(&rel_errors(&Efficiency::default(), samples));
    ClassFit {
        source: source.to_string(),
        class: op.name().to_string(),
        n: samples.len(),
        efficiency: eff,
        roofline_median,
        median,
        p90,
    }
}

/// Choose the catalog GPU a measured device name refers to: most shared name tokens
/// (letters/digits, case-insensitive), ties broken by closest memory size.
pub fn match_gpu<'a>(
    device: &str,
    memory_bytes: f64,
    catalog: &'a [GpuSpec],
) -> Option<&'a GpuSpec> {
    let tokens = |s: &str| -> Vec<String> {
        s.to_ascii_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    };
    let dev = tokens(device);
    catalog
        .iter()
        .map(|g| {
            let shared = tokens(&g.display_name)
                .iter()
                .filter(|t| dev.contains(t))
                .count();
            (shared, -(g.memory_bytes - memory_bytes).abs(), g)
        })
        .filter(|(shared, _, _)| *shared >= 2)
        .max_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
        .map(|(_, _, g)| g)
}

impl ValidateReport {
    /// Text summary: the bench file's per-class fits and errors, then the Vidur per-op fits
    /// per GPU folder.
    pub fn render_table(&self) -> String {
        let pct = |x: f64| {
            if x.is_finite() {
                format!("{:.1}%", x * 100.0)
            } else {
                "n/a".to_string()
            }
        };
        let line = |f: &ClassFit| {
            if !f.median.is_finite() {
                return format!(
                    "{:<28} {:>4} {:>9} {:>9} {:>9}   (fewer than {MIN_CLASS} samples: not calibrated)\n",
                    f.class,
                    f.n,
                    pct(f.roofline_median),
                    "n/a",
                    "n/a"
                );
            }
            format!(
                "{:<28} {:>4} {:>9} {:>9} {:>9} {:>11.3} {:>11.3} {:>8.1}us\n",
                f.class,
                f.n,
                pct(f.roofline_median),
                pct(f.median),
                pct(f.p90),
                f.efficiency.compute,
                f.efficiency.memory,
                f.efficiency.overhead_s * 1e6
            )
        };
        let header = format!(
            "{:<28} {:>4} {:>9} {:>9} {:>9} {:>11} {:>11} {:>10}\n",
            "class", "n", "roofline", "median", "p90", "eff.comp", "eff.mem", "overhead"
        );
        let mut s = String::new();
        if let Some(b) = &self.bench {
            s.push_str(&format!(
                "planner validate: {} against {} (datasheet peaks)\n\n{header}",
                b.device, b.gpu
            ));
            for f in &b.classes {
                s.push_str(&line(f));
            }
            let calibrated = b
                .rows
                .iter()
                .filter(|r| r.calibrated_us.is_finite())
                .count();
            s.push_str(&format!(
                "{:<28} {:>4} {:>9} {:>9}   (median over the {calibrated} calibrated rows)\n",
                "all bench rows",
                b.rows.len(),
                pct(b.roofline_median),
                pct(b.median)
            ));
        }
        if !self.vidur.fits.is_empty() {
            if self.bench.is_none() {
                s.push_str(&format!(
                    "planner validate: Vidur operator profiles\n\n{header}"
                ));
            }
            let mut src = "";
            for f in &self.vidur.fits {
                if f.source != src {
                    src = &f.source;
                    let gpu = self
                        .vidur
                        .gpus
                        .get(src.rsplit('→').next().unwrap_or(src))
                        .map_or(String::new(), |g| format!(" on {g}"));
                    s.push_str(&format!(
                        "\nVidur {src}{gpu} (per op, one layer, one GPU of the TP group):\n"
                    ));
                }
                s.push_str(&line(f));
            }
            s.push('\n');
            for (source, median) in &self.vidur.medians {
                let how = if source.contains('→') {
                    "with the reference fit"
                } else {
                    "out of sample"
                };
                s.push_str(&format!(
                    "Vidur {source}, all ops: median |error| {} {how}\n",
                    pct(*median)
                ));
            }
        }
        s.push_str("\nroofline: uncalibrated datasheet roofline; median/p90: |predicted − measured| / measured with efficiencies fitted without the predicted point.\n");
        s
    }

    /// Bench rows as CSV.
    pub fn render_rows_csv(&self) -> String {
        let mut s = String::from(
            "primitive,variant,shape,class,measured_us,roofline_us,calibrated_us,roofline_error,calibrated_error\n",
        );
        for r in self.bench.iter().flat_map(|b| &b.rows) {
            s.push_str(&format!(
                "{},{},\"{}\",{},{:.3},{:.3},{:.3},{:.4},{:.4}\n",
                r.primitive,
                r.variant,
                r.shape,
                r.class,
                r.measured_us,
                r.roofline_us,
                r.calibrated_us,
                r.roofline_error(),
                r.calibrated_error()
            ));
        }
        s
    }

    /// Class fits (bench and Vidur) as CSV.
    pub fn render_fits_csv(&self) -> String {
        let mut s = String::from(
            "source,class,n,eff_compute,eff_memory,overhead_us,roofline_median,median,p90\n",
        );
        let bench = self.bench.iter().flat_map(|b| &b.classes);
        for f in bench.chain(&self.vidur.fits) {
            s.push_str(&format!(
                "{},{},{},{:.4},{:.4},{:.3},{:.4},{:.4},{:.4}\n",
                f.source,
                f.class,
                f.n,
                f.efficiency.compute,
                f.efficiency.memory,
                f.efficiency.overhead_s * 1e6,
                f.roofline_median,
                f.median,
                f.p90
            ));
        }
        s
    }
}
