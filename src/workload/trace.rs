//! Trace replay: the Mooncake JSONL format (`timestamp` ms, `input_length`, `output_length`,
//! `hash_ids` of 512-token blocks), the Azure LLM inference CSV (`TIMESTAMP`,
//! `ContextTokens`, `GeneratedTokens`), and a measured run's per-request JSONL (`input_toks`,
//! `output_toks`, `queued_ts` or `arrival_time` in seconds). Read line by line; arrivals are relative to the first
//! request and divided by `time_scale`.

use super::{Request, Segment, WorkloadError};
use crate::sim::Nanos;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// Trace file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceFormat {
    /// Mooncake JSONL.
    Mooncake,
    /// Azure LLM inference trace CSV.
    Azure,
    /// A measured run's per-request records, one JSON object per line: `input_toks`,
    /// `output_toks`, and the arrival as the server queued it (`queued_ts`, seconds) or as
    /// the client sent it (`arrival_time`, seconds) — LLMServingSim's `requests.jsonl`.
    Requests,
}

/// A lazy trace reader. A malformed line ends the replay with the error kept in
/// [`TraceReader::error`]; [`TraceReader::open`] checks the first line up front.
pub struct TraceReader {
    path: PathBuf,
    lines: std::io::Lines<BufReader<std::fs::File>>,
    format: TraceFormat,
    scale: f64,
    line_no: usize,
    t0: Option<i128>,
    next_id: u64,
    /// The previous Mooncake timestamp (ns), to refuse a trace out of order.
    last_t: Option<i128>,
    peeked: Option<Request>,
    /// The first malformed line met, if any (not lenient: it ends the replay).
    pub error: Option<String>,
    /// Lenient: skip malformed lines (counting them) instead of stopping.
    lenient: bool,
    /// Lenient: lines skipped so far, and the first one's error.
    pub skipped: u64,
    /// See `skipped`.
    pub first_skipped: Option<String>,
}

#[derive(serde::Deserialize)]
struct MooncakeRow {
    timestamp: f64,
    input_length: u64,
    output_length: u64,
    /// One id per 512-token block of the input (the last may be partial); equal ids, equal
    /// tokens (and, in this trace's construction, an equal prefix).
    #[serde(default)]
    hash_ids: Option<Vec<u64>>,
}

#[derive(serde::Deserialize)]
struct RequestsRow {
    input_toks: u64,
    output_toks: u64,
    #[serde(default)]
    queued_ts: Option<f64>,
    #[serde(default)]
    arrival_time: Option<f64>,
}

/// Tokens per `hash_ids` block in Mooncake traces.
pub const MOONCAKE_BLOCK: u64 = 512;

/// A Mooncake request's segments: one per hash id (512 tokens, the last one the rest of the
/// input), then its output, unique to the request. The engine names its own, smaller blocks
/// from these ([`super::content_ids`]): engine block `j` lies inside trace block
/// `j·block_size / 512` (block sizes are powers of two up to 256), so two requests share it
/// exactly when they share that trace block's id. A trailing partial trace block is shared
/// only with requests carrying the same id (the same partial tokens); the engine, like vLLM,
/// caches only its full blocks.
fn mooncake_segments(hash_ids: &[u64], input: u64, output: u64, id: u64) -> Vec<Segment> {
    let mut segs: Vec<Segment> = hash_ids
        .iter()
        .enumerate()
        .map(|(i, &h)| Segment {
            key: crate::hash::mix64(h ^ 0x4d6f_6f6e_6361_6b65),
            tokens: (input - i as u64 * MOONCAKE_BLOCK).min(MOONCAKE_BLOCK) as u32,
        })
        .collect();
    segs.push(Segment {
        key: crate::hash::mix64(id ^ 0x6f75_7470_7574_0000),
        tokens: output.min(u32::MAX as u64) as u32,
    });
    segs
}

/// "2023-11-16 18:15:46.6805900" → integer nanoseconds since 1970-01-01 00:00 (no time
/// zone; only differences are used). Days come from the civil-from-days formula (H. Hinnant),
/// so a trace that crosses midnight or a month end replays in order; the fraction keeps up to
/// nine digits.
fn azure_nanos(s: &str) -> Option<i128> {
    let (date, time) = s.trim().split_once(' ')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, dd) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&dd) {
        return None;
    }
    let mut t = time.split(':');
    let (h, mi, sec) = (t.next()?, t.next()?, t.next()?);
    if t.next().is_some() {
        return None;
    }
    let (h, mi): (i64, i64) = (h.parse().ok()?, mi.parse().ok()?);
    let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
    let whole: i64 = whole.parse().ok()?;
    if !(0..24).contains(&h) || !(0..60).contains(&mi) || !(0..=60).contains(&whole) {
        return None;
    }
    if !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits: String = frac.chars().chain("000000000".chars()).take(9).collect();
    let frac_ns: i64 = digits.parse().ok()?;
    let (y2, m2) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days as i128 * 86_400 + (h * 3600 + mi * 60 + whole) as i128;
    Some(secs * 1_000_000_000 + frac_ns as i128)
}

