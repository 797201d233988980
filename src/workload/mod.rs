//! Workloads: when requests arrive and how long their prompts and outputs are, generated
//! lazily (an iterator: a million requests need no buffer) and deterministically from named
//! random streams — `arrivals`, `prompt_lengths`, `output_lengths` — so changing a length
//! distribution never moves arrival times. Traces (Mooncake JSONL, Azure CSV) are read line
//! by line and checked once before the first request is handed out, so a malformed line is
//! an error naming file and line rather than a silently shortened replay; memory stays
//! constant per request either way.

pub mod dist;
pub mod sharing;
pub mod trace;

use crate::sim::{Nanos, RngStreams};
pub use dist::{ArrivalProcess, LengthDist, LengthSampler, gamma as gamma_sample};
use rand::rngs::StdRng;
pub use sharing::{FewShot, Rag, Sessions, Sharing, Tenant, TenantTraffic};

use std::cmp::Reverse;
use std::path::PathBuf;
use std::sync::Arc;
pub use trace::TraceFormat;

/// One request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// Sequence number, from 0 in arrival order.
    pub id: u64,
    /// Arrival time.
    pub arrival: Nanos,
    /// Prompt tokens (≥ 1).
    pub prompt_tokens: u32,
    /// Output tokens to generate (≥ 1).
    pub output_tokens: u32,
    /// Tenant (0 when the workload has none); salts its prefix-cache hashes.
    pub tenant: u32,
    /// What its tokens are, at the granularity prefix caching needs: runs of tokens named by
    /// a key (a system prompt, a document, a trace block), prompt then output. `None`: every
    /// token is unique to this request (nothing to share).
    pub prefix: Option<Arc<[Segment]>>,
    /// Which of its lengths the workload cut to `max_prompt_tokens` / `max_output_tokens`
    /// (counted in the run's summary).
    pub clamped: Clamped,
}

/// Which of a request's lengths were cut to the workload's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Clamped {
    /// The prompt was longer than `max_prompt_tokens`.
    pub prompt: bool,
    /// The output was longer than `max_output_tokens`.
    pub output: bool,
}

/// A run of `tokens` tokens whose identity is `key`: two requests with equal segments up to
/// some point have equal tokens up to that point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Segment {
    /// Identity of the run's tokens.
    pub key: u64,
    /// Its length.
    pub tokens: u32,
}

/// Content ids of the full `block_size`-token blocks among the first `tokens` tokens of a
/// request described by `segments`, into `out` (cleared first). Block `j` is named by the
/// segments overlapping it and where it starts within each, so two requests get the same
/// id for block `j` exactly when their segments give it the same tokens. Tokens past the
/// segments' end are unique to the request (the block and all after it get no id).
pub fn content_ids(segments: &[Segment], block_size: u32, tokens: u32, out: &mut Vec<u64>) {
    use crate::hash::mix64 as mix;
    out.clear();
    let bs = block_size as u64;
    const H0: u64 = 0x6a09_e667_f3bc_c908;
    let (mut i, mut start) = (0usize, 0u64);
    let blocks = tokens as u64 / bs;
    let mut j = 0;
    while j < blocks {
        let (lo, hi) = (j * bs, (j + 1) * bs);
        // The first segment that ends after the block's start.
        while i < segments.len() && start + segments[i].tokens as u64 <= lo {
            start += segments[i].tokens as u64;
            i += 1;
        }
        // Most blocks lie inside one segment: the first step of the loop below, with
        // `mix(H0 ^ key)` computed once for the segment's whole run of blocks.
        if let Some(s) = segments.get(i)
            && start + s.tokens as u64 >= hi
        {
            let mixed = mix(H0 ^ s.key);
            let end = ((start + s.tokens as u64) / bs).min(blocks);
            out.extend((j..end).map(|b| mix(mixed ^ (b * bs - start))));
            j = end;
            continue;
        }
        let (mut k, mut k_start) = (i, start);
        let mut h = H0;
        loop {
            let Some(s) = segments.get(k) else {
                return; // past the described tokens: unique from here on
            };
            // The key and where in the segment this block's part of it starts.
            h = mix(mix(h ^ s.key) ^ (lo.max(k_start) - k_start));
            let end = k_start + s.tokens as u64;
            if end >= hi {
                break;
            }
            k += 1;
            k_start = end;
        }
        out.push(h);
        j += 1;
    }
}

