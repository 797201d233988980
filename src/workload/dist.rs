//! Length distributions and arrival processes, sampled with the generator the caller owns.

use rand::{Rng, RngExt};

/// A distribution of token counts (samples are rounded and at least 1).
#[derive(Debug, Clone, PartialEq)]
pub enum LengthDist {
    /// Always `value`.
    Fixed {
        /// The length.
        value: u32,
    },
    /// Uniform on `min..=max`.
    Uniform {
        /// Smallest.
        min: u32,
        /// Largest.
        max: u32,
    },
    /// Normal, truncated at 1.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// Log-normal with the given median and σ of the log.
    LogNormal {
        /// Median.
        median: f64,
        /// σ of ln(length).
        sigma: f64,
    },
    /// Zipf on `min..=max`: P(k) ∝ (k − min + 1)^−exponent.
    Zipf {
        /// Smallest.
        min: u32,
        /// Largest.
        max: u32,
        /// Exponent s.
        exponent: f64,
    },
    /// Drawn uniformly from observed values.
    Empirical {
        /// The values.
        values: Vec<u32>,
    },
}

fn std_normal(rng: &mut impl Rng) -> f64 {
    // Box–Muller.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

impl LengthDist {
    /// One sample.
    pub fn sample(&self, rng: &mut impl Rng) -> u32 {
        let x = match self {
            LengthDist::Fixed { value } => *value as f64,
            LengthDist::Uniform { min, max } => rng.random_range(*min..=*max) as f64,
            LengthDist::Normal { mean, std } => mean + std * std_normal(rng),
            LengthDist::LogNormal { median, sigma } => median * (sigma * std_normal(rng)).exp(),
            LengthDist::Zipf { min, max, exponent } => {
                // Inverse CDF by bisection over the finite support (weights computed on the fly
                // would be O(n) per sample; the normalizer is a short sum for typical supports).
                let n = (max - min + 1) as usize;
                let total: f64 = (1..=n).map(|k| (k as f64).powf(-exponent)).sum();
                let mut u = rng.random::<f64>() * total;
                let mut k = 1;
                while k < n {
                    u -= (k as f64).powf(-exponent);
                    if u <= 0.0 {
                        break;
                    }
                    k += 1;
                }
                (*min as usize + k - 1) as f64
            }
            LengthDist::Empirical { values } => {
                if values.is_empty() {
                    1.0
                } else {
                    values[rng.random_range(0..values.len())] as f64
                }
            }
        };
        x.round().clamp(1.0, u32::MAX as f64) as u32
    }

    /// The distribution's mean (before clamping).
    pub fn mean(&self) -> f64 {
        match self {
            LengthDist::Fixed { value } => *value as f64,
            LengthDist::Uniform { min, max } => (*min as f64 + *max as f64) / 2.0,
            LengthDist::Normal { mean, .. } => *mean,
            LengthDist::LogNormal { median, sigma } => median * (sigma * sigma / 2.0).exp(),
            LengthDist::Zipf { min, max, exponent } => {
                let n = max - min + 1;
                let w: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-exponent)).collect();
                let total: f64 = w.iter().sum();
                w.iter()
                    .enumerate()
                    .map(|(i, wi)| (*min as f64 + i as f64) * wi)
                    .sum::<f64>()
                    / total
            }
            LengthDist::Empirical { values } => {
                values.iter().map(|&v| v as f64).sum::<f64>() / values.len().max(1) as f64
            }
        }
    }
}

/// How requests arrive.
#[derive(Debug, Clone, PartialEq)]
pub enum ArrivalProcess {
    /// Exponential gaps, mean 1/rate.
    Poisson {
        /// Requests per second.
        rate: f64,
    },
    /// Gamma gaps with the given coefficient of variation (1 = Poisson, > 1 bursty).
    Gamma {
        /// Requests per second.
        rate: f64,
        /// Coefficient of variation of the gaps.
        cv: f64,
    },
    /// Evenly spaced.
    Constant {
        /// Requests per second.
        rate: f64,
    },
}

/// Marsaglia–Tsang gamma(shape, 1) sampler.
fn gamma(shape: f64, rng: &mut impl Rng) -> f64 {
    if shape < 1.0 {
        let u: f64 = 1.0 - rng.random::<f64>();
        return gamma(shape + 1.0, rng) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = std_normal(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u: f64 = 1.0 - rng.random::<f64>();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

impl ArrivalProcess {
    /// Seconds to the next arrival.
    pub fn gap(&self, rng: &mut impl Rng) -> f64 {
        match self {
            ArrivalProcess::Poisson { rate } => -(1.0 - rng.random::<f64>()).ln() / rate,
            ArrivalProcess::Gamma { rate, cv } => {
                let k = 1.0 / (cv * cv);
                gamma(k, rng) / (rate * k)
            }
            ArrivalProcess::Constant { rate } => 1.0 / rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn sample_means_match() {
        let mut rng = StdRng::seed_from_u64(3);
        for d in [
            LengthDist::Fixed { value: 7 },
            LengthDist::Uniform { min: 10, max: 90 },
            LengthDist::Normal {
                mean: 500.0,
                std: 100.0,
            },
            LengthDist::LogNormal {
                median: 300.0,
                sigma: 0.7,
            },
            LengthDist::Zipf {
                min: 1,
                max: 200,
                exponent: 1.2,
            },
            LengthDist::Empirical {
                values: vec![3, 30, 300],
            },
        ] {
            let n = 100_000;
            let m: f64 = (0..n).map(|_| d.sample(&mut rng) as f64).sum::<f64>() / n as f64;
            assert!(
                (m - d.mean()).abs() / d.mean() < 0.03,
                "{d:?}: {m} vs {}",
                d.mean()
            );
        }
    }

    #[test]
    fn arrival_gaps() {
        let mut rng = StdRng::seed_from_u64(4);
        let n = 200_000;
        let g: Vec<f64> = (0..n)
            .map(|_| ArrivalProcess::Poisson { rate: 4.0 }.gap(&mut rng))
            .collect();
        let m = g.iter().sum::<f64>() / n as f64;
        assert!((m - 0.25).abs() / 0.25 < 0.02, "{m}");
        let g: Vec<f64> = (0..n)
            .map(|_| ArrivalProcess::Gamma { rate: 4.0, cv: 2.0 }.gap(&mut rng))
            .collect();
        let m = g.iter().sum::<f64>() / n as f64;
        let sd = (g.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64).sqrt();
        assert!((m - 0.25).abs() / 0.25 < 0.03, "{m}");
        assert!((sd / m - 2.0).abs() / 2.0 < 0.05, "cv {}", sd / m);
    }
}
