//! Static batching (the pre-Orca baseline): a batch of up to `max_num_seqs` requests, each
//! with its whole prompt and output reserved up front, runs to completion (finished members
//! decode as padding) before the next batch is admitted.

use super::{Batch, BatchPolicy, Env};
use crate::serving::replica::{Replica, enter, push_work, take_slot};

/// Static batching.
#[derive(Debug, Clone, Copy, Default)]
pub struct StaticBatch;

impl BatchPolicy for StaticBatch {
    fn form(&self, rep: &mut Replica, env: &mut Env, batch: &mut Batch) {
        if rep.running.is_empty() {
            // Admit a batch whose whole prompts and outputs fit, reserved up front.
            while rep.running.len() < env.cfg.max_num_seqs as usize {
                let Some(s) = rep.waiting.front() else { break };
                let slot = rep.free_slots.last().copied().unwrap_or(rep.next_slot);
                if !rep
                    .alloc
                    .can_append(slot, s.req.prompt_tokens + s.req.output_tokens)
                {
                    break;
                }
                let mut s = rep.waiting.pop_front().expect("front exists");
                let slot = take_slot(rep, s.req.tenant);
                // Reservation: the full length; the reservation is the static baseline's cost.
                let _ = rep
                    .alloc
                    .append(slot, s.req.prompt_tokens + s.req.output_tokens);
                s.first_scheduled = Some(env.now);
                s.scheduled = s.prefill_target;
                push_work(rep, env.aggregate, 0, s.prefill_target);
                batch.prefill_tokens += s.prefill_target;
                batch.sampled += 1;
                enter(rep, s, slot, env.max_len);
            }
        } else {
            // Every member decodes (finished ones as padding) until the longest ends.
            for i in 0..rep.solo.len() {
                let s = &mut rep.seqs[rep.solo[i] as usize];
                s.scheduled = 1;
                let ctx = s.req.prompt_tokens + s.generated.saturating_sub(1);
                push_work(rep, env.aggregate, ctx, 1);
                batch.decode_tokens += 1;
                batch.sampled += 1;
            }
        }
    }
}
