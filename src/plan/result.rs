//! A configuration's result as typed data ([`ConfigResult`], one journal line), and its one
//! renderer into the cells of `plan.csv` ([`ConfigResult::cells`]).

use super::Point;
use crate::sweep::journal::Indexed;
use serde::{Deserialize, Serialize};

/// `plan.csv` columns after `index`, `config` and one per axis.
pub const COLUMNS: [&str; 13] = [
    "gpus",
    "replicas",
    "usd_per_hour",
    "meets_target",
    "cost_model_band",
    "capacity",
    "capacity_min",
    "capacity_max",
    "ttft_p90_ms_at_target",
    "tpot_p90_ms_at_target",
    "usd_per_m_output_tokens",
    "usd_per_1k_requests",
    "reason",
];

/// Whether a configuration meets the target load within the SLOs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// On every seed.
    Meets,
    /// On some seeds only.
    Flips,
    /// On none.
    Misses,
}

/// The verdict with every iteration ±e slower and faster (the cost model's error band).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// The same at both ends.
    Holds,
    /// Different at the two ends of ±`percent` %.
    Flips {
        /// The band's half-width, percent.
        percent: f64,
    },
}

/// The highest load sustained within the SLOs, over the seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    /// The median seed's.
    pub median: f64,
    /// The lowest seed's.
    pub min: f64,
    /// The highest seed's.
    pub max: f64,
    /// The median seed's search reached its ceiling (16× the target): at least this.
    pub at_ceiling: bool,
}

/// A configuration that ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluated {
    /// GPUs (TP × replicas).
    pub gpus: u32,
    /// Engine replicas: the scenario's, or the fewest found to sustain the target.
    #[serde(default = "one")]
    pub replicas: u32,
    /// Price, $/hour.
    pub usd_per_hour: f64,
    /// The GPU's price and where it comes from (`h100-sxm: $2.7/GPU-hour from …`).
    #[serde(default)]
    pub price: String,
    /// At the target.
    pub verdict: Verdict,
    /// Within the cost model's error band, when asked.
    pub band: Option<Band>,
    /// Within the SLOs.
    pub capacity: Capacity,
    /// At the target, first seed.
    pub ttft_p90_ms_at_target: f64,
    /// At the target, first seed.
    pub tpot_p90_ms_at_target: f64,
    /// At capacity (median seed).
    pub usd_per_m_output_tokens: Option<f64>,
    /// At capacity (median seed).
    pub usd_per_1k_requests: Option<f64>,
    /// Why it is rejected (empty when it meets the target).
    pub reason: String,
}

fn one() -> u32 {
    1
}

/// What became of a configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// It cannot run (TP does not divide the heads, the model does not fit, …).
    Invalid {
        /// Why.
        reason: String,
    },
    /// It ran.
    Evaluated(Evaluated),
}

/// One configuration's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigResult {
    /// Position in the grid.
    pub index: usize,
    /// `key=value …`.
    pub label: String,
    /// What became of it.
    pub outcome: Outcome,
    /// Simulated points (first seed).
    pub points: Vec<Point>,
}

impl Indexed for ConfigResult {
    fn index(&self) -> usize {
        self.index
    }
}

impl ConfigResult {
    /// It ran.
    pub fn evaluated(&self) -> Option<&Evaluated> {
        match &self.outcome {
            Outcome::Evaluated(e) => Some(e),
            Outcome::Invalid { .. } => None,
        }
    }

    /// It meets the target on every seed.
    pub fn meets(&self) -> bool {
        self.evaluated()
            .is_some_and(|e| e.verdict == Verdict::Meets)
    }

    /// Its price, $/hour (infinite when it cannot run).
    pub fn usd_per_hour(&self) -> f64 {
        self.evaluated().map_or(f64::INFINITY, |e| e.usd_per_hour)
    }

    /// Its median capacity (0 when it cannot run).
    pub fn capacity(&self) -> f64 {
        self.evaluated().map_or(0.0, |e| e.capacity.median)
    }

    /// Why it is rejected.
    pub fn reason(&self) -> &str {
        match &self.outcome {
            Outcome::Invalid { reason } => reason,
            Outcome::Evaluated(e) => &e.reason,
        }
    }

    /// The verdict within the cost model's error band flips.
    pub fn band_flips(&self) -> bool {
        self.evaluated()
            .is_some_and(|e| matches!(e.band, Some(Band::Flips { .. })))
    }

    /// The `plan.csv` cells, in [`COLUMNS`] order.
    pub fn cells(&self) -> Vec<String> {
        let e = match &self.outcome {
            Outcome::Invalid { reason } => {
                let mut c = vec![String::new(); COLUMNS.len()];
                c[3] = "invalid".into();
                c[12] = reason.clone();
                return c;
            }
            Outcome::Evaluated(e) => e,
        };
        let money = |x: Option<f64>| x.map_or(String::new(), |v| format!("{v:.4}"));
        let cap = &e.capacity;
        vec![
            e.gpus.to_string(),
            e.replicas.to_string(),
            format!("{:.2}", e.usd_per_hour),
            match e.verdict {
                Verdict::Meets => "yes",
                Verdict::Flips => "flips",
                Verdict::Misses => "no",
            }
            .to_string(),
            match e.band {
                None => String::new(),
                Some(Band::Holds) => "holds".into(),
                Some(Band::Flips { percent }) => format!("flips within ±{percent:.0} %"),
            },
            if cap.at_ceiling {
                format!("≥{:.3}", cap.median)
            } else {
                format!("{:.3}", cap.median)
            },
            format!("{:.3}", cap.min),
            format!("{:.3}", cap.max),
            format!("{:.3}", e.ttft_p90_ms_at_target),
            format!("{:.3}", e.tpot_p90_ms_at_target),
            money(e.usd_per_m_output_tokens),
            money(e.usd_per_1k_requests),
            e.reason.clone(),
        ]
    }
}
