//! A run's timeline as a Chrome / Perfetto trace (the trace-event JSON format that
//! `chrome://tracing` and ui.perfetto.dev open): one process per replica, its iterations as
//! complete slices (`ph: "X"`) with the batch's composition and the cost model's breakdown
//! as arguments, and each request as an async track (`ph: "b"`/`"e"`) of its phases:
//! queued, prefill (to the first token), decode (to the last).
//!
//! Format: "Trace Event Format", Google (docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU);
//! times in microseconds. Written as the run goes (a million requests make a large file) to
//! a temporary name, renamed into place by [`TraceWriter::finish`].

use crate::serving::{IterationDone, Outcome, RequestDone};
use serde_json::json;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes trace events as a run reports them.
pub struct TraceWriter {
    out: BufWriter<File>,
    path: PathBuf,
    tmp: PathBuf,
    first: bool,
    named: Vec<bool>,
    error: Option<std::io::Error>,
}

/// Microseconds of a nanosecond time.
fn us(ns: u64) -> f64 {
    ns as f64 / 1e3
}

impl TraceWriter {
    /// Start the trace file at `path`.
    pub fn create(path: &Path) -> anyhow::Result<TraceWriter> {
        let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("{}: cannot create folder: {e}", dir.display()))?;
        }
        let file = File::create(&tmp)
            .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", tmp.display()))?;
        let mut out = BufWriter::new(file);
        out.write_all(b"{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n")
            .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", tmp.display()))?;
        Ok(TraceWriter {
            out,
            path: path.to_path_buf(),
            tmp,
            first: true,
            named: Vec::new(),
            error: None,
        })
    }

    fn event(&mut self, e: serde_json::Value) {
        if self.error.is_some() {
            return;
        }
        let sep: &[u8] = if self.first { b"" } else { b",\n" };
        self.first = false;
        let r = self
            .out
            .write_all(sep)
            .and_then(|_| serde_json::to_writer(&mut self.out, &e).map_err(std::io::Error::other));
        if let Err(e) = r {
            self.error = Some(e);
        }
    }

    /// Name replica `r`'s process and its iteration track, once.
    fn name_replica(&mut self, r: u32) {
        let i = r as usize;
        if self.named.len() <= i {
            self.named.resize(i + 1, false);
        }
        if self.named[i] {
            return;
        }
        self.named[i] = true;
        let pid = r + 1;
        self.event(
            json!({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
            "args": {"name": format!("replica {r}")}}),
        );
        self.event(
            json!({"ph": "M", "name": "thread_name", "pid": pid, "tid": 0,
            "args": {"name": "iterations"}}),
        );
    }

    /// One iteration: a slice on its replica's track.
    pub fn iteration(&mut self, it: &IterationDone) {
        self.name_replica(it.replica);
        let kind = match (it.prefill_tokens > 0, it.decode_tokens > 0) {
            (true, true) => "mixed",
            (true, false) => "prefill",
            _ => "decode",
        };
        let ms = |s: f64| (s * 1e6).round() / 1e3;
        self.event(json!({
            "ph": "X", "name": kind, "cat": "iteration", "pid": it.replica + 1, "tid": 0,
            "ts": us(it.start.0), "dur": us(it.duration.0),
            "args": {
                "batch_size": it.batch_size,
                "prefill_tokens": it.prefill_tokens,
                "decode_tokens": it.decode_tokens,
                "kv_blocks_used": it.kv_blocks_used,
                "waiting": it.waiting,
                "preemptions": it.preemptions,
                "prefix_hit_tokens": it.prefix_hit_tokens,
                "linear_ms": ms(it.cost.linear_s),
                "attention_ms": ms(it.cost.attention_s),
                "lm_head_ms": ms(it.cost.lm_head_s),
                "overhead_ms": ms(it.cost.overhead_s),
                "draft_ms": ms(it.draft_s),
                "swap_ms": ms(it.swap_s),
                "scrub_ms": ms(it.scrub_s),
                "lora_ms": ms(it.lora_s),
            }
        }));
    }

    /// One request: its phases as an async track on its replica (or an instant event if it
    /// was refused).
    pub fn request(&mut self, d: &RequestDone) {
        self.name_replica(d.replica);
        let (pid, id) = (d.replica + 1, d.req.id);
        let arrival = d.req.arrival.0;
        if d.outcome != Outcome::Finished {
            self.event(
                json!({"ph": "i", "s": "p", "name": d.outcome.name(), "cat": "request",
                "pid": pid, "tid": 0, "ts": us(arrival), "args": {"request": id}}),
            );
            return;
        }
        let name = format!("request {id}");
        let args = json!({"prompt_tokens": d.req.prompt_tokens, "output_tokens": d.req.output_tokens,
            "cached_tokens": d.cached_tokens, "preemptions": d.preemptions, "tenant": d.req.tenant});
        self.event(
            json!({"ph": "b", "name": name, "cat": "request", "id": id, "pid": pid,
            "tid": 0, "ts": us(arrival), "args": args}),
        );
        let phases = [
            ("queued", arrival, d.first_scheduled.0),
            ("prefill", d.first_scheduled.0, d.first_token.0),
            ("decode", d.first_token.0, d.last_token.0),
        ];
        for (phase, from, to) in phases {
            if to > from {
                self.event(json!({"ph": "b", "name": phase, "cat": "request", "id": id,
                    "pid": pid, "tid": 0, "ts": us(from)}));
                self.event(json!({"ph": "e", "name": phase, "cat": "request", "id": id,
                    "pid": pid, "tid": 0, "ts": us(to)}));
            }
        }
        self.event(
            json!({"ph": "e", "name": name, "cat": "request", "id": id, "pid": pid,
            "tid": 0, "ts": us(d.last_token.0)}),
        );
    }

    /// Close the JSON and put the file in place; its path.
    pub fn finish(mut self) -> anyhow::Result<PathBuf> {
        let io =
            |e: std::io::Error, p: &Path| anyhow::anyhow!("{}: cannot write: {e}", p.display());
        if let Some(e) = self.error.take() {
            return Err(io(e, &self.tmp));
        }
        self.out
            .write_all(b"\n]}\n")
            .map_err(|e| io(e, &self.tmp))?;
        self.out.flush().map_err(|e| io(e, &self.tmp))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| {
            anyhow::anyhow!("{}: cannot rename into place: {e}", self.path.display())
        })?;
        self.tmp = PathBuf::new();
        Ok(self.path.clone())
    }
}

impl Drop for TraceWriter {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