/// Where requests come from.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkloadSource {
    /// Drawn from distributions.
    Synthetic {
        /// Arrival process.
        arrival: ArrivalProcess,
        /// Prompt lengths.
        prompt: LengthDist,
        /// Output lengths.
        output: LengthDist,
    },
    /// Replayed from a trace file.
    Trace {
        /// File.
        path: PathBuf,
        /// Format.
        format: TraceFormat,
        /// Speed-up of the replay (2 = twice as fast).
        time_scale: f64,
    },
}

/// A workload: a source, when to stop, and length clamps.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadSpec {
    /// The source.
    pub source: WorkloadSource,
    /// Stop after this many requests.
    pub num_requests: Option<u64>,
    /// Stop at the first arrival at or after this time.
    pub duration: Option<Nanos>,
    /// Prompts are clamped to this.
    pub max_prompt_tokens: u32,
    /// Outputs are clamped to this.
    pub max_output_tokens: u32,
    /// How synthetic prompts share prefixes (tenants, few-shot templates, RAG documents).
    pub sharing: Sharing,
    /// Traces: skip malformed lines (counted, see [`trace_skipped`]) instead of refusing
    /// the trace.
    pub lenient: bool,
    /// How long a client waits for its request to be scheduled before it gives up.
    pub patience: Option<Patience>,
    /// How long a client waits for the whole answer before it disconnects (the request is
    /// aborted, queued or running), seconds.
    pub timeout_s: Option<f64>,
}

/// A client's patience: how long it waits for its request to start before cancelling it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Patience {
    /// Every client waits this many seconds.
    Fixed(f64),
    /// Each client's wait is exponential with this mean, seconds (drawn per request).
    Exponential(f64),
}

impl Patience {
    /// One client's patience, seconds.
    pub fn draw(self, rng: &mut impl rand::Rng) -> f64 {
        use rand::RngExt;
        match self {
            Patience::Fixed(s) => s,
            Patience::Exponential(mean) => -(1.0 - rng.random::<f64>()).ln() * mean,
        }
    }
}

/// Most requests one run issues: a workload bounded only by its duration stops here too (a
/// guard against a typo that would run for hours or exhaust memory; scenarios refuse a larger
/// `num_requests`, and a duration whose expected count is larger).
pub const MAX_REQUESTS: u64 = 10_000_000;

/// For a lenient trace replay: how many lines are skipped, and the first one's error.
pub fn trace_skipped(spec: &WorkloadSpec) -> Result<Option<(u64, Option<String>)>, WorkloadError> {
    let WorkloadSource::Trace {
        path,
        format,
        time_scale,
    } = &spec.source
    else {
        return Ok(None);
    };
    if !spec.lenient {
        return Ok(None);
    }
    let mut scan = trace::TraceReader::open(path, *format, *time_scale, true)?;
    scan.by_ref().for_each(drop);
    Ok(Some((scan.skipped, scan.first_skipped)))
}

/// Why a workload cannot be generated.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// Neither a request count nor a duration.
    #[error("a workload needs num_requests or duration_s (or both)")]
    Unbounded,
    /// A parameter that cannot generate requests (a rate, cv or time scale that is not a
    /// positive finite number).
    #[error("{0}")]
    Invalid(String),
    /// A trace problem, naming file and line.
    #[error("{0}")]
    Trace(String),
}

/// The requests of a workload, in arrival order, as an iterator: [`source`]'s requests
/// without the turns that wait for an answer (closed-loop conversations yield their first
/// turns only; an engine gets the rest from the [`Source`] itself).
pub fn requests(
    spec: &WorkloadSpec,
    streams: &RngStreams,
) -> Result<Box<dyn Iterator<Item = Request> + Send>, WorkloadError> {
    let mut src = source(spec, streams)?;
    Ok(Box::new(std::iter::from_fn(move || src.next_request())))
}

