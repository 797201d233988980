//! Prefix-sharing structure of synthetic workloads: tenants with their own system prompts
//! and share of the traffic, few-shot templates, and retrieval-augmented prompts over a
//! document corpus with Zipf popularity. A prompt is
//!
//! ```text
//! [tenant's system prompt] [few-shot template] [k retrieved documents] [the question]
//! ```
//!
//! described as token [`Segment`]s (no token ids are stored): equal segments, equal tokens.
//! The question (its length drawn from `workload.prompt`) and the output are unique to the
//! request. A document's length is fixed per document (drawn once from its own seeded
//! stream), so every request retrieving it carries the same tokens.

use super::{LengthDist, LengthSampler, Segment};
use crate::hash::mix64 as mix;
use crate::sim::RngStreams;
use rand::RngExt;
use rand::rngs::StdRng;

/// One tenant of a multi-tenant service.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    /// Name in reports.
    pub name: String,
    /// Share of the requests (normalized over tenants).
    pub share: f64,
    /// Tokens of each of its system prompts (0: none).
    pub system_prompt_tokens: u32,
    /// How many distinct system prompts it uses, picked uniformly per request.
    pub system_prompts: u32,
    /// Traffic of its own (its arrival process, and lengths where they differ from the
    /// workload's): every tenant then sends its own stream, merged in time order, and
    /// `share` is unused. `None`: the tenant is drawn per request by `share`.
    pub traffic: Option<TenantTraffic>,
}

/// A tenant's own traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantTraffic {
    /// When its requests arrive.
    pub arrival: super::ArrivalProcess,
    /// Its question lengths (`None`: the workload's `prompt`).
    pub prompt: Option<LengthDist>,
    /// Its output lengths (`None`: the workload's `output`).
    pub output: Option<LengthDist>,
}

/// Random draws per wanted document before the rest are taken by rank (see `prompt`).
const RAG_DRAWS_PER_DOCUMENT: usize = 64;

/// Retrieval-augmented prompts.
#[derive(Debug, Clone, PartialEq)]
pub struct Rag {
    /// Documents in the corpus.
    pub documents: u32,
    /// Zipf exponent of document popularity (rank r is retrieved ∝ r^−s).
    pub zipf: f64,
    /// Distinct documents per request.
    pub per_request: u32,
    /// Document lengths.
    pub document_tokens: LengthDist,
}

/// Few-shot prompt templates shared by all tenants' requests.
#[derive(Debug, Clone, PartialEq)]
pub struct FewShot {
    /// Distinct templates, picked uniformly.
    pub templates: u32,
    /// Tokens per template.
    pub template_tokens: u32,
}

/// Multi-turn conversations: each turn's prompt is the whole conversation so far (the
/// first prompt, then every answer and question) plus a new question.
#[derive(Debug, Clone, PartialEq)]
pub struct Sessions {
    /// Turns per conversation.
    pub turns: LengthDist,
    /// Mean seconds of the user's reading and typing between turns (exponential).
    pub think_time_s: f64,
    /// Closed loop (the default): a turn comes a think time after the previous turn's answer
    /// has ended, as a person waits for the answer. Open loop: a think time after the
    /// previous turn *arrived*, whether or not it has been answered (the think time then
    /// stands for generation, reading and typing together).
    pub closed_loop: bool,
}

/// How a synthetic workload's prompts share prefixes (default: not at all).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sharing {
    /// Tenants (empty: one anonymous tenant, no system prompt).
    pub tenants: Vec<Tenant>,
    /// Retrieved documents, if any.
    pub rag: Option<Rag>,
    /// Few-shot templates, if any.
    pub few_shot: Option<FewShot>,
    /// Multi-turn conversations, if any (the arrival process then starts conversations).
    pub sessions: Option<Sessions>,
}

impl Sharing {
    /// Whether every tenant sends traffic of its own (see [`Tenant::traffic`]).
    pub fn per_tenant_traffic(&self) -> bool {
        !self.tenants.is_empty() && self.tenants.iter().all(|t| t.traffic.is_some())
    }

