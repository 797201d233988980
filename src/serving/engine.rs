//! The event loop: arrivals are routed to replicas ([`super::router`]); an idle replica forms
//! a batch with its policy ([`super::batcher`]), the cost model prices it, and the
//! iteration's end emits tokens, frees blocks and finishes requests. The whole flow is the
//! one `match` in [`Simulation::run`].
//!
//! Sequences in steady decode are kept in aggregate ([`super::group`]): one step of the group
//! costs O(1) plus the members that cross a block boundary or finish, so a million-request
//! run does not touch every sequence in every iteration. Whenever someone could be cut short
//! by the token budget or preempted for blocks, the group is dissolved and every sequence is
//! handled one by one, in order; the two paths give the same results.

use super::batcher::{Batch, BatchPolicy, Env, policy};
use super::config::{EngineConfig, Router, SchedulerKind};
use super::event::{Event, IterationDone, Observer, Outcome, RequestDone};
use super::group::{advance_group, join_group};
use super::lora::LoraRun;
use super::replica::{CACHE_SLOT, Replica, cache_full_blocks, release_cached};
use super::router::RouterState;
use super::seq::{Seq, clamp_len, hash_blocks};
use super::spec::SpecRun;
use super::tenancy::{Gate, Gateway, TenantScheduling};
use crate::cost::iteration::IterationCost;
use crate::sim::{EventQueue, Nanos, RngStreams};
use crate::workload::{Patience, Request, RequestSource};
use rand::rngs::StdRng;

/// One simulation run over a stream of requests.
pub struct Simulation<'a> {
    cfg: EngineConfig,
    cost: &'a IterationCost,
    /// How each replica forms its batches.
    policy: Box<dyn BatchPolicy>,
    replicas: Vec<Replica>,
    queue: EventQueue<Event>,
    /// Requests that ended since the source last heard: (id, served).
    ended: Vec<(u64, bool)>,
    /// Requests that followed from ended ones, waiting for their arrival; free slots.
    follow_ups: Vec<Option<Request>>,
    free_follow_ups: Vec<u32>,
    router_state: RouterState,
    kv_bytes_per_token: f64,
    max_model_len: u32,
    /// Decoding sequences may be kept in aggregate (not static batching, no sliding windows,
    /// no speculation).
    grouping: bool,
    spec: Option<SpecRun<'a>>,
    /// Speculative decoding's accept/reject draws, in scheduling order.
    accept_rng: Option<StdRng>,
    /// Prefix caching is on (not with static batching, which reserves whole sequences).
    caching: bool,
    /// Scratch for block content ids.
    content: Vec<u64>,
    router: Router,
    /// Tenants' rate limits.
    gateway: Gateway,
    /// Clients' patience, drawn per request from its own stream.
    patience: Option<(Patience, RngStreams)>,
    /// LoRA adapters, if any tenant has them.
    lora: Option<LoraRun>,
    /// Clients' timeout for the whole answer.
    timeout: Option<Nanos>,
    /// Output and prompt tokens computed for requests that then timed out.
    wasted_tokens: u64,
}

impl<'a> Simulation<'a> {
    /// `replicas` identical replicas of `num_blocks` KV blocks each.
    pub fn new(
        cfg: EngineConfig,
        cost: &'a IterationCost,
        replicas: u32,
        num_blocks: u32,
        kv_bytes_per_token: f64,
        max_model_len: u32,
    ) -> Self {
        let several_tenants = cfg.tenancy.tenants.len() > 1;
        let replicas = (0..replicas)
            .map(|id| {
                let mut r = Replica::new(id, num_blocks, cfg.block_size);
                if several_tenants {
                    r.alloc.track_owners();
                }
                r.cache.set_caps(&cfg.tenancy.prefix_cache_caps(num_blocks));
                r
            })
            .collect();
        // Fair scheduling counts each tenant's decode tokens: one by one.
        let grouping = cfg.scheduler != SchedulerKind::Static
            && cost.aggregates_decodes()
            && cfg.block_size.is_power_of_two()
            && cfg.tenancy.scheduling != TenantScheduling::Fair
            && !cfg.tenancy.caps_kv_blocks();
        Simulation {
            cost,
            policy: policy(&cfg),
            replicas,
            queue: EventQueue::new(),
            ended: Vec::new(),
            follow_ups: Vec::new(),
            free_follow_ups: Vec::new(),
            router_state: RouterState::default(),
            kv_bytes_per_token,
            max_model_len,
            grouping,
            spec: None,
            accept_rng: None,
            caching: cfg.prefix_caching && cfg.scheduler != SchedulerKind::Static,
            content: Vec::new(),
            router: Router::RoundRobin,
            gateway: Gateway::new(&cfg.tenancy),
            patience: None,
            lora: None,
            timeout: None,
            wasted_tokens: 0,
            cfg,
        }
    }