/// Where an engine gets its requests: the next arrival, and the request that follows from
/// one that has ended (a closed-loop conversation's next turn).
pub trait RequestSource {
    /// The next request in arrival order, not counting turns that wait for an answer;
    /// `None` when there are no more.
    fn next_request(&mut self) -> Option<Request>;

    /// Request `id` ended at `at`, served or refused: the request that follows from it, if
    /// any (arriving at or after `at`).
    fn ended(&mut self, _id: u64, _at: Nanos, _served: bool) -> Option<Request> {
        None
    }
}

/// Any iterator of requests (a trace, a list): nothing follows from an ended request.
impl<I: Iterator<Item = Request> + ?Sized> RequestSource for I {
    fn next_request(&mut self) -> Option<Request> {
        self.next()
    }
}

/// A workload's requests (see [`source`]).
pub struct Source {
    inner: Inner,
    issued: u64,
    limit: u64,
    duration: Nanos,
    max_prompt: u32,
    max_output: u32,
    /// An arrival reached the duration: no more new requests.
    done: bool,
}

enum Inner {
    Synthetic(Box<Synthetic>),
    /// Every tenant its own stream.
    Tenants(Box<Merged>),
    Trace(Box<trace::TraceReader>),
}

impl Source {
    /// Clamp `r`'s lengths and count it, or `None` past the request limit or the duration.
    fn issue(&mut self, mut r: Request) -> Option<Request> {
        if self.issued >= self.limit || r.arrival >= self.duration {
            return None;
        }
        r.clamped.prompt |= r.prompt_tokens > self.max_prompt;
        r.clamped.output |= r.output_tokens > self.max_output;
        r.prompt_tokens = r.prompt_tokens.clamp(1, self.max_prompt);
        r.output_tokens = r.output_tokens.clamp(1, self.max_output);
        self.issued += 1;
        Some(r)
    }
}

impl RequestSource for Source {
    fn next_request(&mut self) -> Option<Request> {
        if self.done || self.issued >= self.limit {
            return None;
        }
        // A closed loop starts with one request per client; the rest follow ended ones.
        if let Inner::Synthetic(s) = &self.inner
            && let ArrivalProcess::Concurrency { clients } = s.arrival
            && self.issued >= clients as u64
        {
            return None;
        }
        let r = match &mut self.inner {
            Inner::Synthetic(s) => s.next(),
            Inner::Tenants(m) => m.next(),
            Inner::Trace(t) => t.next(),
        }?;
        let r = self.issue(r);
        self.done = r.is_none();
        r
    }

    fn ended(&mut self, id: u64, at: Nanos, served: bool) -> Option<Request> {
        let r = match &mut self.inner {
            Inner::Synthetic(s) if matches!(s.arrival, ArrivalProcess::Concurrency { .. }) => {
                if self.issued >= self.limit || at >= self.duration {
                    return None;
                }
                s.t = at.as_secs_f64();
                let mut r = s.next()?;
                r.arrival = at;
                Some(r)
            }
            Inner::Synthetic(s) => s.turn_after(id, at, served),
            Inner::Tenants(_) | Inner::Trace(_) => None,
        }?;
        self.issue(r)
    }
}

