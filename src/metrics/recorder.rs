//! The metrics layer: a [`Recorder`] hears every request and iteration of a run (it is the
//! engine's [`Observer`]) and keeps what the summary needs: latency samples (overall and per
//! tenant), the ITL histogram, counters, prefix-cache and speculation totals, and the
//! batch/KV timeline for the charts. [`Recorder::summary`] turns them into a [`RunSummary`].

use super::summary::{
    Clamps, LoraSummary, Overload, PrefixSummary, RunSummary, SloVerdict, SpecSummary,
    TenantSummary, TraceSkipped,
};
use super::{LogHistogram, Quantiles};
use crate::scenario::{Scenario, SloMetric};
use crate::serving::config::SchedulerKind;
use crate::serving::{IterationDone, Observer, Outcome, RequestDone};
use crate::sim::Nanos;

/// Per-tenant latencies and cache use (finished requests).
#[derive(Default)]
struct TenantStats {
    ttft: Vec<f32>,
    tpot: Vec<f32>,
    e2e: Vec<f32>,
    prompt_tokens: u64,
    cached_tokens: u64,
    /// Requests refused, and of those, by its rate limits or its queue cap.
    rejected: u64,
    limited: u64,
}

use super::timeline::Timeline;

/// Everything a run's summary and charts are computed from.
pub struct Recorder {
    /// (metric, percentile, limit in ms, only this tenant).
    slo: Vec<(SloMetric, f64, f64, Option<u32>)>,
    /// Per-tenant statistics are kept (several tenants, or a tenant's own SLO).
    per_tenant: bool,
    /// TTFT and TPOT of finished requests, seconds (TPOT: requests of more than one token);
    /// sorted by [`Recorder::summary`].
    pub ttft: Vec<f32>,
    /// See `ttft`.
    pub tpot: Vec<f32>,
    e2e: Vec<f32>,
    queue: Vec<f32>,
    itl: LogHistogram,
    finished: u64,
    rejected: u64,
    /// Of those, refused by their tenant's own limits (rate limits, queue cap).
    limited: u64,
    /// Of those, given up by their clients (`workload.timeout_s`).
    timed_out: u64,
    /// Requests (finished or refused) whose prompt, output was clamped.
    clamped: [u64; 2],
    /// The first and last arrival of a request the service had to carry (not refused by
    /// its tenant's own limits), seconds.
    arrivals: (f64, f64),
    /// Seconds spent clearing KV blocks reused across tenants.
    scrub_s: f64,
    /// Seconds of LoRA work (adapter loads and kernels), and the steps that had any.
    lora_s: f64,
    lora_steps: u64,
    good: u64,
    output_tokens: u64,
    preemptions: u64,
    iterations: u64,
    batch_sum: u64,
    blocks_sum: u64,
    blocks_peak: u32,
    frag_sum: u64,
    waste_sum: u64,
    spec: [u64; 3],
    /// Prompt tokens admitted and found cached, over all (re)admissions.
    prefix: [u64; 2],
    /// Tenant names ("-" for a workload without tenants).
    pub tenant_names: Vec<String>,
    tenants: Vec<TenantStats>,
    /// Per tenant: prompt tokens and cached tokens of finished requests (the hit-rate chart).
    pub tenant_tokens: Vec<[u64; 2]>,
    /// Batch size and KV blocks over time (the charts), when kept.
    pub timeline: Option<Timeline>,
}

impl Recorder {
    /// A recorder for a run of `scn`; `timeline`: keep the data of the over-time charts.
    pub fn new(scn: &Scenario, timeline: bool) -> Recorder {
        let tenant_names: Vec<String> = if scn.workload.sharing.tenants.is_empty() {
            vec!["-".to_string()]
        } else {
            scn.workload
                .sharing
                .tenants
                .iter()
                .map(|t| t.name.clone())
                .collect()
        };
        Recorder {
            slo: scn
                .slo
                .targets
                .iter()
                .map(|t| (t.metric, t.percentile, t.limit_ms, t.tenant))
                .collect(),
            per_tenant: tenant_names.len() > 1
                || scn.slo.targets.iter().any(|t| t.tenant.is_some()),
            ttft: Vec::new(),
            tpot: Vec::new(),
            e2e: Vec::new(),
            queue: Vec::new(),
            itl: LogHistogram::new(),
            finished: 0,
            rejected: 0,
            limited: 0,
            timed_out: 0,
            clamped: [0; 2],
            arrivals: (f64::INFINITY, f64::NEG_INFINITY),
            scrub_s: 0.0,
            lora_s: 0.0,
            lora_steps: 0,
            good: 0,
            output_tokens: 0,
            preemptions: 0,
            iterations: 0,
            batch_sum: 0,
            blocks_sum: 0,
            blocks_peak: 0,
            frag_sum: 0,
            waste_sum: 0,
            spec: [0; 3],
            prefix: [0; 2],
            tenant_tokens: vec![[0; 2]; tenant_names.len()],
            tenants: tenant_names
                .iter()
                .map(|_| TenantStats::default())
                .collect(),
            tenant_names,
            timeline: timeline.then(Default::default),
        }
    }

