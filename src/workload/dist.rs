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

/// Normalized cumulative weights of Zipf on `min..=max`: entry `i` is P(length ≤ min + i).
fn zipf_cdf(min: u32, max: u32, exponent: f64) -> Vec<f64> {
    let n = max.saturating_sub(min) as usize + 1;
    let mut acc = 0.0;
    let mut cdf: Vec<f64> = (1..=n)
        .map(|k| {
            acc += (k as f64).powf(-exponent);
            acc
        })
        .collect();
    for c in &mut cdf {
        *c /= acc;
    }
    cdf
}

/// Inverse CDF: the first support point whose cumulative weight reaches `u` in [0, 1).
fn zipf_pick(cdf: &[f64], min: u32, u: f64) -> f64 {
    let i = cdf.partition_point(|&c| c < u).min(cdf.len() - 1);
    min as f64 + i as f64
}

impl LengthDist {
    /// One sample, rounded and at least 1. Zipf builds its CDF on every call (O(max − min));
    /// draw many through [`LengthSampler`], which builds it once and draws the same values.
    pub fn sample(&self, rng: &mut impl Rng) -> u32 {
        match self {
            LengthDist::Zipf { min, max, exponent } => {
                let (lo, hi) = (*min.min(max), *max.max(min));
                let cdf = zipf_cdf(lo, hi, *exponent);
                round_length(zipf_pick(&cdf, lo, rng.random::<f64>()))
            }
            other => round_length(other.sample_continuous(rng)),
        }
    }

    /// Every variant but Zipf, before rounding.
    fn sample_continuous(&self, rng: &mut impl Rng) -> f64 {
        match self {
            LengthDist::Fixed { value } => *value as f64,
            LengthDist::Uniform { min, max } => {
                rng.random_range(*min.min(max)..=*max.max(min)) as f64
            }
            LengthDist::Normal { mean, std } => mean + std * std_normal(rng),
            LengthDist::LogNormal { median, sigma } => median * (sigma * std_normal(rng)).exp(),
            LengthDist::Zipf { .. } => unreachable!("Zipf is sampled through its CDF"),
            LengthDist::Empirical { values } => {
                if values.is_empty() {
                    1.0
                } else {
                    values[rng.random_range(0..values.len())] as f64
                }
            }
        }
    }

    /// The distribution's mean (before rounding and the floor at 1).
    pub fn mean(&self) -> f64 {
        match self {
            LengthDist::Fixed { value } => *value as f64,
            LengthDist::Uniform { min, max } => (*min as f64 + *max as f64) / 2.0,
            LengthDist::Normal { mean, .. } => *mean,
            LengthDist::LogNormal { median, sigma } => median * (sigma * sigma / 2.0).exp(),
            LengthDist::Zipf { min, max, exponent } => {
                let lo = *min.min(max);
                let cdf = zipf_cdf(lo, *max.max(min), *exponent);
                let mut prev = 0.0;
                cdf.iter()
                    .enumerate()
                    .map(|(i, &c)| {
                        let p = c - prev;
                        prev = c;
                        (lo as f64 + i as f64) * p
                    })
                    .sum()
            }
            LengthDist::Empirical { values } => {
                values.iter().map(|&v| v as f64).sum::<f64>() / values.len().max(1) as f64
            }
        }
    }
}

fn round_length(x: f64) -> u32 {
    // `as` saturates and maps NaN to 0; the floor makes every length at least 1.
    (x.round() as u32).max(1)
}

/// A [`LengthDist`] prepared for many draws: Zipf's CDF is computed once and each draw is a
/// binary search (O(log(max − min))). Draws equal [`LengthDist::sample`]'s for the same
/// generator state.
#[derive(Debug, Clone)]
pub struct LengthSampler {
    dist: LengthDist,
    zipf_cdf: Vec<f64>,
    /// Guide table for the CDF search: `zipf_guide[b]` is where the answer for any
    /// `u ∈ [b/G, (b+1)/G)` starts, `G = zipf_guide.len() − 1` (Chen & Asau's method); the
    /// search then runs over the few entries between two guides.
    zipf_guide: Vec<u32>,
}

impl LengthSampler {
    /// Prepare `dist`.
    pub fn new(dist: LengthDist) -> Self {
        let zipf_cdf = match &dist {
            LengthDist::Zipf { min, max, exponent } => {
                zipf_cdf(*min.min(max), *max.max(min), *exponent)
            }
            _ => Vec::new(),
        };
        let g = zipf_cdf.len();
        let zipf_guide = (0..=g)
            .map(|b| zipf_cdf.partition_point(|&c| c < b as f64 / g as f64) as u32)
            .collect();
        LengthSampler {
            dist,
            zipf_cdf,
            zipf_guide,
        }
    }

