//! The `requests` and `iterations` tables of a `simulate` report, written row by row as the
//! run reports them (so memory does not grow with the number of requests).

use super::table::{Finished, Kind, TableFormat, TableWriter};
use crate::serving::{IterationDone, Observer, RequestDone};
use crate::sim::Nanos;
use std::path::Path;

/// Columns of `requests`: times in integer µs, the arrival from the start of the run, the
/// others from the request's arrival (TPOT: per output token after the first); empty for
/// rejected requests.
pub const REQUEST_COLUMNS: [(&str, Kind); 13] = [
    ("id", Kind::U64),
    ("replica", Kind::U64),
    ("tenant", Kind::Str),
    ("arrival_us", Kind::U64),
    ("prompt_tokens", Kind::U64),
    ("output_tokens", Kind::U64),
    ("status", Kind::Str),
    ("queue_us", Kind::OptU64),
    ("ttft_us", Kind::OptU64),
    ("tpot_us", Kind::OptU64),
    ("e2e_us", Kind::OptU64),
    ("preemptions", Kind::U64),
    ("cached_tokens", Kind::U64),
];

/// Columns of `iterations` (times in µs).
pub const ITERATION_COLUMNS: [(&str, Kind); 9] = [
    ("start_us", Kind::U64),
    ("duration_us", Kind::U64),
    ("replica", Kind::U64),
    ("batch_size", Kind::U64),
    ("prefill_tokens", Kind::U64),
    ("decode_tokens", Kind::U64),
    ("kv_blocks_used", Kind::U64),
    ("preemptions", Kind::U64),
    ("waiting", Kind::U64),
];

/// The two per-run tables, written as the run goes.
pub struct RunTables {
    requests: Option<TableWriter>,
    iterations: Option<TableWriter>,
    tenant_names: Vec<String>,
    error: Option<anyhow::Error>,
}

/// Which tables a report writes (`--tables`): a million-request run's per-request and
/// per-iteration tables are hundreds of MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tables {
    /// No tables: the charts (each with its small data file) and the index only.
    None,
    /// The summary table too.
    Summary,
    /// The summary, one row per request and one per engine iteration.
    #[default]
    All,
}

impl RunTables {
    /// Open the per-row tables in `dir` (none unless `which` is [`Tables::All`]);
    /// `tenant_names` label the requests' tenants.
    pub fn create(
        dir: &Path,
        format: TableFormat,
        tenant_names: Vec<String>,
        which: Tables,
    ) -> anyhow::Result<RunTables> {
        let all = which == Tables::All;
        Ok(RunTables {
            requests: match all {
                true => Some(TableWriter::create(
                    dir,
                    "requests",
                    format,
                    &REQUEST_COLUMNS,
                )?),
                false => None,
            },
            iterations: match all {
                true => Some(TableWriter::create(
                    dir,
                    "iterations",
                    format,
                    &ITERATION_COLUMNS,
                )?),
                false => None,
            },
            tenant_names,
            error: None,
        })
    }

    /// End a table row; on a write error keep the first error and stop writing that table.
    fn end_row(table: &mut Option<TableWriter>, error: &mut Option<anyhow::Error>) {
        if let Some(t) = table
            && let Err(e) = t.end_row()
        {
            error.get_or_insert(e);
            *table = None;
        }
    }

    /// Complete both tables (under their temporary names), or the first write error.
    pub fn finish(mut self) -> anyhow::Result<Vec<Finished>> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut out = Vec::new();
        for t in [self.requests.take(), self.iterations.take()]
            .into_iter()
            .flatten()
        {
            out.push(t.finish()?);
        }
        Ok(out)
    }
}

impl Observer for RunTables {
    fn request(&mut self, d: &RequestDone) {
        let Some(t) = &mut self.requests else { return };
        let r = &d.req;
        let times = d.latencies().map(|l| [l.queue, l.ttft, l.tpot, l.e2e]);
        t.u64(0, r.id);
        t.u64(1, d.replica as u64);
        t.str(2, &self.tenant_names[r.tenant as usize]);
        t.u64(3, r.arrival.0 / 1000);
        t.u64(4, r.prompt_tokens as u64);
        t.u64(5, r.output_tokens as u64);
        t.str(6, d.outcome.name());
        for k in 0..4 {
            t.opt_u64(7 + k, times.map(|v| (v[k] * 1e6).round() as u64));
        }
        t.u64(11, d.preemptions as u64);
        t.u64(12, d.cached_tokens as u64);
        Self::end_row(&mut self.requests, &mut self.error);
    }

    fn inter_token(&mut self, _gap: Nanos, _count: u32) {}

    fn iteration(&mut self, it: &IterationDone) {
        let Some(t) = &mut self.iterations else {
            return;
        };
        t.u64_row(&[
            it.start.0 / 1000,
            it.duration.0 / 1000,
            it.replica as u64,
            it.batch_size as u64,
            it.prefill_tokens as u64,
            it.decode_tokens as u64,
            it.kv_blocks_used as u64,
            it.preemptions as u64,
            it.waiting as u64,
        ]);
        Self::end_row(&mut self.iterations, &mut self.error);
    }
}