/// The requests of a workload, ids from 0, lengths clamped to `1..=max_*_tokens`;
/// generation stops after `num_requests` requests have been issued or at the first new
/// arrival at or after `duration`, whichever comes first (a closed-loop conversation's turn
/// that would come after `duration` is dropped, ending the conversation). Synthetic
/// workloads draw gaps from the stream `arrivals`, prompt lengths from `prompt_lengths` and
/// output lengths from `output_lengths`; closed-loop turns are drawn when the turn before
/// them ends, so they are issued in that order.
pub fn source(spec: &WorkloadSpec, streams: &RngStreams) -> Result<Source, WorkloadError> {
    let limit = spec.num_requests.unwrap_or(MAX_REQUESTS);
    let duration = spec.duration.unwrap_or(Nanos(u64::MAX));
    if spec.num_requests.is_none()
        && spec.duration.is_none()
        && matches!(spec.source, WorkloadSource::Synthetic { .. })
    {
        return Err(WorkloadError::Unbounded);
    }
    let (mp, mo) = (spec.max_prompt_tokens.max(1), spec.max_output_tokens.max(1));
    let inner = match &spec.source {
        WorkloadSource::Synthetic { prompt, output, .. } if spec.sharing.per_tenant_traffic() => {
            // Each tenant its own stream, from a family of random streams of its own.
            let mut parts = Vec::with_capacity(spec.sharing.tenants.len());
            for (i, t) in spec.sharing.tenants.iter().enumerate() {
                let traffic = t.traffic.as_ref().expect("per-tenant traffic");
                let own = streams.derived(&format!("tenant:{}", t.name));
                let composer = sharing::Composer::for_tenant(spec.sharing.clone(), &own, i as u32);
                parts.push(synthetic(
                    spec,
                    &traffic.arrival,
                    traffic.prompt.as_ref().unwrap_or(prompt),
                    traffic.output.as_ref().unwrap_or(output),
                    &own,
                    Some(composer),
                )?);
            }
            let heads = parts.iter_mut().map(Iterator::next).collect();
            Inner::Tenants(Box::new(Merged {
                parts,
                heads,
                next_id: 0,
            }))
        }
        WorkloadSource::Synthetic {
            arrival,
            prompt,
            output,
        } => Inner::Synthetic(Box::new(synthetic(
            spec,
            arrival,
            prompt,
            output,
            streams,
            spec.sharing
                .is_active()
                .then(|| sharing::Composer::new(spec.sharing.clone(), streams)),
        )?)),
        WorkloadSource::Trace {
            path,
            format,
            time_scale,
        } => {
            // Scan once for malformed lines, so a bad line is an error, never a silently
            // shortened replay; then replay lazily.
            let mut scan = trace::TraceReader::open(path, *format, *time_scale, spec.lenient)?;
            scan.by_ref().for_each(drop);
            if let Some(e) = scan.error {
                return Err(WorkloadError::Trace(e));
            }
            Inner::Trace(Box::new(trace::TraceReader::open(
                path,
                *format,
                *time_scale,
                spec.lenient,
            )?))
        }
    };
    Ok(Source {
        inner,
        issued: 0,
        limit,
        duration,
        max_prompt: mp,
        max_output: mo,
        done: false,
    })
}

/// A synthetic stream of `arrival`, `prompt` and `output` from `streams`.
fn synthetic(
    spec: &WorkloadSpec,
    arrival: &ArrivalProcess,
    prompt: &LengthDist,
    output: &LengthDist,
    streams: &RngStreams,
    composer: Option<sharing::Composer>,
) -> Result<Synthetic, WorkloadError> {
    arrival.check().map_err(WorkloadError::Invalid)?;
    Ok(Synthetic {
        arrival: arrival.clone(),
        prompt: LengthSampler::new(prompt.clone()),
        output: LengthSampler::new(output.clone()),
        arrivals: streams.stream("arrivals"),
        prompts: streams.stream("prompt_lengths"),
        outputs: streams.stream("output_lengths"),
        t: 0.0,
        next_id: 0,
        composer,
        max_prompt: spec.max_prompt_tokens.max(1),
        max_output: spec.max_output_tokens.max(1),
        sessions: spec.sharing.sessions.is_some(),
        closed_loop: spec
            .sharing
            .sessions
            .as_ref()
            .is_some_and(|s| s.closed_loop),
        awaiting: Default::default(),
        pending: Default::default(),
        parked: Vec::new(),
        free_parked: Vec::new(),
    })
}

/// Tenants' own streams merged in time order (ties: the lower tenant first), numbered
/// again from 0.
struct Merged {
    parts: Vec<Synthetic>,
    /// Each stream's next request.
    heads: Vec<Option<Request>>,
    next_id: u64,
}

impl Iterator for Merged {
    type Item = Request;
    fn next(&mut self) -> Option<Request> {
        let k = (0..self.heads.len())
            .filter_map(|k| self.heads[k].as_ref().map(|r| (r.arrival, k)))
            .min()?
            .1;
        let next = self.parts[k].next();
        let mut r = std::mem::replace(&mut self.heads[k], next)?;
        r.id = self.next_id;
        self.next_id += 1;
        Some(r)
    }
}

