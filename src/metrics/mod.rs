//! Metrics with the definitions of vLLM's `bench serve`:
//!
//! * **TTFT** — arrival to the first output token;
//! * **TPOT** — (E2E − TTFT) / (output tokens − 1), per request, excluding the first token;
//! * **ITL** — the gaps between consecutive output tokens of a request (every gap counted);
//! * **E2E** — arrival to the last token; **queueing delay** — arrival to first scheduled.
//!
//! Per-request values are kept as f32 for exact percentiles (16 bytes per request); ITL, with
//! one value per token, goes into a log-bucketed histogram (0.5 % relative resolution).
//!
//! ```text
//! recorder   Recorder: the engine's observer, keeps samples and counters
//! summary    RunSummary: the typed result, and its rows / text
//! timeline   batch size and KV blocks over time (the charts' data)
//! (here)     quantiles: exact, and of the log histogram
//! ```

pub mod digest;
pub mod recorder;
pub mod summary;
pub mod timeline;

pub use recorder::Recorder;
pub use summary::{RunSummary, SloVerdict};

use serde::Serialize;

/// Percentiles reported for every metric.
pub const PERCENTILES: [f64; 3] = [50.0, 90.0, 99.0];

/// A log-bucketed histogram of positive values (seconds): 64 buckets per octave (≈1.1 %
/// relative resolution), indexed from the float's exponent and top mantissa bits, so adding
/// a value costs no logarithm (ITL adds one value per generated token).
#[derive(Debug, Clone)]
pub struct LogHistogram {
    counts: Vec<u64>,
    total: u64,
}

/// Octaves below 1 s covered (2^-24 s ≈ 60 ns) and above (2^16 s ≈ 18 h).
const H_LOW: i64 = 24;
const H_HIGH: i64 = 16;
const H_SUB: i64 = 64;

impl Default for LogHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LogHistogram {
    /// Empty.
    pub fn new() -> Self {
        LogHistogram {
            counts: vec![0; ((H_LOW + H_HIGH) * H_SUB) as usize + 1],
            total: 0,
        }
    }

    fn index(x: f64) -> usize {
        if x.is_nan() || x <= 0.0 {
            return 0;
        }
        let bits = x.to_bits();
        let exp = ((bits >> 52) & 0x7ff) as i64 - 1023;
        let sub = ((bits >> (52 - 6)) & 0x3f) as i64;
        ((exp + H_LOW) * H_SUB + sub).clamp(0, (H_LOW + H_HIGH) * H_SUB) as usize
    }

    /// Add a value.
    pub fn add(&mut self, x: f64) {
        self.add_n(x, 1);
    }

    /// Add a value `n` times.
    pub fn add_n(&mut self, x: f64, n: u64) {
        self.counts[Self::index(x)] += n;
        self.total += n;
    }

    /// Values added.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The `p`-th percentile (0–100), as the geometric middle of its bucket; NaN if empty.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.total == 0 {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (exp, sub) = ((i as i64) / H_SUB - H_LOW, (i as i64) % H_SUB);
                let lo = 2f64.powi(exp as i32) * (1.0 + sub as f64 / H_SUB as f64);
                let hi = 2f64.powi(exp as i32) * (1.0 + (sub + 1) as f64 / H_SUB as f64);
                return (lo * hi).sqrt();
            }
        }
        f64::NAN
    }
}

/// Exact percentile of a sample (nearest rank); NaN if empty. Sorts in place.
pub fn percentile(values: &mut [f32], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_unstable_by(f32::total_cmp);
    let rank = ((p / 100.0) * values.len() as f64).ceil().max(1.0) as usize;
    values[rank.min(values.len()) - 1] as f64
}

/// Percentiles of one metric, seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quantiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Mean.
    pub mean: f64,
}

impl Quantiles {
    /// From a sample (sorted in place).
    pub fn of(values: &mut [f32]) -> Quantiles {
        let mean = if values.is_empty() {
            f64::NAN
        } else {
            values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64
        };
        Quantiles {
            p50: percentile(values, 50.0),
            p90: percentile(values, 90.0),
            p99: percentile(values, 99.0),
            mean,
        }
    }

    /// From a histogram (mean not available: NaN).
    pub fn of_hist(h: &LogHistogram) -> Quantiles {
        Quantiles {
            p50: h.percentile(50.0),
            p90: h.percentile(90.0),
            p99: h.percentile(99.0),
            mean: f64::NAN,
        }
    }

    /// The value at percentile 50, 90 or 99.
    pub fn at(&self, p: f64) -> f64 {
        if p <= 50.0 {
            self.p50
        } else if p <= 90.0 {
            self.p90
        } else {
            self.p99
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_histogram_percentiles() {
        let mut v: Vec<f32> = (1..=100).map(|i| i as f32).collect();
        assert_eq!(percentile(&mut v, 50.0), 50.0);
        assert_eq!(percentile(&mut v, 99.0), 99.0);
        assert_eq!(percentile(&mut v, 100.0), 100.0);
        let mut h = LogHistogram::new();
        for i in 1..=1000 {
            h.add(i as f64 * 1e-3);
        }
        for (p, want) in [(50.0, 0.5), (90.0, 0.9), (99.0, 0.99)] {
            let got = h.percentile(p);
            assert!((got - want).abs() / want < 0.01, "p{p}: {got} vs {want}");
        }
        assert!(LogHistogram::new().percentile(50.0).is_nan());
    }
}
