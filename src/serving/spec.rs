//! Speculative decoding (Leviathan et al., 2023; vLLM's `speculative_config`): each step a
//! cheap drafter proposes γ tokens per sequence, the target model verifies all γ + 1
//! positions in one forward pass, and the sequence keeps the accepted prefix plus one token
//! the target samples itself (the correction, or the bonus when all γ are accepted).
//!
//! With each draft token accepted with probability α, independently, until the first
//! rejection, a verification pass yields on average
//!
//! ```text
//! E[tokens] = 1 + α + α² + … + α^γ = (1 − α^(γ+1)) / (1 − α)
//! ```
//!
//! and at batch size 1, where a target step costs about the same for 1 or γ + 1 tokens (it
//! reads the weights once either way), the speedup over plain decoding is
//! `E[tokens] / (γ·c + 1)` with `c` the draft/target step-time ratio. At large batch the
//! verification's γ + 1 tokens per sequence make the step compute-bound and the gain shrinks,
//! then turns into a loss: where that happens is what the simulator is for.
//!
//! The drafter's cost: a draft *model* runs γ sequential decode steps over the drafting
//! sequences (and prefills every prompt chunk, to keep its own KV cache); its weights and KV
//! take GPU memory beside the target's. An *n-gram* drafter (prompt lookup) runs on the CPU
//! and costs no GPU time. A *head* (EAGLE / MTP style) costs `layer_fraction` of one target
//! layer plus the LM head per draft step, and its memory is neglected.

use crate::cost::iteration::{IterationCost, SeqWork};
use crate::sim::RngStreams;
use rand::{Rng, RngExt};

/// Who proposes the draft tokens.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum SpecMethod {
    /// A smaller model from the catalog (its name).
    DraftModel(String),
    /// Prompt-lookup n-gram matching on the CPU.
    Ngram,
    /// A draft head on the target's hidden states, costing this fraction of one target layer.
    Head {
        /// Cost of one draft step in target layers (EAGLE-1: about 1).
        layer_fraction: f64,
    },
}

impl SpecMethod {
    /// Name in reports.
    pub fn name(&self) -> &'static str {
        match self {
            SpecMethod::DraftModel(_) => "draft_model",
            SpecMethod::Ngram => "ngram",
            SpecMethod::Head { .. } => "head",
        }
    }
}

/// How likely draft tokens are to be accepted.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum Acceptance {
    /// Every draft position with the same probability α.
    Constant(f64),
    /// Position i (from 0) with probability α_i given the earlier ones were accepted; the last
    /// value holds beyond the list.
    PerPosition(Vec<f64>),
    /// Each request draws its own α from Beta(a, b) (some prompts are easy to predict, some
    /// are not), then every position with that α.
    Beta {
        /// Shape a (> 0).
        a: f64,
        /// Shape b (> 0).
        b: f64,
    },
}

impl Acceptance {
    /// Why the parameters are invalid, if they are.
    pub fn check(&self) -> Result<(), String> {
        let prob = |x: f64| (0.0..=1.0).contains(&x);
        match self {
            Acceptance::Constant(a) if !prob(*a) => {
                Err(format!("acceptance α = {a} must be in [0, 1]"))
            }
            Acceptance::PerPosition(v) if v.is_empty() => {
                Err("acceptance list is empty: give one α per draft position".into())
            }
            Acceptance::PerPosition(v) => match v.iter().find(|x| !prob(**x)) {
                Some(x) => Err(format!("acceptance α = {x} must be in [0, 1]")),
                None => Ok(()),
            },
            Acceptance::Beta { a, b }
                if !(*a > 0.0 && *b > 0.0 && a.is_finite() && b.is_finite()) =>
            {
                Err(format!("Beta({a}, {b}): both shapes must be positive"))
            }
            _ => Ok(()),
        }
    }

    /// A request's own α (Beta), or NaN where α does not depend on the request.
    pub fn request_alpha(&self, rng: &mut impl Rng) -> f64 {
        match self {
            Acceptance::Beta { a, b } => {
                let x = crate::workload::gamma_sample(*a, rng);
                let y = crate::workload::gamma_sample(*b, rng);
                x / (x + y)
            }
            _ => f64::NAN,
        }
    }

    /// How many of `drafted` tokens the target accepts (the leading run of successes), for a
    /// request whose own α is `alpha` (see [`Acceptance::request_alpha`]).
    pub fn accepted(&self, drafted: u32, alpha: f64, rng: &mut impl Rng) -> u32 {
        for i in 0..drafted {
            let p = match self {
                Acceptance::Constant(a) => *a,
                Acceptance::PerPosition(v) => v[(i as usize).min(v.len() - 1)],
                Acceptance::Beta { .. } => alpha,
            };
            if rng.random::<f64>() >= p {
                return i;
            }
        }
        drafted
    }

    /// Mean α over requests and positions (for reports).
    pub fn mean_alpha(&self) -> f64 {
        match self {
            Acceptance::Constant(a) => *a,
            Acceptance::PerPosition(v) => v.iter().sum::<f64>() / v.len() as f64,
            Acceptance::Beta { a, b } => a / (a + b),
        }
    }
}