struct Synthetic {
    arrival: ArrivalProcess,
    prompt: LengthSampler,
    output: LengthSampler,
    arrivals: StdRng,
    prompts: StdRng,
    outputs: StdRng,
    t: f64,
    next_id: u64,
    composer: Option<sharing::Composer>,
    max_prompt: u32,
    max_output: u32,
    /// Multi-turn conversations: queued turns (time, id of the turn before, parked slot).
    sessions: bool,
    /// Closed-loop conversations: the next turn waits for the answer (see
    /// [`RequestSource::ended`]); turns wait in `awaiting`, by the id of the turn before.
    closed_loop: bool,
    awaiting: std::collections::HashMap<u64, Pending>,
    pending: std::collections::BinaryHeap<Reverse<(Nanos, u64, usize)>>,
    parked: Vec<Option<Pending>>,
    free_parked: Vec<usize>,
}

/// A conversation's next turn, waiting for its time.
struct Pending {
    tenant: u32,
    /// The previous turn's segments (prompt and output).
    history: Arc<[Segment]>,
    /// Turns still to come, this one included.
    left: u32,
}

impl Synthetic {
    /// Multi-turn conversations: the arrival process starts conversations; each turn's
    /// successor is queued `think` seconds after it, and requests come out in time order.
    fn next_turn(&mut self) -> Option<Request> {
        self.composer.as_ref()?;
        loop {
            let id = self.next_id;
            let question = self.prompt.sample(&mut self.prompts);
            let (output, output_clamped) = self.draw_output();
            let c = self.composer.as_mut()?;
            let due = self.pending.peek().map(|e| e.0.0);
            let (arrival, tenant, segs, prompt, prompt_clamped, left) = match due {
                Some(at) if at.as_secs_f64() <= self.t => {
                    let Reverse((at, _, k)) = self.pending.pop().expect("peeked");
                    let p = self.parked[k].take().expect("a parked turn");
                    self.free_parked.push(k);
                    match c.next_turn(&p.history, id, question, output, self.max_prompt) {
                        Some((segs, prompt, cut)) => (at, p.tenant, segs, prompt, cut, p.left),
                        None => continue, // the conversation outgrew the context: it ends
                    }
                }
                _ => {
                    let at = Nanos::from_secs_f64(self.t);
                    let (tenant, segs, prompt, cut) =
                        c.compose(id, question, output, self.max_prompt);
                    let turns = c.session_turns().unwrap_or(1);
                    self.t = self.arrival.next_after(self.t, &mut self.arrivals);
                    (at, tenant, segs, prompt, cut, turns)
                }
            };
            let segs: Arc<[Segment]> = segs.into();
            if left > 1 && self.closed_loop {
                self.awaiting.insert(
                    id,
                    Pending {
                        tenant,
                        history: segs.clone(),
                        left: left - 1,
                    },
                );
            } else if left > 1 {
                let next = arrival + Nanos::from_secs_f64(c.think());
                let k = self.free_parked.pop().unwrap_or_else(|| {
                    self.parked.push(None);
                    self.parked.len() - 1
                });
                self.parked[k] = Some(Pending {
                    tenant,
                    history: segs.clone(),
                    left: left - 1,
                });
                self.pending.push(Reverse((next, id, k)));
            }
            self.next_id += 1;
            return Some(Request {
                id,
                arrival,
                prompt_tokens: prompt,
                output_tokens: output,
                tenant,
                prefix: Some(segs),
                clamped: Clamped {
                    prompt: prompt_clamped,
                    output: output_clamped,
                },
            });
        }
    }
}

