//! The terminal's one-screen digest of a run: what would stop a reader (overload, clamped
//! lengths) first, then what ran, what it served, the latency percentiles, the SLOs, the
//! batch and KV use, prefix caching and each tenant. Every metric is in
//! [`RunSummary::rows`] (`summary.csv`, `simulate --full`, `--json`).

use super::Quantiles;
use super::summary::RunSummary;
use crate::serving::config::SchedulerKind;
use std::fmt::Write;

/// A duration given in seconds, in the unit that reads best: `7.34 ms`, `41.4 ms`, `12.3 s`.
pub fn human_secs(s: f64) -> String {
    let ms = s * 1e3;
    if !ms.is_finite() {
        "n/a".to_string()
    } else if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{s:.1} s")
    }
}

impl RunSummary {
    /// About fifteen lines for the terminal (see the module comment).
    pub fn digest(&self) -> String {
        let mut s = String::new();
        let mut line = |k: &str, v: String| {
            let _ = writeln!(s, "{k:<11}{v}");
        };
        for (tag, text) in self.warnings() {
            line(tag, text);
        }
        line(
            "run",
            format!(
                "{} (seed {}): {} on {} × (TP{} on {}), {}, {} batching",
                self.scenario,
                self.seed,
                self.model,
                self.replicas,
                self.tp,
                self.gpu,
                self.engine,
                match self.scheduler {
                    SchedulerKind::Static => "static",
                    SchedulerKind::Continuous => "continuous",
                    SchedulerKind::ChunkedPrefill => "chunked-prefill",
                }
            ),
        );
        let mut served = format!(
            "{} finished, {} refused in {:.1} s: {:.2} req/s, {:.0} output tok/s, goodput {:.2} req/s",
            self.finished,
            self.rejected,
            self.duration_s,
            self.request_throughput_rps(),
            self.output_token_throughput_tps(),
            self.goodput_rps()
        );
        if self.rejected_by_tenant_limits > 0 {
            let _ = write!(
                served,
                " ({} refused by tenant limits)",
                self.rejected_by_tenant_limits
            );
        }
        if let Some((n, _)) = self.timed_out {
            let _ = write!(served, "; {n} timed out by their clients");
        }
        line("served", served);
        let quantiles = |q: &Quantiles| {
            format!(
                "p50 {:<10} p90 {:<10} p99 {}",
                human_secs(q.p50),
                human_secs(q.p90),
                human_secs(q.p99)
            )
        };
        line("TTFT", quantiles(&self.ttft));
        line("TPOT", quantiles(&self.tpot));
        line("ITL", quantiles(&self.itl));
        line("E2E", quantiles(&self.e2e));
        line("queue", quantiles(&self.queue));
        // Requests refused for want of capacity miss the SLOs whatever the percentiles say.
        let refused = self.rejected - self.rejected_by_tenant_limits;
        if self.slo.is_empty() {
            line("SLOs", "none set ([slo] in the scenario)".to_string());
        } else {
            let each: Vec<String> = self
                .slo
                .iter()
                .map(|v| {
                    let op = if v.met { "≤" } else { ">" };
                    format!(
                        "{} {} {op} {}",
                        v.name(),
                        human_secs(v.measured_ms / 1e3),
                        human_secs(v.limit_ms / 1e3)
                    )
                })
                .collect();
            let verdict = match (self.slo_met, refused) {
                (true, _) => "all met".to_string(),
                (false, 0) => "NOT MET".to_string(),
                (false, n) => format!("NOT MET ({n} requests refused)"),
            };
            line("SLOs", format!("{verdict}: {}", each.join(", ")));
        }
        line(
            "batch",
            format!(
                "{:.1} sequences per step on average over {} steps; {} preemptions",
                self.mean_batch_size, self.iterations, self.preemptions
            ),
        );
        line(
            "KV",
            format!(
                "{}/{} cache, {} blocks of {} tokens per replica; {:.0} in use on average, {} at peak",
                self.kv_cache.0,
                self.kv_cache.1,
                self.kv_blocks_per_replica,
                self.block_size,
                self.mean_kv_blocks_used,
                self.peak_kv_blocks_used
            ),
        );
        line(
            "prefix",
            match &self.prefix {
                None => "caching off".to_string(),
                Some(p) => format!(
                    "{:.1}% of prompt tokens found cached ({} prefill tokens saved), {} blocks evicted",
                    p.hit_rate() * 100.0,
                    p.hit_tokens,
                    p.evicted_blocks
                ),
            },
        );
        if let Some(sp) = &self.spec {
            line(
                "speculate",
                format!(
                    "{} γ = {}: {:.1}% of drafted tokens accepted, {:.2} tokens per verification",
                    sp.method,
                    sp.num_tokens,
                    sp.accepted as f64 * 100.0 / sp.drafted.max(1) as f64,
                    (sp.accepted + sp.verified) as f64 / sp.verified.max(1) as f64
                ),
            );
        }
        if let Some(l) = &self.lora {
            line(
                "LoRA",
                format!(
                    "{} adapters, {} loads into GPU slots ({} not in host memory), {:.1}% of steps ran adapters",
                    l.adapters,
                    l.loads,
                    l.host_misses,
                    l.steps as f64 * 100.0 / l.iterations.max(1) as f64
                ),
            );
        }
        for t in &self.tenants {
            line(
                "tenant",
                format!(
                    "{}: {} finished, {} refused; TTFT p90 {}, TPOT p90 {}; prefix hits {:.1}%",
                    t.name,
                    t.requests,
                    t.rejected,
                    human_secs(t.ttft.p90),
                    human_secs(t.tpot.p90),
                    t.prefix_hit_rate * 100.0
                ),
            );
        }
        if let Some(t) = &self.trace_skipped {
            line(
                "trace",
                format!("{} malformed lines skipped (--lenient)", t.lines),
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::human_secs;

    #[test]
    fn durations_read_in_their_unit() {
        assert_eq!(human_secs(0.007_346), "7.35 ms");
        assert_eq!(human_secs(0.041_43), "41.4 ms");
        assert_eq!(human_secs(12.34), "12.3 s");
        assert_eq!(human_secs(f64::NAN), "n/a");
    }
}