    /// Requests that have ended (finished or refused).
    pub fn ended(&self) -> u64 {
        self.finished + self.rejected
    }

    /// The summary of the run (with `seed`) that ended at `end`; `num_blocks` KV blocks per replica,
    /// `cache` the prefix cache's (evicted, cached at the end) blocks, `skipped` a lenient
    /// trace's skipped lines. Sorts the latency samples (the charts read them sorted).
    pub fn summary(
        &mut self,
        scn: &Scenario,
        seed: u64,
        num_blocks: u32,
        end: Nanos,
        cache: (u64, u64),
        skipped: Option<(u64, Option<String>)>,
    ) -> RunSummary {
        let duration_s = end.as_secs_f64().max(1e-9);
        let (ttft, tpot, itl, e2e, queue) = (
            Quantiles::of(&mut self.ttft),
            Quantiles::of(&mut self.tpot),
            Quantiles::of_hist(&self.itl),
            Quantiles::of(&mut self.e2e),
            Quantiles::of(&mut self.queue),
        );
        let overload = overload(
            self.finished,
            self.finished + self.rejected - self.limited,
            self.arrivals,
            (duration_s, queue.p50),
        );
        // Per tenant: (ttft, tpot, e2e), when kept.
        let per_tenant = self.per_tenant;
        let tenant_q: Vec<[Quantiles; 3]> = self
            .tenants
            .iter_mut()
            .filter(|_| per_tenant)
            .map(|t| {
                [
                    Quantiles::of(&mut t.ttft),
                    Quantiles::of(&mut t.tpot),
                    Quantiles::of(&mut t.e2e),
                ]
            })
            .collect();
        let slo: Vec<SloVerdict> = self
            .slo
            .iter()
            .map(|&(metric, percentile, limit_ms, tenant)| {
                let [ttft, tpot, e2e] = match tenant {
                    Some(i) => tenant_q[i as usize],
                    None => [ttft, tpot, e2e],
                };
                let q = match metric {
                    SloMetric::Ttft => ttft,
                    SloMetric::Tpot => tpot,
                    SloMetric::E2e => e2e,
                };
                let measured_ms = q.at(percentile) * 1e3;
                SloVerdict {
                    metric,
                    percentile,
                    tenant: tenant.map(|i| self.tenant_names[i as usize].clone()),
                    measured_ms,
                    limit_ms,
                    met: measured_ms <= limit_ms,
                }
            })
            .collect();
        let iters = self.iterations.max(1) as f64;
        let caching = scn.engine.prefix_caching && scn.engine.scheduler != SchedulerKind::Static;
        let prefix = caching.then(|| PrefixSummary {
            isolation: scn.engine.prefix_isolation,
            lookup_tokens: self.prefix[0],
            hit_tokens: self.prefix[1],
            tflop_saved: self.prefix[1] as f64 * scn.model.flops_per_token(0) as f64 / 1e12,
            evicted_blocks: cache.0,
            blocks_at_end: cache.1,
        });
        let tenants = if self.tenants.len() > 1 {
            self.tenant_names
                .iter()
                .zip(&mut self.tenants)
                .map(|(name, t)| TenantSummary {
                    name: name.clone(),
                    requests: t.ttft.len() as u64,
                    rejected: t.rejected,
                    limited: t.limited,
                    prefix_hit_rate: t.cached_tokens as f64 / t.prompt_tokens.max(1) as f64,
                    ttft: Quantiles::of(&mut t.ttft),
                    tpot: Quantiles::of(&mut t.tpot),
                    prefix_blocks_lost: 0,
                })
                .collect()
        } else {
            Vec::new()
        };
        let spec = scn.engine.speculative.as_ref().map(|sp| SpecSummary {
            method: sp.method.name(),
            draft_model: match &sp.method {
                crate::serving::spec::SpecMethod::DraftModel(name) => Some(name.clone()),
                _ => None,
            },
            num_tokens: sp.num_tokens,
            mean_alpha: sp.acceptance.mean_alpha(),
            drafted: self.spec[0],
            accepted: self.spec[1],
            verified: self.spec[2],
        });
        RunSummary {
            scenario: scn.name.clone(),
            scenario_file: scn.path.clone(),
            seed,
            model: scn.model.name.clone(),
            model_file: scn.model.source.clone(),
            weights: format!("{} ({})", scn.precision.format, scn.precision.source),
            engine: scn.engine.kind.to_string(),
            gpu: scn.gpu.name.clone(),
            gpu_file: scn.gpu.source.clone(),
            tp: scn.tp,
            replicas: scn.replicas,
            scheduler: scn.engine.scheduler,
            kv_cache: (scn.engine.cache_type_k, scn.engine.cache_type_v),
            kv_blocks_per_replica: num_blocks,
            block_size: scn.engine.block_size,
            finished: self.finished,
            rejected: self.rejected,
            rejected_by_tenant_limits: self.limited,
            overload,
            clamped: Clamps {
                prompts: self.clamped[0],
                max_prompt_tokens: scn.workload.max_prompt_tokens,
                outputs: self.clamped[1],
                max_output_tokens: scn.workload.max_output_tokens,
            },
            timed_out: scn.workload.timeout_s.map(|_| (self.timed_out, 0)),
            kv_blocks_reused_across_tenants: None,
            kv_scrub_s: scn.engine.scrub_freed_blocks.then_some(self.scrub_s),
            good: self.good,
            output_tokens: self.output_tokens,
            duration_s,
            ttft,
            tpot,
            itl,
            e2e,
            queue,
            preemptions: self.preemptions,
            iterations: self.iterations,
            mean_batch_size: self.batch_sum as f64 / iters,
            mean_kv_blocks_used: self.blocks_sum as f64 / iters,
            peak_kv_blocks_used: self.blocks_peak,
            mean_internal_fragmentation_tokens: self.frag_sum as f64 / iters,
            mean_contiguous_reservation_waste_tokens: self.waste_sum as f64 / iters,
            slo_met: slo.iter().all(|v| v.met) && self.rejected == self.limited,
            slo,
            trace_skipped: skipped.map(|(lines, first)| TraceSkipped { lines, first }),
            router: scn.router,
            tenant_scheduling: (self.tenant_names.len() > 1)
                .then(|| scn.engine.tenancy.scheduling.name()),
            prefix,
            tenants,
            spec,
            lora: scn.engine.lora.map(|e| LoraSummary {
                max_loras: e.max_loras,
                max_lora_rank: e.max_lora_rank,
                adapters: scn
                    .engine
                    .tenancy
                    .tenants
                    .iter()
                    .filter_map(|t| t.lora.map(|l| l.adapters))
                    .sum(),
                reserved_gib: 0.0,
                loads: 0,
                host_misses: 0,
                seconds: self.lora_s,
                steps: self.lora_steps,
                iterations: self.iterations,
            }),
            out_dir: None,
        }
    }
}