impl Synthetic {
    /// Closed loop: the turn after `id`, `think` seconds after its end at `at`, if its
    /// conversation goes on (a refused turn ends it, as does one that outgrew the context).
    fn turn_after(&mut self, id: u64, at: Nanos, served: bool) -> Option<Request> {
        let p = self.awaiting.remove(&id)?;
        if !served {
            return None;
        }
        let next = self.next_id;
        let question = self.prompt.sample(&mut self.prompts);
        let (output, output_clamped) = self.draw_output();
        let c = self.composer.as_mut()?;
        let (segs, prompt, prompt_clamped) =
            c.next_turn(&p.history, next, question, output, self.max_prompt)?;
        let arrival = at + Nanos::from_secs_f64(c.think());
        let segs: Arc<[Segment]> = segs.into();
        if p.left > 1 {
            self.awaiting.insert(
                next,
                Pending {
                    tenant: p.tenant,
                    history: segs.clone(),
                    left: p.left - 1,
                },
            );
        }
        self.next_id += 1;
        Some(Request {
            id: next,
            arrival,
            prompt_tokens: prompt,
            output_tokens: output,
            tenant: p.tenant,
            prefix: Some(segs),
            clamped: Clamped {
                prompt: prompt_clamped,
                output: output_clamped,
            },
        })
    }

    /// An output length, clamped to `1..=max_output`, and whether it was cut.
    fn draw_output(&mut self) -> (u32, bool) {
        let drawn = self.output.sample(&mut self.outputs);
        (drawn.clamp(1, self.max_output), drawn > self.max_output)
    }
}

impl Iterator for Synthetic {
    type Item = Request;
    fn next(&mut self) -> Option<Request> {
        if self.sessions {
            return self.next_turn();
        }
        if self.next_id > 0 {
            self.t = self.arrival.next_after(self.t, &mut self.arrivals);
        } else if matches!(self.arrival, ArrivalProcess::Stages { .. }) {
            self.t = self.arrival.next_after(-1.0, &mut self.arrivals);
        }
        if !self.t.is_finite() {
            return None;
        }
        let mut r = Request {
            id: self.next_id,
            arrival: Nanos::from_secs_f64(self.t),
            prompt_tokens: self.prompt.sample(&mut self.prompts),
            ..Request::default()
        };
        // Without a composer the source clamps (and marks) both lengths as it issues them.
        (r.output_tokens, r.clamped.output) = match self.composer {
            Some(_) => self.draw_output(),
            None => (self.output.sample(&mut self.outputs), false),
        };
        if let Some(c) = &mut self.composer {
            // The drawn prompt length is the question's; shared parts come before it.
            let (tenant, segments, prompt, cut) =
                c.compose(r.id, r.prompt_tokens, r.output_tokens, self.max_prompt);
            r.tenant = tenant;
            r.prompt_tokens = prompt;
            r.prefix = Some(segments.into());
            r.clamped.prompt = cut;
        }
        self.next_id += 1;
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(prompt: LengthDist) -> WorkloadSpec {
        WorkloadSpec {
            source: WorkloadSource::Synthetic {
                arrival: ArrivalProcess::Poisson { rate: 10.0 },
                prompt,
                output: LengthDist::Fixed { value: 10 },
            },
            num_requests: Some(1000),
            duration: None,
            max_prompt_tokens: 100_000,
            max_output_tokens: 100_000,
            sharing: Sharing::default(),
            lenient: false,
            patience: None,
            timeout_s: None,
        }
    }

    #[test]
    fn arrivals_do_not_move_when_lengths_change() {
        let s = RngStreams::new(1);
        let a: Vec<Request> = requests(&spec(LengthDist::Fixed { value: 5 }), &s)
            .unwrap()
            .collect();
        let b: Vec<Request> = requests(&spec(LengthDist::Uniform { min: 1, max: 900 }), &s)
            .unwrap()
            .collect();
        assert_eq!(a.len(), 1000);
        assert!(a.iter().zip(&b).all(|(x, y)| x.arrival == y.arrival));
        assert!(
            a.iter()
                .zip(&b)
                .any(|(x, y)| x.prompt_tokens != y.prompt_tokens)
        );
        let again: Vec<Request> = requests(&spec(LengthDist::Fixed { value: 5 }), &s)
            .unwrap()
            .collect();
        assert_eq!(a, again);
    }

    #[test]
    fn a_million_requests_stream_without_a_buffer() {
        let mut sp = spec(LengthDist::Zipf {
            min: 16,
            max: 32_768,
            exponent: 1.1,
        });
        sp.num_requests = Some(1_000_000);
        let (mut n, mut last) = (0u64, Nanos::ZERO);
        for r in requests(&sp, &RngStreams::new(3)).unwrap() {
            assert_eq!(r.id, n);
            assert!(r.arrival >= last && (16..=32_768).contains(&r.prompt_tokens));
            last = r.arrival;
            n += 1;
        }
        assert_eq!(n, 1_000_000);
        // 10 requests/s: the millionth arrives near 100,000 s.
        assert!(
            (last.as_secs_f64() / 100_000.0 - 1.0).abs() < 0.01,
            "{last:?}"
        );
    }

    #[test]
    fn bad_parameters_are_errors() {
        let mut sp = spec(LengthDist::Fixed { value: 5 });
        sp.source = WorkloadSource::Synthetic {
            arrival: ArrivalProcess::Poisson { rate: 0.0 },
            prompt: LengthDist::Fixed { value: 5 },
            output: LengthDist::Fixed { value: 5 },
        };
        let e = requests(&sp, &RngStreams::new(1))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("rate 0"), "{e}");
    }