    /// Whether prompts share anything at all.
    pub fn is_active(&self) -> bool {
        !self.tenants.is_empty()
            || self.rag.is_some()
            || self.few_shot.is_some()
            || self.sessions.is_some()
    }
}

/// Segment keys are tagged by kind so a document never collides with a system prompt.
const SYSTEM: u64 = 0x5359_5354_454d_0000;
const TEMPLATE: u64 = 0x5445_4d50_4c00_0000;
const DOCUMENT: u64 = 0x444f_4300_0000_0000;
const QUESTION: u64 = 0x5155_4553_5400_0000;
const OUTPUT: u64 = 0x4f55_5450_5554_0000;

/// Draws each request's tenant and prompt segments.
pub struct Composer {
    sharing: Sharing,
    cumulative: Vec<f64>,
    docs: Option<LengthSampler>,
    doc_lengths: Option<LengthSampler>,
    /// Lengths of the documents drawn so far (each is drawn once, from its own stream).
    doc_length_memo: std::collections::HashMap<u32, u32>,
    turns: Option<LengthSampler>,
    streams: RngStreams,
    rng: StdRng,
    /// Every request is this tenant's (one tenant's own stream).
    fixed: Option<u32>,
}

impl Composer {
    /// A composer drawing from its own streams of `streams`.
    pub fn new(sharing: Sharing, streams: &RngStreams) -> Composer {
        let total: f64 = sharing.tenants.iter().map(|t| t.share).sum();
        let mut acc = 0.0;
        let cumulative = sharing
            .tenants
            .iter()
            .map(|t| {
                acc += t.share / total;
                acc
            })
            .collect();
        let docs = sharing.rag.as_ref().map(|r| {
            LengthSampler::new(LengthDist::Zipf {
                min: 1,
                max: r.documents,
                exponent: r.zipf,
            })
        });
        let doc_lengths = sharing
            .rag
            .as_ref()
            .map(|r| LengthSampler::new(r.document_tokens.clone()));
        let turns = sharing
            .sessions
            .as_ref()
            .map(|s| LengthSampler::new(s.turns.clone()));
        Composer {
            sharing,
            turns,
            cumulative,
            docs,
            doc_lengths,
            doc_length_memo: std::collections::HashMap::new(),
            streams: *streams,
            rng: streams.stream("prompt_sharing"),
            fixed: None,
        }
    }

    /// A composer whose every request is tenant `tenant`'s (that tenant's own stream).
    pub fn for_tenant(sharing: Sharing, streams: &RngStreams, tenant: u32) -> Composer {
        Composer {
            fixed: Some(tenant),
            ..Composer::new(sharing, streams)
        }
    }

