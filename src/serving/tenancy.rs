//! Tenants of one service: limits at the gateway (token buckets on requests and tokens per
//! second, each rejecting with HTTP 429 or delaying the request), caps in the scheduler
//! (running sequences, queued requests), and the order waiting requests are admitted in
//! across tenants:
//!
//! - `fifo`: arrival order, whoever sent it (vLLM's default `--scheduling-policy fcfs`).
//! - `fair`: the Virtual Token Counter of Sheng et al., "Fairness in Serving Large Language
//!   Models" (OSDI 2024, Algorithm 2): each tenant's counter grows by its served tokens
//!   (prompt tokens × 1, output tokens × 2, divided by its weight); the next admission goes
//!   to the waiting tenant with the smallest counter (its oldest request), and a tenant that
//!   returns from idle is lifted to the smallest counter among the busy ones, so idle time
//!   banks no credit.
//! - `priority`: vLLM's `--scheduling-policy priority` (`vllm/v1/core/sched/scheduler.py`,
//!   v0.8–0.11): waiting requests by (priority, arrival), a lower value first; when blocks
//!   run out the running request of the worst priority (the newest among equals) is
//!   preempted; and, as vLLM V0 did (`_schedule_priority_preemption`,
//!   `vllm/core/scheduler.py`, v0.6), a waiting request that cannot be admitted preempts
//!   running requests of a strictly worse priority until it can.

use crate::sim::Nanos;
use serde::Serialize;

/// How waiting requests are ordered across tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantScheduling {
    /// Arrival order.
    #[default]
    Fifo,
    /// Virtual Token Counter fair share, by weight.
    Fair,
    /// Priority classes, with preemption.
    Priority,
}

impl TenantScheduling {
    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            TenantScheduling::Fifo => "fifo",
            TenantScheduling::Fair => "fair",
            TenantScheduling::Priority => "priority",
        }
    }
}

/// VTC's weight of a prompt token.
pub const VTC_PROMPT_WEIGHT: f64 = 1.0;
/// VTC's weight of an output token.
pub const VTC_OUTPUT_WEIGHT: f64 = 2.0;

/// A token bucket: `rate` per second refills it up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bucket {
    /// Refill per second (requests, or tokens).
    pub rate: f64,
    /// Capacity (the largest burst let through at once).
    pub burst: f64,
}

/// What the gateway does with a request over a tenant's rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnLimit {
    /// Refuse it (HTTP 429).
    #[default]
    Reject,
    /// Hold it until the bucket lets it through.
    Delay,
}

/// One tenant's policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantPolicy {
    /// Name (as in `[[workload.tenants]]`).
    pub name: String,
    /// Fair-share weight.
    pub weight: f64,
    /// Priority class: lower runs first (vLLM's convention).
    pub priority: i64,
    /// Requests per second.
    pub rate_limit: Option<Bucket>,
    /// Tokens (prompt + output) per second.
    pub token_rate_limit: Option<Bucket>,
    /// Over a rate limit: reject or delay.
    pub on_limit: OnLimit,
    /// Most of its sequences running at once.
    pub max_num_seqs: Option<u32>,
    /// Most of its requests waiting at once; more are rejected.
    pub max_queue: Option<u32>,
    /// Most of its prompt tokens in one step (its share of the token budget for chunked
    /// prefills; its decodes are not limited).
    pub max_prefill_tokens: Option<u32>,
    /// Most KV blocks its running sequences hold together (a cached prefix block counts for
    /// each sequence using it): a request waits, and a growing sequence preempts the
    /// tenant's own newest, rather than exceed it.
    pub max_kv_blocks: Option<u32>,
    /// The share of a replica's KV blocks its cached prefixes may keep before they are the
    /// first evicted (see [`crate::kv::PrefixCache::set_caps`]).
    pub prefix_cache_share: Option<f64>,
    /// Its fine-tuned models, served as LoRA adapters.
    pub lora: Option<crate::serving::lora::TenantLora>,
}

impl TenantPolicy {
    /// Whether any limit is set.
    pub fn has_limits(&self) -> bool {
        self.rate_limit.is_some()
            || self.token_rate_limit.is_some()
            || self.max_num_seqs.is_some()
            || self.max_queue.is_some()
            || self.max_prefill_tokens.is_some()
            || self.prefix_cache_share.is_some()
            || self.max_kv_blocks.is_some()
    }

    /// No limits, weight 1, priority 0.
    pub fn open(name: &str) -> TenantPolicy {
        TenantPolicy {
            name: name.to_string(),
            weight: 1.0,
            priority: 0,
            rate_limit: None,
            token_rate_limit: None,
            on_limit: OnLimit::Reject,
            max_num_seqs: None,
            max_queue: None,
            max_prefill_tokens: None,
            max_kv_blocks: None,
            prefix_cache_share: None,
            lora: None,
        }
    }
}