impl Recorder {
    /// Per tenant (when there are several): name, TTFT and TPOT of its finished requests,
    /// seconds, sorted once [`Recorder::summary`] has run.
    pub fn tenant_latencies(&self) -> Vec<(&str, &[f32], &[f32])> {
        if !self.per_tenant || self.tenants.len() < 2 {
            return Vec::new();
        }
        self.tenant_names
            .iter()
            .zip(&self.tenants)
            .map(|(n, t)| (n.as_str(), t.ttft.as_slice(), t.tpot.as_slice()))
            .collect()
    }
}

/// Whether the arrivals outran the service: `carried` requests arrived over
/// `(first, last)` seconds, `finished` were served by `duration` s, half of them waiting
/// over `queued` s to be scheduled. Overloaded when the arrival rate is over 1.1 × the rate
/// requests were completed at, the work left at the last arrival took over a tenth of the
/// arrival span to finish, and the median request queued over a second (a healthy service
/// schedules a request within a step or two; a short run's last long answers alone do not
/// make it overloaded). A closed loop, whose clients wait for answers, never is; bursts that a
/// queue absorbs on average are not. At least 20 requests.
fn overload(
    finished: u64,
    carried: u64,
    (first, last): (f64, f64),
    (duration, queued): (f64, f64),
) -> Option<Overload> {
    let span = last - first;
    if carried < 20 || span <= 0.0 {
        return None;
    }
    let offered = (carried - 1) as f64 / span;
    let served = finished as f64 / (duration - first).max(1e-9);
    let drain = duration - last;
    let backlog = drain > 0.1 * span && queued > 1.0;
    (offered > 1.1 * served && backlog).then_some(Overload {
        offered_rps: offered,
        served_rps: served,
        drain_s: drain,
    })
}

