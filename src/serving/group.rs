//! The decode group: running sequences in steady decode, kept in aggregate.

use super::replica::{Replica, reclaim};
use super::seq::Seq;
use crate::kv::paged::BlockAllocator;
use crate::sim::Nanos;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The decode group: running sequences in steady decode, kept in aggregate so that a step
/// costs O(1) plus O(sequences that cross a block boundary or finish), not O(batch).
///
/// A member that joined at group step `j` holding `h` KV tokens after generating `g`, holds
/// `h + (step − j)` and has generated `g + (step − j)` now; it needs a new block in the step
/// where `h + step − j ≡ 0 (mod block_size)`, so members are bucketed by
/// `(h − j) mod block_size`, and it finishes at step `j + output − g` (a min-heap). The
/// allocator is told about a member's tokens only when it takes a block (so the block count is
/// exact and its token count lags by less than a block) or leaves the group.
#[derive(Debug, Default)]
pub struct Group {
    pub step: u64,
    pub members: u32,
    /// Σ KV tokens members hold (exact).
    pub held: u64,
    /// Σ KV tokens the allocator has recorded for members (lags `held`).
    pub recorded: u64,
    /// Σ tokens members hold in cached (shared) blocks, outside the allocator's slots.
    pub shared: u64,
    pub buckets: Vec<Vec<u32>>,
    /// (step at which it has generated its last token, stamp, slot).
    pub finish: BinaryHeap<Reverse<(u64, u64, u32)>>,
    /// The group advances in the iteration under way.
    pub scheduled: bool,
    /// When members last emitted a token.
    pub last_emit: Nanos,
}

/// Whether the group and every solo sequence fit whole in `budget` tokens and the free
/// blocks, so that the group can step in aggregate.
pub fn group_fits(rep: &Replica, budget: u32) -> bool {
    let g = &rep.group;
    let mask = rep.alloc.block_size() as u64 - 1;
    let mut tokens = g.members as u64;
    let mut blocks = g.buckets[(g.step.wrapping_neg() & mask) as usize].len() as u64;
    for &slot in &rep.solo {
        let s = &rep.seqs[slot as usize];
        let need = (s.prefill_target - s.prefilled).max(1);
        tokens += need as u64;
        blocks += rep.alloc.blocks_needed(rep.alloc.tokens(slot), need) as u64;
    }
    tokens <= budget as u64
        && blocks <= rep.alloc.free_blocks() as u64 + rep.cache.evictable_blocks() as u64
}

/// Append this step's token for the members that cross into a new block (the others' tokens
/// fit in blocks they hold). `group_fits` has checked the blocks are there.
pub fn step_group(rep: &mut Replica) {
    let g = &mut rep.group;
    g.scheduled = true;
    let mask = rep.alloc.block_size() as u64 - 1;
    let key = (g.step.wrapping_neg() & mask) as usize;
    // One block each, reclaimed for its own tenant (the evictions are counted per tenant).
    for k in 0..g.buckets[key].len() {
        let slot = rep.group.buckets[key][k];
        let s = &rep.seqs[slot as usize];
        let tenant = s.req.tenant;
        let held = s.join.held as u64 + (rep.group.step - s.join.step);
        let add = (held + 1 - rep.alloc.tokens(slot) as u64) as u32;
        let reclaimed = reclaim(rep, 1, tenant);
        debug_assert!(reclaimed, "group_fits checked the blocks");
        let appended = rep.alloc.append(slot, add);
        debug_assert!(appended.is_ok(), "group_fits checked the free blocks");
        rep.group.recorded += add as u64;
    }
}

pub fn join_group(rep: &mut Replica, slot: u32) {
    let g = &mut rep.group;
    let s = &mut rep.seqs[slot as usize];
    let held = rep.alloc.tokens(slot);
    s.join.member = true;
    s.join.step = g.step;
    s.join.generated = s.generated;
    s.join.held = held;
    let mask = rep.alloc.block_size() as u64 - 1;
    g.buckets[((held as u64).wrapping_sub(g.step) & mask) as usize].push(slot);
    let last = g.step + (s.req.output_tokens - s.generated) as u64;
    g.finish.push(Reverse((last, s.stamp, slot)));
    g.members += 1;
    g.held += held as u64;
    g.recorded += held as u64;
    g.shared += s.cached.shared as u64;
}

/// Take a member out of the group, bringing its own fields up to date (the allocator's
/// record of its tokens may still lag; the caller frees or syncs it).
pub fn leave_group(g: &mut Group, s: &mut Seq, alloc: &BlockAllocator, block_size: u32) {
    let advanced = g.step - s.join.step;
    let held = s.join.held as u64 + advanced;
    s.generated = s.join.generated + advanced as u32;
    s.last_token = g.last_emit;
    s.join.member = false;
    let mask = block_size as u64 - 1;
    let bucket = &mut g.buckets[((s.join.held as u64).wrapping_sub(s.join.step) & mask) as usize];
    if let Some(p) = bucket.iter().position(|&x| x == s.slot) {
        bucket.swap_remove(p);
    }
    g.members -= 1;
    g.held -= held;
    g.recorded -= alloc.tokens(s.slot) as u64;
    g.shared -= s.cached.shared as u64;
}

/// Hand every member back to one-by-one handling (before a step in which someone may be cut
/// short or preempted), with its tokens written to the allocator.
pub fn dissolve_group(rep: &mut Replica) {
    let g = &mut rep.group;
    for &slot in &rep.running {
        let s = &mut rep.seqs[slot as usize];
        if !s.join.member {
            continue;
        }
        let held = s.join.held + (g.step - s.join.step) as u32;
        // Within the last block it holds: no new block.
        let synced = rep.alloc.append(slot, held - rep.alloc.tokens(slot));
        debug_assert!(synced.is_ok());
        s.generated = s.join.generated + (g.step - s.join.step) as u32;
        s.last_token = g.last_emit;
        s.join.member = false;
    }
    for b in &mut g.buckets {
        b.clear();
    }
    g.finish.clear();
    g.members = 0;
    g.held = 0;
    g.recorded = 0;
    g.shared = 0;
    rep.solo.clear();
    rep.solo.extend_from_slice(&rep.running);
}

/// End a group step (if the group stepped in the iteration that ended `now`): every member
/// emitted a token; those that reached their output leave, marked done and queued in
/// `rep.done`. Returns the tokens emitted.
pub fn advance_group(rep: &mut Replica, now: Nanos) -> u32 {
    let g = &mut rep.group;
    if !g.scheduled {
        return 0;
    }
    g.scheduled = false;
    g.step += 1;
    g.held += g.members as u64;
    g.last_emit = now;
    rep.len_sum += g.members as u64;
    let emitted = g.members;
    while let Some(&Reverse((step, stamp, slot))) = g.finish.peek() {
        debug_assert!(step >= g.step, "a member outlived its output");
        if step != g.step {
            break;
        }
        g.finish.pop();
        leave_group(
            g,
            &mut rep.seqs[slot as usize],
            &rep.alloc,
            rep.alloc.block_size(),
        );
        rep.seqs[slot as usize].done = true;
        rep.done.push((stamp, slot));
    }
    emitted
}