impl TraceReader {
    /// Open a trace and read its first request; `lenient` skips and counts malformed lines.
    pub fn open(
        path: &Path,
        format: TraceFormat,
        time_scale: f64,
        lenient: bool,
    ) -> Result<Self, WorkloadError> {
        if !(time_scale > 0.0 && time_scale.is_finite()) {
            return Err(WorkloadError::Invalid(format!(
                "time_scale = {time_scale}: must be positive (2 replays twice as fast)"
            )));
        }
        let f = std::fs::File::open(path).map_err(|e| {
            WorkloadError::Trace(format!("{}: cannot open trace: {e}", path.display()))
        })?;
        let mut r = TraceReader {
            path: path.to_path_buf(),
            lines: BufReader::new(f).lines(),
            format,
            scale: time_scale,
            line_no: 0,
            t0: None,
            next_id: 0,
            last_t: None,
            lenient,
            skipped: 0,
            first_skipped: None,
            peeked: None,
            error: None,
        };
        if format == TraceFormat::Azure {
            r.line_no += 1;
            match r.lines.next() {
                Some(Ok(h)) if h.contains("ContextTokens") && h.contains("GeneratedTokens") => {}
                _ => {
                    return Err(WorkloadError::Trace(format!(
                        "{}:1: expected the header TIMESTAMP,ContextTokens,GeneratedTokens",
                        path.display()
                    )));
                }
            }
        }
        r.peeked = r.read();
        if let Some(e) = r.error.take() {
            return Err(WorkloadError::Trace(e));
        }
        if r.peeked.is_none() {
            let skipped = match &r.first_skipped {
                Some(first) => format!(
                    " ({} malformed lines skipped; the first: {first})",
                    r.skipped
                ),
                None => String::new(),
            };
            return Err(WorkloadError::Trace(format!(
                "{}: holds no requests{skipped}",
                path.display()
            )));
        }
        Ok(r)
    }

    fn read(&mut self) -> Option<Request> {
        loop {
            let line = match self.lines.next()? {
                Ok(l) => l,
                Err(e) => {
                    self.error = Some(format!("{}:{}: {e}", self.path.display(), self.line_no + 1));
                    return None;
                }
            };
            self.line_no += 1;
            if line.trim().is_empty() {
                continue;
            }
            let mut hash_ids = None;
            let parsed: Result<(i128, u64, u64), String> = match self.format {
                TraceFormat::Mooncake => serde_json::from_str::<MooncakeRow>(&line)
                    .map_err(|e| e.to_string())
                    .and_then(|r| {
                        if !(r.timestamp.is_finite() && r.timestamp >= 0.0) {
                            return Err(format!(
                                "timestamp {} must be a non-negative number of milliseconds",
                                r.timestamp
                            ));
                        }
                        // Milliseconds → nanoseconds.
                        let t = (r.timestamp * 1e6).round() as i128;
                        if let Some(h) = &r.hash_ids {
                            let want = r.input_length.div_ceil(MOONCAKE_BLOCK);
                            if h.len() as u64 != want {
                                return Err(format!(
                                    "input_length {} needs ⌈{} / {MOONCAKE_BLOCK}⌉ = {want} hash_ids, found {}",
                                    r.input_length,
                                    r.input_length,
                                    h.len()
                                ));
                            }
                        }
                        hash_ids = r.hash_ids;
                        Ok((t, r.input_length, r.output_length))
                    }),
                TraceFormat::Requests => serde_json::from_str::<RequestsRow>(&line)
                    .map_err(|e| e.to_string())
                    .and_then(|r| match r.queued_ts.or(r.arrival_time) {
                        Some(t) if t.is_finite() && t >= 0.0 => {
                            // Seconds → nanoseconds.
                            Ok(((t * 1e9).round() as i128, r.input_toks, r.output_toks))
                        }
                        Some(t) => Err(format!("arrival {t} must be a non-negative number of seconds")),
                        None => Err("needs `queued_ts` or `arrival_time` (seconds)".to_string()),
                    }),
                TraceFormat::Azure => {
                    let f: Vec<&str> = line.split(',').collect();
                    match (
                        f.first().and_then(|s| azure_nanos(s)),
                        f.get(1).and_then(|s| s.trim().parse().ok()),
                        f.get(2).and_then(|s| s.trim().parse().ok()),
                    ) {
                        (Some(t), Some(i), Some(o)) if f.len() == 3 => Ok((t, i, o)),
                        _ => Err(format!(
                            "expected TIMESTAMP,ContextTokens,GeneratedTokens like \
                             `2023-11-16 18:15:46.6805900,374,44`, found `{}`",
                            line.trim()
                        )),
                    }
                }
            };
            // Every format must be in arrival order; only a line that is kept moves the clock.
            let parsed = parsed.and_then(|(t, i, o)| match self.last_t {
                Some(prev) if t < prev => Err(format!(
                    "this line arrives {} ms before the line above it: a trace must be in \
                     arrival order (sort it by time)",
                    (prev - t) as f64 / 1e6
                )),
                _ => Ok((t, i, o)),
            });
            match parsed {
                Ok((t, i, o)) => {
                    self.last_t = Some(t);
                    let t0 = *self.t0.get_or_insert(t);
                    let since = t - t0;
                    let arrival = if self.scale == 1.0 {
                        Nanos(since.min(u64::MAX as i128) as u64)
                    } else {
                        Nanos((since as f64 / self.scale).round() as u64)
                    };
                    let r = Request {
                        id: self.next_id,
                        arrival,
                        prompt_tokens: i.clamp(1, u32::MAX as u64) as u32,
                        output_tokens: o.clamp(1, u32::MAX as u64) as u32,
                        tenant: 0,
                        prefix: hash_ids.map(|h| mooncake_segments(&h, i, o, self.next_id).into()),
                        // The source clamps (and marks) lengths over the workload's limits.
                        clamped: Default::default(),
                    };
                    self.next_id += 1;
                    return Some(r);
                }
                Err(e) => {
                    let e = format!("{}:{}: {e}", self.path.display(), self.line_no);
                    if self.lenient {
                        self.skipped += 1;
                        self.first_skipped.get_or_insert(e);
                        continue;
                    }
                    self.error = Some(e);
                    return None;
                }
            }
        }
    }
}