    /// Spread arrivals over the replicas with `router` (default round robin).
    pub fn with_router(mut self, router: Router) -> Self {
        self.router = router;
        self
    }

    /// Decode speculatively (continuous or chunked-prefill scheduling): each decoding
    /// sequence drafts up to γ tokens, is verified over γ + 1 positions and keeps the
    /// accepted ones plus one; the rejected positions' KV is rolled back.
    pub fn with_speculation(mut self, spec: SpecRun<'a>) -> Self {
        self.grouping = false;
        self.accept_rng = Some(spec.streams.stream("spec_accept"));
        self.spec = Some(spec);
        self
    }

    /// Clients give up on requests not scheduled within their patience (drawn per request
    /// from `streams`).
    pub fn with_patience(mut self, patience: Patience, streams: RngStreams) -> Self {
        self.patience = Some((patience, streams));
        self
    }

    /// Serve tenants' requests with their LoRA adapters (each sequence is priced one by one:
    /// the kernels' cost depends on which adapters a step runs).
    pub fn with_lora(mut self, lora: LoraRun) -> Self {
        self.grouping = false;
        self.lora = Some(lora);
        self
    }

    /// The most KV blocks tenant `t`'s running sequences held at once on any replica (with
    /// KV block caps; 0 otherwise).
    pub fn tenant_kv_blocks_peak(&self, t: u32) -> u32 {
        self.replicas
            .iter()
            .map(|r| r.kv_peak.get(t as usize).copied().unwrap_or(0))
            .max()
            .unwrap_or(0)
    }

    /// Clients give up on a request not answered in full `seconds` after it was sent: it is
    /// aborted wherever it is, queued or running, at the next step, its KV freed (vLLM aborts
    /// a request whose client disconnects: `AsyncLLM.abort`, the scheduler's
    /// `finish_requests(FINISHED_ABORTED)`). Sequences are handled one by one.
    pub fn with_timeout(mut self, seconds: f64) -> Self {
        self.grouping = false;
        self.timeout = Some(Nanos::from_secs_f64(seconds));
        self
    }

    /// Prompt and output tokens computed for requests that then timed out (work thrown away).
    pub fn wasted_tokens(&self) -> u64 {
        self.wasted_tokens
    }

    /// LoRA adapters copied into GPU slots and, of those, not found in host memory, over
    /// all replicas.
    pub fn lora_loads(&self) -> (u64, u64) {
        self.replicas.iter().fold((0, 0), |(l, m), r| {
            (l + r.lora.loads, m + r.lora.host_misses)
        })
    }

    /// Handle every sequence one by one in every iteration, never in aggregate: the
    /// reference the aggregate path is tested against (same results, O(batch) per step).
    pub fn one_by_one(mut self) -> Self {
        self.grouping = false;
        self
    }

    /// KV blocks held by sequences across all replicas, not counting the prefix cache's (0
    /// after a complete run: nothing leaks).
    pub fn kv_blocks_in_use(&self) -> u64 {
        self.replicas
            .iter()
            .map(|r| {
                (r.alloc.used_blocks() - r.alloc.tokens(CACHE_SLOT) / r.alloc.block_size()) as u64
            })
            .sum()
    }

    /// Prefix cache totals over all replicas: (blocks evicted, blocks cached at the end).
    pub fn prefix_cache_stats(&self) -> (u64, u64) {
        self.replicas.iter().fold((0, 0), |(e, c), r| {
            (e + r.cache.evictions(), c + r.cache.cached_blocks() as u64)
        })
    }

