//! Fitting efficiency factors to measured op times by least squares (nalgebra).
//!
//! Model: `t = max(c / eff_compute, m / eff_memory) + overhead`, with `c = FLOPs / peak` and
//! `m = bytes / bandwidth` the ideal compute and memory times. Given which term is active for
//! each sample (its *regime*), the model is linear in `(1/eff_compute, 1/eff_memory,
//! overhead)`; the fit alternates between solving that linear least-squares problem (rows
//! weighted by `1/t`, so it minimizes relative error) and re-assigning regimes, until the
//! regimes stop changing.

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

/// Efficiency factors of one class of op (1 = the datasheet roofline).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Efficiency {
    /// Achieved fraction of peak FLOP/s.
    pub compute: f64,
    /// Achieved fraction of peak bandwidth.
    pub memory: f64,
    /// Fixed cost per op (launch, synchronization), seconds.
    pub overhead_s: f64,
}

impl Default for Efficiency {
    /// The ideal roofline: peak FLOP/s, peak bandwidth, no overhead.
    fn default() -> Self {
        Efficiency {
            compute: 1.0,
            memory: 1.0,
            overhead_s: 0.0,
        }
    }
}

/// One measured op: its ideal compute and memory times and the measured time, seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// FLOPs / peak FLOP/s.
    pub compute_s: f64,
    /// Bytes / peak bandwidth.
    pub memory_s: f64,
    /// Measured seconds.
    pub measured_s: f64,
}

impl Efficiency {
    /// Predicted seconds for a sample's op.
    pub fn predict(&self, s: &Sample) -> f64 {
        (s.compute_s / self.compute).max(s.memory_s / self.memory) + self.overhead_s
    }
}

/// Fit efficiencies to samples (see the module doc). With no samples, the ideal roofline.
/// A regime with no samples keeps efficiency 1; efficiencies are clamped to [1e-3, 10] and
/// the overhead to ≥ 0.
pub fn fit(samples: &[Sample]) -> Efficiency {
    let samples: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.measured_s > 0.0 && s.measured_s.is_finite())
        .collect();
    if samples.is_empty() {
        return Efficiency::default();
    }
    let mut eff = Efficiency::default();
    let mut regimes: Vec<bool> = samples.iter().map(|s| s.compute_s >= s.memory_s).collect();
    for _ in 0..50 {
        let any_c = regimes.iter().any(|&r| r);
        let any_m = regimes.iter().any(|&r| !r);
        let cols = 1 + usize::from(any_c) + usize::from(any_m);
        let n = samples.len();
        let mut a = DMatrix::<f64>::zeros(n, cols);
        let mut b = DVector::<f64>::zeros(n);
        for (i, (s, &compute)) in samples.iter().zip(&regimes).enumerate() {
            let w = 1.0 / s.measured_s;
            let mut j = 0;
            if any_c {
                a[(i, j)] = if compute { s.compute_s * w } else { 0.0 };
                j += 1;
            }
            if any_m {
                a[(i, j)] = if compute { 0.0 } else { s.memory_s * w };
                j += 1;
            }
            a[(i, j)] = w;
            b[i] = 1.0;
        }
        let Ok(x) = a.svd(true, true).solve(&b, 1e-12) else {
            break;
        };
        let mut j = 0;
        let mut next = eff;
        if any_c {
            next.compute = (1.0 / x[j].max(1e-9)).clamp(1e-3, 10.0);
            j += 1;
        }
        if any_m {
            next.memory = (1.0 / x[j].max(1e-9)).clamp(1e-3, 10.0);
            j += 1;
        }
        next.overhead_s = x[j].max(0.0);
        eff = next;
        let new: Vec<bool> = samples
            .iter()
            .map(|s| s.compute_s / eff.compute >= s.memory_s / eff.memory)
            .collect();
        if new == regimes {
            break;
        }
        regimes = new;
    }
    eff
}

/// Relative errors `(predicted − measured) / measured`.
pub fn rel_errors(eff: &Efficiency, samples: &[Sample]) -> Vec<f64> {
    samples
        .iter()
        .map(|s| (eff.predict(s) - s.measured_s) / s.measured_s)
        .collect()
}

/// Median and 90th percentile of |errors| (NaN for none).
pub fn error_summary(errors: &[f64]) -> (f64, f64) {
    let mut a: Vec<f64> = errors
        .iter()
        .map(|e| e.abs())
        .filter(|e| e.is_finite())
        .collect();
    if a.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    a.sort_by(f64::total_cmp);
    let q = |p: f64| a[((p * (a.len() - 1) as f64).round() as usize).min(a.len() - 1)];
    (q(0.5), q(0.9))
}

/// Out-of-sample errors by two-fold cross-validation: fit on the even-indexed samples and
/// predict the odd ones, and the reverse (or leave-one-out below 20 samples).
pub fn cross_validated_errors(samples: &[Sample]) -> Vec<f64> {
    let n = samples.len();
    if n < 2 {
        return rel_errors(&fit(samples), samples);
    }
    let mut errors = vec![0.0; n];
    if n < 20 {
        for i in 0..n {
            let rest: Vec<Sample> = samples
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, s)| *s)
                .collect();
            let e = fit(&rest);
            errors[i] = (e.predict(&samples[i]) - samples[i].measured_s) / samples[i].measured_s;
        }
    } else {
        for fold in 0..2 {
            let train: Vec<Sample> = samples
                .iter()
                .enumerate()
                .filter(|(j, _)| j % 2 != fold)
                .map(|(_, s)| *s)
                .collect();
            let e = fit(&train);
            for (i, s) in samples.iter().enumerate().filter(|(j, _)| j % 2 == fold) {
                errors[i] = (e.predict(s) - s.measured_s) / s.measured_s;
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Samples generated from known efficiencies are fitted back exactly.
    #[test]
    fn recovers_known_efficiencies() {
        let truth = Efficiency {
            compute: 0.7,
            memory: 0.85,
            overhead_s: 5e-6,
        };
        let mut samples = Vec::new();
        for i in 0..40 {
            let c = 1e-6 * (1.0 + i as f64 * 7.3 % 50.0);
            let m = 1e-6 * (1.0 + (i * 13 % 40) as f64);
            let mut s = Sample {
                compute_s: c,
                memory_s: m,
                measured_s: 0.0,
            };
            s.measured_s = truth.predict(&s);
            samples.push(s);
        }
        let e = fit(&samples);
        assert!((e.compute - 0.7).abs() < 1e-6, "{e:?}");
        assert!((e.memory - 0.85).abs() < 1e-6, "{e:?}");
        assert!((e.overhead_s - 5e-6).abs() < 1e-9, "{e:?}");
        let (med, p90) = error_summary(&rel_errors(&e, &samples));
        assert!(med < 1e-9 && p90 < 1e-9);
        let (cv, _) = error_summary(&cross_validated_errors(&samples));
        assert!(cv < 1e-6);
    }

    #[test]
    fn empty_and_one_regime() {
        assert_eq!(fit(&[]), Efficiency::default());
        let mem_only: Vec<Sample> = (1..10)
            .map(|i| Sample {
                compute_s: 0.0,
                memory_s: i as f64 * 1e-6,
                measured_s: i as f64 * 2e-6,
            })
            .collect();
        let e = fit(&mem_only);
        assert_eq!(e.compute, 1.0);
        assert!(
            (e.memory - 0.5).abs() < 1e-9 && e.overhead_s.abs() < 1e-12,
            "{e:?}"
        );
    }
}