/// The tenants' policies (indexed by tenant) and the order across them.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Tenancy {
    /// Order across tenants.
    pub scheduling: TenantScheduling,
    /// Per tenant; a tenant beyond the list has no limits.
    pub tenants: Vec<TenantPolicy>,
}

impl Tenancy {
    /// Tenant `t`'s policy, if it has one.
    pub fn policy(&self, t: u32) -> Option<&TenantPolicy> {
        self.tenants.get(t as usize)
    }

    /// Tenant `t`'s priority (0 without a policy).
    pub fn priority(&self, t: u32) -> i64 {
        self.policy(t).map_or(0, |p| p.priority)
    }

    /// Tenant `t`'s fair-share weight (1 without a policy).
    pub fn weight(&self, t: u32) -> f64 {
        self.policy(t).map_or(1.0, |p| p.weight)
    }

    /// Whether anything is set beyond plain arrival order with no limits.
    pub fn is_configured(&self) -> bool {
        self.scheduling != TenantScheduling::Fifo
            || self.tenants.iter().any(|p| {
                let open = TenantPolicy::open(&p.name);
                p.weight != open.weight || p.priority != open.priority || p.has_limits()
            })
    }

    /// The same with every limit removed (order, weights and priorities kept).
    pub fn without_limits(&self) -> Tenancy {
        Tenancy {
            scheduling: self.scheduling,
            tenants: self
                .tenants
                .iter()
                .map(|p| TenantPolicy {
                    weight: p.weight,
                    priority: p.priority,
                    lora: p.lora,
                    ..TenantPolicy::open(&p.name)
                })
                .collect(),
        }
    }

    /// Each tenant's cap on cached prefix blocks in a replica of `num_blocks` blocks (its
    /// share, rounded down), for [`crate::kv::PrefixCache::set_caps`].
    pub fn prefix_cache_caps(&self, num_blocks: u32) -> Vec<Option<u32>> {
        self.tenants
            .iter()
            .map(|p| {
                p.prefix_cache_share
                    .map(|s| (s * f64::from(num_blocks)).floor() as u32)
            })
            .collect()
    }

    /// Tenant `t`'s cap on KV blocks held, if it has one.
    pub fn max_kv_blocks(&self, t: u32) -> Option<u32> {
        self.policy(t).and_then(|p| p.max_kv_blocks)
    }

    /// Whether any tenant's KV blocks are capped (sequences are then scheduled one by one).
    pub fn caps_kv_blocks(&self) -> bool {
        self.tenants.iter().any(|p| p.max_kv_blocks.is_some())
    }

    /// Whether the gateway checks anything.
    pub fn gates(&self) -> bool {
        self.tenants
            .iter()
            .any(|p| p.rate_limit.is_some() || p.token_rate_limit.is_some())
    }

    /// Whether the scheduler admits in anything but plain arrival order.
    pub fn orders(&self) -> bool {
        self.scheduling != TenantScheduling::Fifo
            || self.tenants.iter().any(|p| {
                p.max_num_seqs.is_some()
                    || p.max_prefill_tokens.is_some()
                    || p.max_kv_blocks.is_some()
            })
    }

    /// Each tenant's prompt tokens left for a new step (`u32::MAX`: no cap); empty when no
    /// tenant has a cap.
    pub fn prefill_budgets(&self, out: &mut Vec<u32>) {
        out.clear();
        if self.tenants.iter().any(|p| p.max_prefill_tokens.is_some()) {
            out.extend(
                self.tenants
                    .iter()
                    .map(|p| p.max_prefill_tokens.unwrap_or(u32::MAX)),
            );
        }
    }
}

/// A bucket's level over time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketState {
    /// Level at `at` (negative: owed by requests let through late).
    pub level: f64,
    /// When `level` was taken.
    pub at: Nanos,
}

impl BucketState {
    /// A full bucket.
    pub fn full(b: &Bucket) -> BucketState {
        BucketState {
            level: b.burst,
            at: Nanos::ZERO,
        }
    }

    /// The level at `now`.
    fn level_at(&self, b: &Bucket, now: Nanos) -> f64 {
        let dt = now.saturating_sub(self.at).as_secs_f64();
        (self.level + dt * b.rate).min(b.burst)
    }

    /// Seconds from `now` until `cost` can be taken (0: now).
    pub fn wait(&self, b: &Bucket, now: Nanos, cost: f64) -> f64 {
        let level = self.level_at(b, now);
        if level >= cost {
            0.0
        } else {
            (cost - level) / b.rate
        }
    }

    /// Take `cost` at `now` (the level may go negative: a delayed request's debt).
    pub fn take(&mut self, b: &Bucket, now: Nanos, cost: f64) {
        self.level = self.level_at(b, now) - cost;
        self.at = now;
    }
}

/// A request's fate at the gateway.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Gate {
    /// Through now.
    Pass,
    /// Through after this long.
    Delay(Nanos),
    /// Refused (over a rate limit).
    Reject,
}