    /// Cached prefix blocks tenant `t` lost to evictions for other tenants, over all replicas.
    pub fn prefix_blocks_lost_to_others(&self, t: u32) -> u64 {
        self.replicas
            .iter()
            .map(|r| r.cache.lost_to_others(t))
            .sum()
    }

    /// KV blocks handed to a tenant other than the one whose data they last held, over all
    /// replicas.
    pub fn kv_blocks_reused_across_tenants(&self) -> u64 {
        self.replicas
            .iter()
            .map(|r| r.alloc.reused_across_owners())
            .sum()
    }

    /// Requests still queued or running (0 after a complete run).
    pub fn unfinished(&self) -> usize {
        self.replicas.iter().map(Replica::load).sum()
    }

    /// Run until every request has ended; returns the time of the last event.
    pub fn run(&mut self, requests: &mut dyn RequestSource, obs: &mut dyn Observer) -> Nanos {
        // The API server's time each way: the scheduler sees a request `api_in` after the
        // client sent it; the client has a token `api_out` after it was sampled.
        let api_in = Nanos::from_secs_f64(self.cfg.api_in_s);
        let api_out = Nanos::from_secs_f64(self.cfg.api_out_s);
        let mut pending = requests.next_request();
        if let Some(r) = &pending {
            self.queue.push(r.arrival + api_in, Event::Arrival);
        }
        while let Some((now, ev)) = self.queue.pop() {
            match ev {
                Event::Arrival => {
                    let Some(req) = pending.take() else { continue };
                    self.admit(req, now, obs);
                    pending = requests.next_request();
                    if let Some(next) = &pending {
                        self.queue
                            .push((next.arrival + api_in).max(now), Event::Arrival);
                    }
                }
                Event::FollowUp(k) => {
                    let req = self.unstash(k);
                    self.admit(req, now, obs);
                }
                Event::Released(k) => {
                    let req = self.unstash(k);
                    self.route(req, now, obs);
                }
                Event::IterationDone(r) => {
                    self.complete(r, now, obs);
                    self.start_iteration(r, now, obs);
                }
            }
            // What follows from the requests that ended (closed-loop conversation turns).
            if !self.ended.is_empty() {
                let mut ended = std::mem::take(&mut self.ended);
                for &(id, served) in &ended {
                    if let Some(req) = requests.ended(id, now + api_out, served) {
                        let at = (req.arrival + api_in).max(now);
                        let k = self.stash(req);
                        self.queue.push(at, Event::FollowUp(k));
                    }
                }
                ended.clear();
                self.ended = ended;
            }
        }
        self.queue.now()
    }

    /// Keep `req` until its event: its slot.
    fn stash(&mut self, req: Request) -> u32 {
        let k = self.free_follow_ups.pop().unwrap_or_else(|| {
            self.follow_ups.push(None);
            (self.follow_ups.len() - 1) as u32
        });
        self.follow_ups[k as usize] = Some(req);
        k
    }

    /// The request kept in slot `k`.
    fn unstash(&mut self, k: u32) -> Request {
        let req = self.follow_ups[k as usize]
            .take()
            .expect("a stashed request");
        self.free_follow_ups.push(k);
        req
    }

    /// An arriving request at the gateway: its tenant's rate limits let it through now,
    /// later, or not at all.
    fn admit(&mut self, req: Request, now: Nanos, obs: &mut dyn Observer) {
        let tenancy = &self.cfg.tenancy;
        if tenancy.gates() {
            let tokens = req.prompt_tokens.saturating_add(req.output_tokens);
            match self.gateway.admit(tenancy, req.tenant, tokens, now) {
                Gate::Pass => {}
                Gate::Reject => {
                    return refuse(
                        &mut self.ended,
                        req,
                        0,
                        Outcome::RejectedRateLimit,
                        now,
                        obs,
                    );
                }
                Gate::Delay(d) => {
                    let k = self.stash(req);
                    self.queue.push(now + d, Event::Released(k));
                    return;
                }
            }
        }
        self.route(req, now, obs);
    }