/// Expected tokens per verification with constant α and γ draft tokens:
/// (1 − α^(γ+1)) / (1 − α), which is γ + 1 at α = 1.
pub fn expected_tokens(alpha: f64, gamma: u32) -> f64 {
    if alpha >= 1.0 {
        return gamma as f64 + 1.0;
    }
    (1.0 - alpha.powi(gamma as i32 + 1)) / (1.0 - alpha)
}

/// Speculative decoding settings (`[engine.speculative]`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Speculative {
    /// The drafter.
    pub method: SpecMethod,
    /// Draft tokens per step, γ (vLLM's `num_speculative_tokens`), 1..=16.
    pub num_tokens: u32,
    /// The acceptance model.
    pub acceptance: Acceptance,
}

/// What one draft step costs on the GPU.
#[derive(Debug, Clone, Copy)]
pub enum DraftCost<'a> {
    /// Drafted on the CPU (n-gram).
    Free,
    /// A draft model, priced by its own cost table.
    Model(&'a IterationCost),
    /// A head costing this fraction of one target layer, plus the LM head.
    Head {
        /// Cost of one draft step in target layers.
        layer_fraction: f64,
    },
}

impl DraftCost<'_> {
    /// Seconds of drafting in one iteration: `steps` sequential draft steps over the
    /// sequences at `contexts` (each step one token longer), the first of which also
    /// prefills the iteration's prompt `chunks` into a draft model's own KV cache.
    pub fn seconds(
        &self,
        target: &IterationCost,
        chunks: &[SeqWork],
        contexts: &[u32],
        steps: u32,
    ) -> f64 {
        let step_work = |i: u32, with_chunks: bool| -> Vec<SeqWork> {
            let mut w: Vec<SeqWork> = contexts
                .iter()
                .map(|&c| SeqWork {
                    context: c + i,
                    tokens: 1,
                })
                .collect();
            if with_chunks {
                w.extend_from_slice(chunks);
            }
            w
        };
        let n = contexts.len() as u32;
        match self {
            DraftCost::Free => 0.0,
            DraftCost::Model(c) => {
                let mut t = 0.0;
                if steps == 0 && !chunks.is_empty() {
                    t += c.iteration_seconds(chunks, 0);
                }
                for i in 0..steps {
                    t += c.iteration_seconds(&step_work(i, i == 0), n);
                }
                t
            }
            DraftCost::Head { layer_fraction } => (0..steps)
                .map(|i| target.head_draft_seconds(*layer_fraction, &step_work(i, false)))
                .sum(),
        }
    }
}

/// Speculative decoding as one simulation runs it.
#[derive(Debug, Clone)]
pub struct SpecRun<'a> {
    /// Draft tokens per step, γ.
    pub num_tokens: u32,
    /// Acceptance model.
    pub acceptance: Acceptance,
    /// Drafting cost.
    pub draft: DraftCost<'a>,
    /// Seeded streams: per-request α and the accept/reject draws.
    pub streams: RngStreams,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn expected_tokens_closed_form() {
        assert!((expected_tokens(0.5, 1) - 1.5).abs() < 1e-12);
        assert!((expected_tokens(0.5, 3) - 1.875).abs() < 1e-12);
        assert_eq!(expected_tokens(1.0, 4), 5.0);
        assert_eq!(expected_tokens(0.0, 4), 1.0);
    }

    /// Sampled acceptance agrees with the closed form, and a per-position curve with its
    /// own product formula.
    #[test]
    fn sampling_matches_the_closed_form() {
        let mut rng = StdRng::seed_from_u64(3);
        let n = 200_000;
        let a = Acceptance::Constant(0.8);
        let mean = (0..n)
            .map(|_| a.accepted(5, f64::NAN, &mut rng) as f64 + 1.0)
            .sum::<f64>()
            / n as f64;
        assert!(
            (mean / expected_tokens(0.8, 5) - 1.0).abs() < 0.01,
            "{mean}"
        );
        let c = Acceptance::PerPosition(vec![0.9, 0.5]);
        // E = 1 + 0.9 + 0.9·0.5 + 0.9·0.5·0.5
        let want = 1.0 + 0.9 + 0.45 + 0.225;
        let mean = (0..n)
            .map(|_| c.accepted(3, f64::NAN, &mut rng) as f64 + 1.0)
            .sum::<f64>()
            / n as f64;
        assert!((mean / want - 1.0).abs() < 0.01, "{mean} vs {want}");
        let b = Acceptance::Beta { a: 6.0, b: 2.0 };
        let alphas: Vec<f64> = (0..n).map(|_| b.request_alpha(&mut rng)).collect();
        let m = alphas.iter().sum::<f64>() / n as f64;
        assert!((m - 0.75).abs() < 0.005, "{m}");
        assert!(alphas.iter().all(|x| (0.0..=1.0).contains(x)));
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(Acceptance::Constant(1.2).check().is_err());
        assert!(Acceptance::Constant(-0.1).check().is_err());
        assert!(Acceptance::PerPosition(vec![]).check().is_err());
        assert!(Acceptance::PerPosition(vec![0.5, 2.0]).check().is_err());
        assert!(Acceptance::Beta { a: 0.0, b: 1.0 }.check().is_err());
        assert!(Acceptance::Constant(0.7).check().is_ok());
    }
}