impl Observer for Recorder {
    fn request(&mut self, d: &RequestDone) {
        let r = &d.req;
        self.clamped[0] += u64::from(r.clamped.prompt);
        self.clamped[1] += u64::from(r.clamped.output);
        if !matches!(
            d.outcome,
            Outcome::RejectedRateLimit | Outcome::RejectedTenantQueueFull
        ) {
            let at = r.arrival.as_secs_f64();
            self.arrivals = (self.arrivals.0.min(at), self.arrivals.1.max(at));
        }
        let Some(l) = d.latencies() else {
            self.rejected += 1;
            self.timed_out += u64::from(d.outcome == Outcome::TimedOut);
            self.limited += u64::from(matches!(
                d.outcome,
                Outcome::RejectedRateLimit | Outcome::RejectedTenantQueueFull
            ));
            if let Some(t) = self.tenants.get_mut(r.tenant as usize) {
                t.rejected += 1;
                t.limited += u64::from(matches!(
                    d.outcome,
                    Outcome::RejectedRateLimit | Outcome::RejectedTenantQueueFull
                ));
            }
            return;
        };
        self.finished += 1;
        self.output_tokens += r.output_tokens as u64;
        self.preemptions += d.preemptions as u64;
        let tt = &mut self.tenant_tokens[r.tenant as usize];
        tt[0] += r.prompt_tokens as u64;
        tt[1] += d.cached_tokens as u64;
        if self.per_tenant {
            let tenant = &mut self.tenants[r.tenant as usize];
            tenant.ttft.push(l.ttft as f32);
            tenant.e2e.push(l.e2e as f32);
            tenant.prompt_tokens += r.prompt_tokens as u64;
            tenant.cached_tokens += d.cached_tokens as u64;
            if r.output_tokens > 1 {
                tenant.tpot.push(l.tpot as f32);
            }
        }
        self.ttft.push(l.ttft as f32);
        self.e2e.push(l.e2e as f32);
        self.queue.push(l.queue as f32);
        if r.output_tokens > 1 {
            self.tpot.push(l.tpot as f32);
        }
        let ok = self.slo.iter().all(|&(m, _, limit, only)| {
            if only.is_some_and(|t| t != r.tenant) {
                return true;
            }
            let v = match m {
                SloMetric::Ttft => l.ttft,
                SloMetric::Tpot => l.tpot,
                SloMetric::E2e => l.e2e,
            };
            v * 1e3 <= limit
        });
        self.good += u64::from(ok);
    }

    fn inter_token(&mut self, gap: Nanos, count: u32) {
        self.itl.add_n(gap.as_secs_f64(), count as u64);
    }

    fn iteration(&mut self, it: &IterationDone) {
        self.iterations += 1;
        self.scrub_s += it.scrub_s;
        if it.lora_s > 0.0 {
            self.lora_s += it.lora_s;
            self.lora_steps += 1;
        }
        self.batch_sum += it.batch_size as u64;
        self.blocks_sum += it.kv_blocks_used as u64;
        self.blocks_peak = self.blocks_peak.max(it.kv_blocks_used);
        self.frag_sum += it.kv_fragmentation_tokens;
        self.waste_sum += it.contiguous_waste_tokens;
        self.spec[0] += it.spec_drafted as u64;
        self.spec[1] += it.spec_accepted as u64;
        self.spec[2] += it.spec_verified as u64;
        self.prefix[0] += it.prefix_lookup_tokens as u64;
        self.prefix[1] += it.prefix_hit_tokens as u64;
        if let Some(t) = &mut self.timeline {
            t.add(it.start.0 / 1000, it.batch_size, it.kv_blocks_used);
        }
    }
}