    /// Route and enqueue a request.
    fn route(&mut self, req: Request, now: Nanos, obs: &mut dyn Observer) {
        let seq = self.new_seq(req, now);
        let r = self.router_state.route(self.router, &self.replicas, &seq);
        self.arrive(r, seq, now, obs);
    }

    /// A new sequence for `req`. Its block hashes are computed when it is first scheduled
    /// (so a long waiting queue holds none), or now when the router needs them.
    fn new_seq(&mut self, req: Request, now: Nanos) -> Seq {
        let mut seq = Seq::new(req, now);
        if let Some(l) = &self.lora {
            seq.lora = l.adapter_of(seq.req.tenant, seq.req.id);
        }
        if self.router == Router::PrefixAffinity {
            hash_blocks(&mut seq, self.caching, &self.cfg, &mut self.content);
        }
        if let Some(sp) = &self.spec {
            seq.draft.alpha = sp
                .acceptance
                .request_alpha(&mut sp.streams.indexed("spec_alpha", seq.req.id));
        }
        seq
    }

    fn arrive(&mut self, r: u32, seq: Seq, now: Nanos, obs: &mut dyn Observer) {
        let cfg = &self.cfg;
        let rep = &mut self.replicas[r as usize];
        let req = &seq.req;
        let need = req.prompt_tokens as u64 + req.output_tokens as u64;
        let mut capacity = rep.alloc.num_blocks() as u64 * cfg.block_size as u64;
        if cfg.kind == crate::kv::EngineKind::LlamaCpp {
            // llama-server splits its context over `-np` slots (`n_ctx_seq = n_ctx / n_seq`,
            // `tools/server/server.cpp`, b6xxx, without `--kv-unified`): a request longer
            // than one slot's share is refused, and the slots never run out of cache.
            capacity /= cfg.max_num_seqs as u64;
        }
        let tenant = cfg.tenancy.policy(req.tenant);
        // vLLM refuses a prompt + max_tokens over `max_model_len` with HTTP 400
        // (`entrypoints/openai/serving_engine.py: _validate_input`, 0.11).
        let reject = if need > capacity || need > self.max_model_len as u64 {
            Some(Outcome::RejectedTooLong)
        } else if cfg.max_queue > 0 && rep.queued() >= cfg.max_queue as usize {
            Some(Outcome::RejectedQueueFull)
        } else if let Some(max) = tenant.and_then(|p| p.max_queue)
            && rep.queued_of(req.tenant) >= max as usize
        {
            Some(Outcome::RejectedTenantQueueFull)
        } else {
            None
        };
        if let Some(outcome) = reject {
            return refuse(&mut self.ended, seq.req, r, outcome, now, obs);
        }
        if cfg.tenancy.scheduling == TenantScheduling::Fair {
            rep.vtc_arrive(seq.req.tenant);
        }
        let mut seq = seq;
        seq.deadline = deadline(cfg, &self.patience, &seq.req, now);
        if let Some(t) = self.timeout {
            seq.timeout_at = seq.req.arrival + t;
        }
        if rep.busy && cfg.async_scheduling && cfg.scheduler != SchedulerKind::Static {
            rep.incoming.push_back((now, seq));
        } else {
            rep.waiting.push_back(seq);
        }
        if !rep.busy {
            self.start_iteration(r, now, obs);
        }
    }