impl Iterator for TraceReader {
    type Item = Request;
    fn next(&mut self) -> Option<Request> {
        let r = self.peeked.take()?;
        self.peeked = self.read();
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data/traces")
            .join(name)
    }

    #[test]
    fn mooncake_trace_replays_every_request() {
        let path = reference("mooncake_conversation_trace.jsonl");
        let first: MooncakeRow = serde_json::from_str(
            std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .next()
                .unwrap(),
        )
        .unwrap();
        let v: Vec<Request> = TraceReader::open(&path, TraceFormat::Mooncake, 1.0, false)
            .unwrap()
            .collect();
        assert_eq!(v.len(), 12_031);
        assert_eq!(v[0].prompt_tokens as u64, first.input_length);
        assert!(v.windows(2).all(|w| w[0].arrival <= w[1].arrival));
    }

    #[test]
    fn azure_trace_and_errors() {
        let v: Vec<Request> = TraceReader::open(
            &reference("azure_llm_inference_conv_2023.csv"),
            TraceFormat::Azure,
            1.0,
            false,
        )
        .unwrap()
        .collect();
        assert!(v.len() > 19_000, "{}", v.len());
        assert!(v.windows(2).all(|w| w[0].arrival <= w[1].arrival));
        assert_eq!(
            azure_nanos("2023-11-17 00:00:01.0").unwrap()
                - azure_nanos("2023-11-16 23:59:59.0").unwrap(),
            2_000_000_000
        );
        assert_eq!(
            azure_nanos("2023-11-16 18:15:46.6805900").unwrap()
                - azure_nanos("2023-11-16 18:15:46").unwrap(),
            680_590_000
        );
        assert_eq!(azure_nanos("1970-01-01 00:00:00.000000001"), Some(1));
        assert_eq!(
            azure_nanos("2024-03-01 00:00:00").unwrap()
                - azure_nanos("2024-02-28 00:00:00").unwrap(),
            2 * 86_400_000_000_000
        );
        assert!(azure_nanos("2023-11-16T18:15:46").is_none());
        assert!(azure_nanos("2023-13-16 18:15:46").is_none());
        let dir = std::env::temp_dir().join(format!("planner-trace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("bad.jsonl");
        std::fs::write(
            &p,
            "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 3}\nnot json\n",
        )
        .unwrap();
        let mut r = TraceReader::open(&p, TraceFormat::Mooncake, 1.0, false).unwrap();
        assert_eq!(r.by_ref().count(), 1);
        assert!(
            r.error.as_deref().unwrap_or("").contains("bad.jsonl:2:"),
            "{:?}",
            r.error
        );
    }
}