    #[test]
    fn content_ids_name_equal_tokens_equally() {
        let seg = |key, tokens| Segment { key, tokens };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        // Shared 40-token system prompt, then different questions; 16-token blocks.
        content_ids(&[seg(1, 40), seg(2, 30)], 16, 70, &mut a);
        content_ids(&[seg(1, 40), seg(3, 30)], 16, 70, &mut b);
        assert_eq!(a.len(), 4); // ⌊70 / 16⌋ full blocks
        assert_eq!(a[..2], b[..2]); // blocks 0 and 1 lie inside the system prompt
        assert_ne!(a[2], b[2]); // block 2 straddles into the question
        // The same prompt split differently into segments is different tokens: not equal.
        content_ids(&[seg(1, 32), seg(2, 38)], 16, 70, &mut b);
        assert_eq!(a[..2], b[..2]);
        assert_ne!(a[2], b[2]);
        // Blocks past the described tokens get no id.
        content_ids(&[seg(1, 20)], 16, 70, &mut b);
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn tenants_share_their_system_prompts() {
        let sharing = Sharing {
            tenants: vec![
                Tenant {
                    name: "a".into(),
                    share: 3.0,
                    system_prompt_tokens: 100,
                    system_prompts: 1,
                    traffic: None,
                },
                Tenant {
                    name: "b".into(),
                    share: 1.0,
                    system_prompt_tokens: 50,
                    system_prompts: 2,
                    traffic: None,
                },
            ],
            rag: None,
            few_shot: None,
            sessions: None,
        };
        let mut c = sharing::Composer::new(sharing, &RngStreams::new(1));
        let mut count = [0u32; 2];
        for id in 0..4000 {
            let (t, segs, prompt, _) = c.compose(id, 30, 10, 10_000);
            count[t as usize] += 1;
            let sys = if t == 0 { 100 } else { 50 };
            assert_eq!(prompt, sys + 30);
            assert_eq!(segs.iter().map(|s| s.tokens).sum::<u32>(), prompt + 10);
        }
        // 3 : 1 shares.
        assert!((count[0] as f64 / 4000.0 - 0.75).abs() < 0.03, "{count:?}");
        // Clamped prompts keep the shared prefix and cut the question.
        let (_, segs, prompt, cut) = c.compose(9, 500, 10, 120);
        assert_eq!(prompt, 120);
        assert!(
            cut,
            "a 500-token question over a 120-token limit is clamped"
        );
        assert!(segs[0].tokens >= 50);
    }

    #[test]
    fn traces_replay_through_requests() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data/traces/mooncake_conversation_trace.jsonl");
        let trace = |time_scale: f64, num_requests: Option<u64>| WorkloadSpec {
            source: WorkloadSource::Trace {
                path: path.clone(),
                format: TraceFormat::Mooncake,
                time_scale,
            },
            num_requests,
            duration: None,
            max_prompt_tokens: 1_000_000,
            max_output_tokens: 1_000_000,
            sharing: Sharing::default(),
            lenient: false,
            patience: None,
            timeout_s: None,
        };
        let s = RngStreams::new(0);
        let all: Vec<Request> = requests(&trace(1.0, None), &s).unwrap().collect();
        assert_eq!(all.len(), 12_031);
        let fast: Vec<Request> = requests(&trace(2.0, Some(100)), &s).unwrap().collect();
        assert_eq!(fast.len(), 100);
        for (a, b) in all.iter().zip(&fast) {
            assert_eq!(a.prompt_tokens, b.prompt_tokens);
            assert!(a.arrival.0.abs_diff(2 * b.arrival.0) <= 1, "{a:?} {b:?}");
        }

        let dir = std::env::temp_dir().join(format!("planner-wl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.jsonl");
        let good = r#"{"timestamp": 0, "input_length": 0, "output_length": 3, "hash_ids": []}"#;
        std::fs::write(&bad, format!("{good}\n{good}\n{{\"timestamp\": 5}}\n")).unwrap();
        let mut sp = trace(1.0, None);
        sp.source = WorkloadSource::Trace {
            path: bad.clone(),
            format: TraceFormat::Mooncake,
            time_scale: 1.0,
        };
        let e = requests(&sp, &s).err().unwrap().to_string();
        assert!(
            e.contains("bad.jsonl:3:") && e.contains("input_length"),
            "{e}"
        );
        // hash_ids must cover the input in 512-token blocks; time must not go backwards.
        let short =
            r#"{"timestamp": 1, "input_length": 1025, "output_length": 3, "hash_ids": [1, 2]}"#;
        std::fs::write(&bad, format!("{good}\n{short}\n")).unwrap();
        let e = requests(&sp, &s).err().unwrap().to_string();
        assert!(
            e.contains("bad.jsonl:2: input_length 1025 needs ⌈1025 / 512⌉ = 3 hash_ids, found 2"),
            "{e}"
        );
        let late = r#"{"timestamp": 7, "input_length": 10, "output_length": 3, "hash_ids": [1]}"#;
        let early = r#"{"timestamp": 6, "input_length": 10, "output_length": 3, "hash_ids": [1]}"#;
        std::fs::write(&bad, format!("{late}\n{early}\n")).unwrap();
        let e = requests(&sp, &s).err().unwrap().to_string();
        assert!(
            e.contains("bad.jsonl:2: this line arrives 1 ms before the line above it"),
            "{e}"
        );
        // Lenient: the bad lines are skipped and counted, the good ones replayed.
        std::fs::write(
            &bad,
            format!("{good}\n{short}\n{good}\n{{\"timestamp\": 5}}\n"),
        )
        .unwrap();
        let mut lenient = sp.clone();
        lenient.lenient = true;
        assert_eq!(requests(&lenient, &s).unwrap().count(), 2);
        let (skipped, first) = trace_skipped(&lenient).unwrap().unwrap();
        assert_eq!(skipped, 2);
        assert!(first.unwrap().contains("bad.jsonl:2: input_length 1025"));
        assert!(trace_skipped(&sp).unwrap().is_none());
        std::fs::write(&bad, format!("{good}\n")).unwrap();
        let one: Vec<Request> = requests(&sp, &s).unwrap().collect();
        assert_eq!(one[0].prompt_tokens, 1, "zero-length prompts become 1");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn duration_and_clamps() {
        let mut sp = spec(LengthDist::Fixed { value: 5000 });
        sp.num_requests = None;
        sp.duration = Some(Nanos::from_secs_f64(10.0));
        sp.max_prompt_tokens = 4096;
        let v: Vec<Request> = requests(&sp, &RngStreams::new(2)).unwrap().collect();
        assert!(
            v.iter()
                .all(|r| r.arrival < Nanos::from_secs_f64(10.0) && r.prompt_tokens == 4096)
        );
        assert!((v.len() as f64 - 100.0).abs() < 35.0, "{}", v.len());
        sp.duration = None;
        assert!(requests(&sp, &RngStreams::new(2)).is_err());
    }
}