    /// Form a batch on an idle replica with its policy, price it, and schedule its end.
    fn start_iteration(&mut self, r: u32, now: Nanos, obs: &mut dyn Observer) {
        let max_len = self.max_model_len as u64;
        let rep = &mut self.replicas[r as usize];
        if self.timeout.is_some() {
            let cx = (self.cfg.block_size, max_len, self.caching);
            self.wasted_tokens += time_out(rep, now, cx, &mut self.ended, obs);
        }
        if self.patience.is_some() || self.cfg.max_queue_wait_s.is_some() {
            expire(rep, now, &mut self.ended, obs);
        }
        if !rep.incoming.is_empty() {
            rep.take_incoming();
        }
        rep.work.clear();
        self.cfg.tenancy.prefill_budgets(&mut rep.prefill_left);
        rep.draft_chunks.clear();
        rep.draft_contexts.clear();
        rep.prefix_lookup = 0;
        rep.prefix_hits = 0;
        rep.decodes = 0;
        rep.decode_context = 0;
        rep.extra_seconds = 0.0;
        rep.scrub_seconds = 0.0;
        rep.lora_seconds = 0.0;
        let mut batch = Batch::default();
        let mut env = Env {
            cfg: &self.cfg,
            cost: self.cost,
            kv_bytes_per_token: self.kv_bytes_per_token,
            max_len,
            aggregate: self.cost.aggregates_decodes(),
            spec: self.spec.as_ref(),
            accept_rng: self.accept_rng.as_mut(),
            caching: self.caching,
            content: &mut self.content,
            now,
            lora: self.lora.as_ref(),
        };
        self.policy.form(rep, &mut env, &mut batch);
        if self.cfg.tenancy.caps_kv_blocks() {
            let n = self.cfg.tenancy.tenants.len();
            rep.kv_peak.resize(n, 0);
            for t in 0..n {
                let held = super::batcher::tenant_blocks(rep, t as u32);
                rep.kv_peak[t] = rep.kv_peak[t].max(held);
            }
        }
        if rep.work.is_empty() && rep.decodes == 0 {
            if rep.incoming.is_empty() {
                rep.busy = false;
                return;
            }
            // Nothing to run: the scheduler takes whatever has arrived.
            rep.take_incoming_until(true);
            return self.start_iteration(r, now, obs);
        }
        let draft_seconds = match &self.spec {
            Some(sp) => sp.draft.seconds(
                self.cost,
                &rep.draft_chunks,
                &rep.draft_contexts,
                batch.draft_steps,
            ),
            None => 0.0,
        };
        let cost = self
            .cost
            .batch_cost(&rep.work, rep.decodes, rep.decode_context, batch.sampled);
        if self.cfg.scrub_freed_blocks {
            // Every block reused since the last charge (decode growth in aggregate is
            // allocated as the step before ended), charged to this step.
            let now_reused = rep.alloc.reused_across_owners();
            let reused = now_reused - rep.reused_charged;
            rep.reused_charged = now_reused;
            let bytes = reused as f64 * self.kv_bytes_per_token * self.cfg.block_size as f64;
            rep.scrub_seconds = self.cost.memset_seconds(bytes);
        }
        if let Some(l) = &self.lora {
            // The step's LoRA tokens and distinct adapters (sequences are all solo).
            let (mut tokens, batch) = (0u32, &mut rep.lora.batch);
            batch.clear();
            for &slot in &rep.solo {
                let s = &rep.seqs[slot as usize];
                if s.scheduled > 0 && s.lora != 0 {
                    tokens += s.scheduled;
                    if !batch.contains(&s.lora) {
                        batch.push(s.lora);
                    }
                }
            }
            rep.lora_seconds += self.cost.lora_seconds(
                &l.shapes,
                crate::cost::lora::LoraKernels::of(self.cfg.kind),
                tokens,
                batch.len() as u32,
                l.engine.max_lora_rank,
            );
        }
        let seconds =
            cost.seconds + draft_seconds + rep.extra_seconds + rep.scrub_seconds + rep.lora_seconds;
        let duration = Nanos::from_secs_f64(seconds).max(Nanos(1));
        rep.busy = true;
        rep.started = now;
        let g = &rep.group;
        let batch_size = g.members
            + rep
                .solo
                .iter()
                .map(|&slot| u32::from(rep.seqs[slot as usize].scheduled > 0))
                .sum::<u32>();
        // Members hold one token more than `held` once this step's appends are counted.
        let lag = g.held + g.members as u64 - g.recorded;
        obs.iteration(&IterationDone {
            start: now,
            duration,
            replica: rep.id,
            batch_size,
            prefill_tokens: batch.prefill_tokens,
            decode_tokens: batch.decode_tokens,
            // Cached blocks nobody uses are reclaimable: not in use (as vLLM counts them).
            kv_blocks_used: rep.alloc.used_blocks() - rep.cache.evictable_blocks(),
            kv_fragmentation_tokens: rep.alloc.internal_fragmentation_tokens() - lag,
            contiguous_waste_tokens: rep.running.len() as u64 * max_len - rep.len_sum,
            preemptions: batch.preemptions,
            prefix_lookup_tokens: rep.prefix_lookup,
            prefix_hit_tokens: rep.prefix_hits,
            waiting: rep.queued() as u32,
            spec_drafted: batch.spec_drafted,
            spec_accepted: batch.spec_accepted,
            spec_verified: batch.spec_verified,
            cost,
            draft_s: draft_seconds,
            swap_s: rep.extra_seconds,
            scrub_s: rep.scrub_seconds,
            lora_s: rep.lora_seconds,
        });
        self.queue.push(now + duration, Event::IterationDone(r));
    }