    /// The first CDF entry that reaches `u` (clamped to the last): [`zipf_pick`]'s answer.
    fn zipf_index(&self, u: f64) -> usize {
        let g = self.zipf_guide.len() - 1;
        // b/g ≤ u < (b+1)/g, so the first c ≥ u lies between guides b and b + 1 (one more
        // bucket each side absorbs the rounding of u·g).
        let b = ((u * g as f64) as usize).min(g - 1);
        let lo = self.zipf_guide[b.saturating_sub(1)] as usize;
        let hi = self.zipf_guide[(b + 2).min(g)] as usize;
        let hi = (hi + 1).min(self.zipf_cdf.len());
        let i = lo + self.zipf_cdf[lo..hi].partition_point(|&c| c < u);
        i.min(self.zipf_cdf.len() - 1)
    }

    /// One sample, rounded and at least 1.
    pub fn sample(&self, rng: &mut impl Rng) -> u32 {
        match &self.dist {
            LengthDist::Zipf { min, max, .. } => {
                let i = self.zipf_index(rng.random::<f64>());
                round_length(*min.min(max) as f64 + i as f64)
            }
            other => round_length(other.sample_continuous(rng)),
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
    /// Every request at time 0 (offline throughput, as `trtllm-bench` and `vllm bench
    /// throughput` run).
    Offline,
    /// A closed loop of `clients` clients, each sending its next request the moment its
    /// previous one ends (`vllm bench serve --max-concurrency`, genai-perf's concurrency mode).
    Concurrency {
        /// Requests in flight.
        clients: u32,
    },
    /// Rates one after another, each for its duration (inference-perf's and guidellm's
    /// multi-stage load): Poisson or evenly spaced within a stage.
    Stages {
        /// (requests per second, seconds), in order.
        stages: std::sync::Arc<[(f64, f64)]>,
        /// Poisson within each stage, else evenly spaced.
        poisson: bool,
    },
}

/// Marsaglia–Tsang gamma(shape, 1) sampler.
pub fn gamma(shape: f64, rng: &mut impl Rng) -> f64 {
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
    /// Mean arrivals per second (offline: infinite; a closed loop: its clients).
    pub fn rate(&self) -> f64 {
        match self {
            ArrivalProcess::Poisson { rate }
            | ArrivalProcess::Constant { rate }
            | ArrivalProcess::Gamma { rate, .. } => *rate,
            ArrivalProcess::Offline => f64::INFINITY,
            ArrivalProcess::Concurrency { clients } => *clients as f64,
            ArrivalProcess::Stages { stages, .. } => {
                let (n, t) = stages
                    .iter()
                    .fold((0.0, 0.0), |(n, t), &(r, d)| (n + r * d, t + d));
                n / t
            }
        }
    }

    /// The arrival after one at `t` seconds (stages: a gap that crosses into the next stage
    /// starts over at its start, at its rate — exact for Poisson, which is memoryless);
    /// infinite after the last stage.
    pub fn next_after(&self, t: f64, rng: &mut impl Rng) -> f64 {
        let ArrivalProcess::Stages { stages, poisson } = self else {
            return t + self.gap(rng);
        };
        let mut start = 0.0;
        for &(rate, duration) in stages.iter() {
            let end = start + duration;
            if t < end {
                let from = t.max(start);
                let gap = match poisson {
                    true => -(1.0 - rng.random::<f64>()).ln() / rate,
                    false => 1.0 / rate,
                };
                // The first arrival of a stage is at its start.
                let next = if t < start { start } else { from + gap };
                if next < end {
                    return next;
                }
            }
            start = end;
        }
        f64::INFINITY
    }

    /// Why the parameters cannot generate arrivals (a rate or cv that is not a positive
    /// finite number), if they cannot.
    pub fn check(&self) -> Result<(), String> {
        let (rate, cv) = match self {
            ArrivalProcess::Poisson { rate } | ArrivalProcess::Constant { rate } => (*rate, 1.0),
            ArrivalProcess::Gamma { rate, cv } => (*rate, *cv),
            ArrivalProcess::Offline => return Ok(()),
            ArrivalProcess::Stages { stages, .. } => {
                return match stages
                    .iter()
                    .find(|&&(r, d)| !(r > 0.0 && r.is_finite() && d > 0.0 && d.is_finite()))
                {
                    Some((r, d)) => Err(format!(
                        "stage rate {r} req/s for {d} s: both must be positive numbers"
                    )),
                    None if stages.is_empty() => Err("no stages".into()),
                    None => Ok(()),
                };
            }
            ArrivalProcess::Concurrency { clients } => {
                return match clients {
                    0 => Err("concurrency must be at least 1 client".into()),
                    _ => Ok(()),
                };
            }
        };
        if !(rate > 0.0 && rate.is_finite()) {
            return Err(format!(
                "arrival rate {rate} must be a positive number of requests per second"
            ));
        }
        if !(cv > 0.0 && cv.is_finite()) {
            return Err(format!(
                "gamma cv {cv} must be positive (1 = Poisson, > 1 bursty)"
            ));
        }
        Ok(())
    }

    /// Seconds to the next arrival. Poisson: inverse CDF of the exponential, −ln(1 − u)/rate.
    /// Gamma: shape k = 1/cv², scale 1/(rate·k), so the mean gap is 1/rate and its
    /// coefficient of variation is cv (Marsaglia–Tsang sampler).
    pub fn gap(&self, rng: &mut impl Rng) -> f64 {
        match self {
            ArrivalProcess::Poisson { rate } => -(1.0 - rng.random::<f64>()).ln() / rate,
            ArrivalProcess::Gamma { rate, cv } => {
                let k = 1.0 / (cv * cv);
                gamma(k, rng) / (rate * k)
            }
            ArrivalProcess::Constant { rate } => 1.0 / rate,
            ArrivalProcess::Offline | ArrivalProcess::Concurrency { .. } => 0.0,
            ArrivalProcess::Stages { .. } => f64::NAN,
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
            LengthDist::Zipf {
                min: 100,
                max: 8000,
                exponent: 0.8,
            },
            LengthDist::Empirical {
                values: vec![3, 30, 300],
            },
        ] {
            let n = 100_000;
            let sampler = LengthSampler::new(d.clone());
            let m: f64 = (0..n).map(|_| sampler.sample(&mut rng) as f64).sum::<f64>() / n as f64;
            assert!(
                (m - d.mean()).abs() / d.mean() < 0.03,
                "{d:?}: {m} vs {}",
                d.mean()
            );
        }
    }

    #[test]
    fn sampler_draws_what_the_distribution_draws() {
        for d in [
            LengthDist::Zipf {
                min: 50,
                max: 4000,
                exponent: 0.9,
            },
            LengthDist::LogNormal {
                median: 800.0,
                sigma: 1.0,
            },
        ] {
            let (mut a, mut b) = (StdRng::seed_from_u64(9), StdRng::seed_from_u64(9));
            let s = LengthSampler::new(d.clone());
            let x: Vec<u32> = (0..2000).map(|_| d.sample(&mut a)).collect();
            let y: Vec<u32> = (0..2000).map(|_| s.sample(&mut b)).collect();
            assert_eq!(x, y, "{d:?}");
            assert!(x.iter().all(|&v| v >= 1));
        }
        // The guide table finds what a search of the whole CDF finds, at and around every
        // bucket edge and at every CDF value.
        for (max, exponent) in [(20_000, 1.1), (7, 0.5), (1, 1.0), (3_000, 2.5)] {
            let s = LengthSampler::new(LengthDist::Zipf {
                min: 1,
                max,
                exponent,
            });
            let g = s.zipf_guide.len() - 1;
            let edges = (0..=g).map(|b| b as f64 / g as f64);
            for u in edges.chain(s.zipf_cdf.iter().copied()) {
                for u in [u, u.next_down(), u.next_up()] {
                    let u = u.clamp(0.0, 1.0f64.next_down());
                    assert_eq!(
                        s.zipf_index(u) as f64,
                        zipf_pick(&s.zipf_cdf, 0, u),
                        "max {max}, u {u}"
                    );
                }
            }
        }
        // Zipf's head: P(min) = 1 / H(n, s); for s = 1 on 1..=2 that is 2/3.
        let z = LengthSampler::new(LengthDist::Zipf {
            min: 1,
            max: 2,
            exponent: 1.0,
        });
        let mut rng = StdRng::seed_from_u64(10);
        let ones = (0..60_000).filter(|_| z.sample(&mut rng) == 1).count();
        assert!((ones as f64 / 60_000.0 - 2.0 / 3.0).abs() < 0.01, "{ones}");
    }

    #[test]
    fn bad_rates_are_refused() {
        assert!(ArrivalProcess::Poisson { rate: 0.0 }.check().is_err());
        assert!(ArrivalProcess::Constant { rate: f64::NAN }.check().is_err());
        assert!(
            ArrivalProcess::Gamma { rate: 1.0, cv: 0.0 }
                .check()
                .is_err()
        );
        assert!(ArrivalProcess::Gamma { rate: 1.0, cv: 3.0 }.check().is_ok());
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
        // cv < 1 (shape > 1) and cv > 1 (shape < 1, the boosted branch of the sampler).
        for cv in [0.5, 2.0] {
            let g: Vec<f64> = (0..n)
                .map(|_| ArrivalProcess::Gamma { rate: 4.0, cv }.gap(&mut rng))
                .collect();
            let m = g.iter().sum::<f64>() / n as f64;
            let sd = (g.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64).sqrt();
            assert!((m - 0.25).abs() / 0.25 < 0.03, "cv {cv}: mean {m}");
            assert!((sd / m - cv).abs() / cv < 0.05, "cv {cv}: got {}", sd / m);
        }
    }
}