/// The gateway's buckets, per tenant: (requests, tokens).
#[derive(Debug, Clone, Default)]
pub struct Gateway {
    states: Vec<[Option<BucketState>; 2]>,
}

impl Gateway {
    /// Full buckets for every limited tenant.
    pub fn new(t: &Tenancy) -> Gateway {
        Gateway {
            states: t
                .tenants
                .iter()
                .map(|p| {
                    [
                        p.rate_limit.as_ref().map(BucketState::full),
                        p.token_rate_limit.as_ref().map(BucketState::full),
                    ]
                })
                .collect(),
        }
    }

    /// Let a request of `tokens` tokens from `tenant` through at `now`, or not.
    pub fn admit(&mut self, t: &Tenancy, tenant: u32, tokens: u32, now: Nanos) -> Gate {
        let (Some(p), Some(states)) = (t.policy(tenant), self.states.get_mut(tenant as usize))
        else {
            return Gate::Pass;
        };
        let limits = [
            p.rate_limit.map(|b| (b, 1.0)),
            p.token_rate_limit.map(|b| (b, tokens as f64)),
        ];
        let mut wait = 0.0f64;
        for (limit, state) in limits.iter().zip(states.iter()) {
            if let (Some((b, cost)), Some(s)) = (limit, state) {
                // A request larger than the bucket could never pass: it waits as if the
                // bucket were exactly its size.
                wait = wait.max(s.wait(b, now, cost.min(b.burst)));
            }
        }
        if wait > 0.0 && p.on_limit == OnLimit::Reject {
            return Gate::Reject;
        }
        for (limit, state) in limits.iter().zip(states.iter_mut()) {
            if let (Some((b, cost)), Some(s)) = (limit, state) {
                s.take(b, now, *cost);
            }
        }
        if wait > 0.0 {
            Gate::Delay(Nanos::from_secs_f64(wait).max(Nanos(1)))
        } else {
            Gate::Pass
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limited(rate: f64, burst: f64, on_limit: OnLimit) -> Tenancy {
        Tenancy {
            scheduling: TenantScheduling::Fifo,
            tenants: vec![TenantPolicy {
                rate_limit: Some(Bucket { rate, burst }),
                on_limit,
                ..TenantPolicy::open("a")
            }],
        }
    }

    /// Requests every 100 ms (10/s) against 2/s with a burst of 1: the first passes, then
    /// one in five — exactly 2 per second plus the burst.
    #[test]
    fn a_token_bucket_lets_its_rate_through() {
        let t = limited(2.0, 1.0, OnLimit::Reject);
        let mut g = Gateway::new(&t);
        let passed: Vec<u64> = (0..100u64)
            .filter(|k| g.admit(&t, 0, 100, Nanos(k * 100_000_000)) == Gate::Pass)
            .collect();
        assert_eq!(passed.len(), 20, "{passed:?}");
        assert_eq!(&passed[..4], &[0, 5, 10, 15]);
        // Another tenant is not limited.
        assert_eq!(g.admit(&t, 1, 100, Nanos(1)), Gate::Pass);
    }

    /// Delaying instead: every request passes, the k-th after k / rate − burst / rate
    /// seconds of its own arrival at the latest, so they leave at the bucket's pace.
    #[test]
    fn a_delaying_bucket_paces_requests() {
        let t = limited(2.0, 1.0, OnLimit::Delay);
        let mut g = Gateway::new(&t);
        let mut leave = Vec::new();
        for k in 0..10u64 {
            let now = Nanos(k * 100_000_000);
            leave.push(match g.admit(&t, 0, 100, now) {
                Gate::Pass => now,
                Gate::Delay(d) => now + d,
                Gate::Reject => panic!("delay never rejects"),
            });
        }
        for (k, at) in leave.iter().enumerate() {
            let want = k as f64 * 0.5;
            assert!((at.as_secs_f64() - want).abs() < 1e-6, "{k}: {at:?}");
        }
    }

    /// Tokens per second: a request of more tokens than are left waits for them.
    #[test]
    fn a_token_rate_limit_counts_tokens() {
        let t = Tenancy {
            scheduling: TenantScheduling::Fifo,
            tenants: vec![TenantPolicy {
                token_rate_limit: Some(Bucket {
                    rate: 1000.0,
                    burst: 1000.0,
                }),
                ..TenantPolicy::open("a")
            }],
        };
        let mut g = Gateway::new(&t);
        assert_eq!(g.admit(&t, 0, 600, Nanos::ZERO), Gate::Pass);
        assert_eq!(g.admit(&t, 0, 600, Nanos::ZERO), Gate::Reject);
        // 200 ms later 600 tokens are back (400 + 200).
        assert_eq!(g.admit(&t, 0, 600, Nanos(200_000_000)), Gate::Pass);
    }
}