    /// Apply an iteration's results: emit tokens, finish requests, free their blocks.
    fn complete(&mut self, r: u32, now: Nanos, obs: &mut dyn Observer) {
        let is_static = self.cfg.scheduler == SchedulerKind::Static;
        let max_len = self.max_model_len as u64;
        let grouping = self.grouping;
        let api_out = Nanos::from_secs_f64(self.cfg.api_out_s);
        let bs = self.cfg.block_size;
        let rep = &mut self.replicas[r as usize];
        // Sequences that also emitted at the end of the previous iteration share its gap.
        let common_gap = now.saturating_sub(rep.started);
        let mut common = 0u32;
        rep.done.clear();
        rep.joiners.clear();
        for i in 0..rep.solo.len() {
            let slot = rep.solo[i];
            let s = &mut rep.seqs[slot as usize];
            if s.scheduled == 0 || s.done {
                s.scheduled = 0;
                continue;
            }
            let was_prefilling = s.prefilled < s.prefill_target;
            if was_prefilling {
                s.prefilled += s.scheduled;
            }
            let prefill_done = was_prefilling && s.prefilled == s.prefill_target;
            let emits = !was_prefilling || prefill_done;
            s.scheduled = 0;
            if !emits {
                continue;
            }
            // The prompt's full blocks go into the prefix cache (a block another sequence
            // cached meanwhile is used from there and this copy freed).
            if prefill_done && let Some(h) = s.cached.hashes.clone() {
                let upto = ((s.prefill_target / bs) as usize).min(h.len());
                let from = ((s.cached.shared / bs) as usize).min(upto);
                let new = rep.cache.insert_by(&h[..upto], from, s.req.tenant) as u32;
                let moved = (upto - from) as u32 * bs;
                rep.alloc.truncate(slot, moved);
                let _ = rep.alloc.append(CACHE_SLOT, new * bs);
                s.cached.shared += moved;
            }
            // A verified speculative step keeps the accepted draft tokens plus one, and rolls
            // the rejected positions' KV back.
            let mut gained = 1;
            if s.draft.drafted > 0 {
                gained += s.draft.accepted;
                rep.alloc.truncate(slot, s.draft.drafted - s.draft.accepted);
                s.draft.drafted = 0;
                s.draft.accepted = 0;
            }
            let before = clamp_len(s, max_len);
            s.generated += gained.min(s.req.output_tokens - s.generated);
            rep.len_sum += clamp_len(s, max_len) - before;
            match s.first_token {
                None => s.first_token = Some(now),
                Some(_) => {
                    let gap = now.saturating_sub(s.last_token);
                    if gap == common_gap {
                        common += 1;
                    } else {
                        obs.inter_token(gap, 1);
                    }
                }
            }
            s.last_token = now;
            if s.generated >= s.req.output_tokens {
                s.done = true;
                if !is_static {
                    rep.done.push((s.stamp, slot));
                }
            } else if grouping && s.req.prompt_tokens as u64 + s.req.output_tokens as u64 <= max_len
            {
                rep.joiners.push(slot);
            }
        }
        common += advance_group(rep, now);
        if common > 0 {
            obs.inter_token(common_gap, common);
        }
        // Finished sequences leave (static batching: only when the whole batch is done),
        // reported in order of entry.
        if is_static && !rep.running.is_empty() {
            if rep.running.iter().all(|&slot| rep.seqs[slot as usize].done) {
                let seqs = &rep.seqs;
                rep.done.extend(
                    rep.running
                        .iter()
                        .map(|&slot| (seqs[slot as usize].stamp, slot)),
                );
            }
        } else {
            rep.done.sort_unstable();
        }
        release_finished(rep, now, (bs, max_len, api_out), &mut self.ended, obs);
        // Solo sequences that just emitted a decode token join the group.
        if !rep.joiners.is_empty() {
            for i in 0..rep.joiners.len() {
                let slot = rep.joiners[i];
                join_group(rep, slot);
            }
            let seqs = &rep.seqs;
            rep.solo.retain(|&slot| !seqs[slot as usize].join.member);
            rep.group.last_emit = now;
        }
        rep.busy = false;
    }
}