    /// The tenant and segments of request `id` whose question has `question` tokens and
    /// whose output has `output`; the prompt length is the segments' sum up to the output,
    /// clamped to `max_prompt` (the question shrinks first, then what precedes it), and
    /// whether it was.
    pub fn compose(
        &mut self,
        id: u64,
        question: u32,
        output: u32,
        max_prompt: u32,
    ) -> (u32, Vec<Segment>, u32, bool) {
        let mut segs = Vec::with_capacity(8);
        let mut tenant = 0u32;
        if !self.cumulative.is_empty() {
            tenant = match self.fixed {
                Some(t) => t,
                None => {
                    let u: f64 = self.rng.random();
                    self.cumulative
                        .iter()
                        .position(|&c| u < c)
                        .unwrap_or(self.cumulative.len() - 1) as u32
                }
            };
            let t = &self.sharing.tenants[tenant as usize];
            if t.system_prompt_tokens > 0 {
                let which = self.rng.random_range(0..t.system_prompts.max(1)) as u64;
                segs.push(Segment {
                    key: mix(SYSTEM ^ ((tenant as u64) << 20) ^ which),
                    tokens: t.system_prompt_tokens,
                });
            }
        }
        if let Some(f) = &self.sharing.few_shot {
            let which = self.rng.random_range(0..f.templates.max(1)) as u64;
            segs.push(Segment {
                key: mix(TEMPLATE ^ which),
                tokens: f.template_tokens,
            });
        }
        if let (Some(r), Some(docs), Some(lengths)) =
            (&self.sharing.rag, &self.docs, &self.doc_lengths)
        {
            let mut picked: Vec<u32> = Vec::with_capacity(r.per_request as usize);
            let want = r.per_request.min(r.documents) as usize;
            // Distinct documents by popularity; when the popularity is so concentrated that
            // draws keep repeating (a steep Zipf, or nearly every document wanted), the rest
            // are the most popular ones not yet picked.
            let mut draws = 0;
            while picked.len() < want {
                let d = if draws < RAG_DRAWS_PER_DOCUMENT * want {
                    draws += 1;
                    docs.sample(&mut self.rng)
                } else {
                    (1..=r.documents)
                        .find(|d| !picked.contains(d))
                        .expect("want ≤ documents")
                };
                if !picked.contains(&d) {
                    picked.push(d);
                }
            }
            for d in picked {
                let streams = &self.streams;
                let len = *self.doc_length_memo.entry(d).or_insert_with(|| {
                    lengths.sample(&mut streams.indexed("document_length", d as u64))
                });
                segs.push(Segment {
                    key: mix(DOCUMENT ^ d as u64),
                    tokens: len,
                });
            }
        }
        let (segs, prompt, clamped) = self.finish(segs, id, question, output, max_prompt);
        (tenant, segs, prompt, clamped)
    }

    /// The next turn of a conversation whose last request's segments (prompt and output)
    /// are `history`: `(segments, prompt tokens, clamped)`; `None` when the history alone
    /// fills `max_prompt` (the conversation ends there).
    pub fn next_turn(
        &mut self,
        history: &[Segment],
        id: u64,
        question: u32,
        output: u32,
        max_prompt: u32,
    ) -> Option<(Vec<Segment>, u32, bool)> {
        let past: u64 = history.iter().map(|s| s.tokens as u64).sum();
        if past + 1 >= max_prompt as u64 {
            return None;
        }
        Some(self.finish(history.to_vec(), id, question, output, max_prompt))
    }

    /// Append the question and the output to `segs`, clamping the prompt to `max_prompt`:
    /// `(segments, prompt tokens, whether the prompt was clamped)`.
    fn finish(
        &mut self,
        mut segs: Vec<Segment>,
        id: u64,
        question: u32,
        output: u32,
        max_prompt: u32,
    ) -> (Vec<Segment>, u32, bool) {
        segs.push(Segment {
            key: mix(QUESTION ^ id),
            tokens: question,
        });
        // Clamp the prompt: cut from the end (question first).
        let mut total: u64 = segs.iter().map(|s| s.tokens as u64).sum();
        let clamped = total > max_prompt as u64;
        while total > max_prompt as u64 {
            let last = segs.last_mut().expect("the question segment");
            let cut = (total - max_prompt as u64).min(last.tokens as u64) as u32;
            last.tokens -= cut;
            total -= cut as u64;
            if last.tokens == 0 && segs.len() > 1 {
                segs.pop();
            }
        }
        let prompt = (total as u32).max(1);
        segs.push(Segment {
            key: mix(OUTPUT ^ id),
            tokens: output,
        });
        (segs, prompt, clamped)
    }

    /// Turns of a new conversation (at least 1), or `None` without sessions.
    pub fn session_turns(&mut self) -> Option<u32> {
        Some(self.turns.as_ref()?.sample(&mut self.rng).max(1))
    }

    /// Seconds from a turn's arrival to the next: exponential around the mean think time.
    pub fn think(&mut self) -> f64 {
        let mean = self
            .sharing
            .sessions
            .as_ref()
            .map_or(0.0, |s| s.think_time_s);
        let u: f64 = 1.0 - self.rng.random::<f64>();
        -u.ln() * mean
    }
}