/// When `req`, reaching the scheduler at `now`, leaves unless scheduled: the earlier of its
/// client's patience and the server's queue timeout, with the outcome that follows.
fn deadline(
    cfg: &EngineConfig,
    patience: &Option<(Patience, RngStreams)>,
    req: &Request,
    now: Nanos,
) -> Option<(Nanos, Outcome)> {
    let client = patience.as_ref().map(|(p, streams)| {
        let wait = p.draw(&mut streams.indexed("patience", req.id));
        // Its patience runs from when it was sent.
        (req.arrival + Nanos::from_secs_f64(wait), Outcome::Cancelled)
    });
    let server = cfg
        .max_queue_wait_s
        .map(|w| (now + Nanos::from_secs_f64(w), Outcome::RejectedQueueTimeout));
    match (client, server) {
        (Some(c), Some(s)) => Some(if c.0 <= s.0 { c } else { s }),
        (c, s) => c.or(s),
    }
}

/// Requests never scheduled whose deadline has passed leave the queues, reported at their
/// deadline.
fn expire(rep: &mut Replica, now: Nanos, ended: &mut Vec<(u64, bool)>, obs: &mut dyn Observer) {
    let due = |s: &Seq| s.first_scheduled.is_none() && s.deadline.is_some_and(|(at, _)| at <= now);
    let mut gone: Vec<Seq> = Vec::new();
    let mut keep = std::collections::VecDeque::with_capacity(rep.waiting.len());
    for s in rep.waiting.drain(..) {
        if due(&s) {
            gone.push(s)
        } else {
            keep.push_back(s)
        }
    }
    rep.waiting = keep;
    let mut keep = std::collections::VecDeque::with_capacity(rep.incoming.len());
    for (t, s) in rep.incoming.drain(..) {
        if due(&s) {
            gone.push(s)
        } else {
            keep.push_back((t, s))
        }
    }
    rep.incoming = keep;
    for s in gone {
        let (at, outcome) = s.deadline.expect("due");
        refuse(ended, s.req, rep.id, outcome, at, obs);
    }
}

/// Requests whose client has given up on them (`timeout_at` passed) leave wherever they
/// are: queued ones as refused, running and swapped ones aborted — their blocks freed, the
/// full blocks they computed kept in the prefix cache (vLLM frees an aborted request's blocks
/// with their hashes) — all reported at the time the client left. Returns the prompt and
/// output tokens the aborted ones had computed; (block size, model length limit, caching).
fn time_out(
    rep: &mut Replica,
    now: Nanos,
    (bs, max_len, caching): (u32, u64, bool),
    ended: &mut Vec<(u64, bool)>,
    obs: &mut dyn Observer,
) -> u64 {
    let due = |s: &Seq| s.timeout_at <= now;
    let mut wasted = 0;
    let mut gone: Vec<Seq> = Vec::new();
    for q in [&mut rep.waiting, &mut rep.swapped] {
        if q.iter().any(due) {
            let (out, keep): (Vec<Seq>, Vec<Seq>) = q.drain(..).partition(|s| due(s));
            gone.extend(out);
            q.extend(keep);
        }
    }
    if rep.incoming.iter().any(|(_, s)| due(s)) {
        let (out, keep): (Vec<_>, Vec<_>) = rep.incoming.drain(..).partition(|(_, s)| due(s));
        gone.extend(out.into_iter().map(|(_, s)| s));
        rep.incoming.extend(keep);
    }
    debug_assert_eq!(rep.group.members, 0, "timeouts price sequences one by one");
    let aborted: Vec<u32> = rep
        .solo
        .iter()
        .copied()
        .filter(|&slot| due(&rep.seqs[slot as usize]))
        .collect();
    for &slot in &aborted {
        let mut s = rep.seqs[slot as usize].clone();
        let held = s.cached.shared + rep.alloc.tokens(slot);
        rep.alloc.free(slot);
        if caching {
            cache_full_blocks(&mut rep.cache, &mut rep.alloc, &mut s, held);
        }
        release_cached(&mut rep.cache, &mut s, bs);
        rep.free_slots.push(slot);
        rep.len_sum -= clamp_len(&s, max_len);
        rep.seqs[slot as usize].done = true;
        gone.push(s);
    }
    if !aborted.is_empty() {
        let seqs = &rep.seqs;
        rep.running.retain(|&slot| !seqs[slot as usize].done);
        rep.solo.retain(|&slot| !seqs[slot as usize].done);
    }
    for s in gone {
        wasted += u64::from(s.prefilled) + u64::from(s.generated);
        let at = s.timeout_at;
        ended.push((s.req.id, false));
        obs.request(&RequestDone {
            req: s.req,
            replica: rep.id,
            outcome: Outcome::TimedOut,
            first_scheduled: s.first_scheduled.unwrap_or(at),
            first_token: s.first_token.unwrap_or(at),
            last_token: at,
            preemptions: s.preemptions,
            cached_tokens: s.cached.first_hits.unwrap_or(0),
        });
    }
    wasted
}

/// Report `req` refused at `now` with `outcome` (ended, not served).
fn refuse(
    ended: &mut Vec<(u64, bool)>,
    req: Request,
    replica: u32,
    outcome: Outcome,
    now: Nanos,
    obs: &mut dyn Observer,
) {
    ended.push((req.id, false));
    obs.request(&RequestDone {
        req,
        replica,
        outcome,
        first_scheduled: now,
        first_token: now,
        last_token: now,
        preemptions: 0,
        cached_tokens: 0,
    });
}

/// The sequences of `rep.done` leave: their blocks freed (their full blocks cached when
/// prefix caching is on), each reported ended with its tokens' times at the client; (block
/// size, model length limit, API server time out).
fn release_finished(
    rep: &mut Replica,
    now: Nanos,
    (bs, max_len, api_out): (u32, u64, Nanos),
    ended: &mut Vec<(u64, bool)>,
    obs: &mut dyn Observer,
) {
    if rep.done.is_empty() {
        return;
    }
    for &(_, slot) in &rep.done {
        let s = &mut rep.seqs[slot as usize];
        rep.alloc.free(slot);
        // Its full blocks beyond the prompt's (the answer: the next turn of a
        // conversation starts with it) join the cache too, as vLLM caches every full
        // block. It holds KV for all its tokens but the last one generated.
        let held = s.req.prompt_tokens + s.req.output_tokens - 1;
        cache_full_blocks(&mut rep.cache, &mut rep.alloc, s, held);
        release_cached(&mut rep.cache, s, bs);
        rep.free_slots.push(slot);
        rep.len_sum -= clamp_len(s, max_len);
        ended.push((s.req.id, true));
        obs.request(&RequestDone {
            req: s.req.clone(),
            replica: rep.id,
            outcome: Outcome::Finished,
            first_scheduled: s.first_scheduled.unwrap_or(s.req.arrival),
            first_token: s.first_token.unwrap_or(now) + api_out,
            last_token: s.last_token + api_out,
            preemptions: s.preemptions,
            cached_tokens: s.cached.first_hits.unwrap_or(0),
        });
    }
    let seqs = &rep.seqs;
    rep.running.retain(|&slot| !seqs[slot as usize].done);
    rep.solo.retain(|&slot| !seqs[slot as usize].done);
}
