//! The paged KV block allocator (vLLM's block manager, PagedAttention): KV lives in
//! fixed-size blocks of `block_size` tokens from one pool, mapped by a block table per
//! sequence. Waste is at most one partly filled block per sequence
//! ([`BlockAllocator::internal_fragmentation_tokens`]), against the contiguous max-length
//! reservation that wastes most of it.
//!
//! Built for the simulator's hot path: no per-token storage and no hashing. Sequences are
//! addressed by a dense [`SeqSlot`] index into `Vec`s; free blocks sit on a `Vec` stack
//! (LIFO reuse), so allocating or freeing a block is O(1), and fragmentation is kept as a
//! running total. When an append does not fit, [`OutOfBlocks`] says so and nothing changes;
//! deciding whom to preempt is the scheduler's business, not this module's.

/// Index of a sequence slot in the allocator (the simulator assigns them; reuse after free).
pub type SeqSlot = u32;

/// An append needed more blocks than were free; the allocator was left unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("needs {needed} KV blocks, {free} free")]
pub struct OutOfBlocks {
    /// New blocks the append needed (after filling the sequence's last partial block).
    pub needed: u32,
    /// Blocks free at the time.
    pub free: u32,
}

/// A pool of `num_blocks` KV blocks of `block_size` tokens each, and the block table of
/// every sequence slot.
///
/// Invariant: every block id in `0..num_blocks` is either on the free list or in exactly one
/// slot's table, and slot `s` holds exactly `⌈tokens(s) / block_size⌉` blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockAllocator {
    block_size: u32,
    num_blocks: u32,
    /// Free block ids; the last one is handed out next.
    free: Vec<u32>,
    /// Per slot: tokens held and block table.
    slots: Vec<Slot>,
    /// Running Σ over slots of (blocks · block_size − tokens).
    frag: u64,
    /// Per block: the owner (tenant) of the slot that last wrote it; `NO_OWNER` if never.
    /// Empty unless owners are tracked ([`BlockAllocator::track_owners`]).
    writer: Vec<u32>,
    /// Blocks handed to a slot whose owner differs from the block's last writer.
    reused_across: u64,
}

/// A slot or block with no owner recorded.
pub const NO_OWNER: u32 = u32::MAX;

/// One sequence's tokens and block table (in token order).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Slot {
    tokens: u32,
    blocks: Vec<u32>,
    /// Whose KV it holds (a tenant), for counting blocks reused across owners.
    owner: u32,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            tokens: 0,
            blocks: Vec::new(),
            owner: NO_OWNER,
        }
    }
}

impl BlockAllocator {
    /// A pool of `num_blocks` free blocks of `block_size` tokens; no slots yet.
    ///
    /// # Panics
    /// If `block_size` is 0 (the scenario validation rejects that before it gets here).
    pub fn new(num_blocks: u32, block_size: u32) -> Self {
        assert!(block_size > 0, "block_size must be positive");
        BlockAllocator {
            block_size,
            num_blocks,
            // Reversed so that block 0 is handed out first: tables read 0, 1, 2, … in tests.
            free: (0..num_blocks).rev().collect(),
            slots: Vec::new(),
            frag: 0,
            writer: Vec::new(),
            reused_across: 0,
        }
    }

    /// Record from now on which owner last wrote each block (off by default: a pool with a
    /// single owner has nothing to count).
    pub fn track_owners(&mut self) {
        self.writer = vec![NO_OWNER; self.num_blocks as usize];
    }

    /// Record whose KV `slot` holds from now on (its next blocks are written by `owner`);
    /// nothing unless owners are tracked.
    pub fn set_owner(&mut self, slot: SeqSlot, owner: u32) {
        if self.writer.is_empty() {
            return;
        }
        let i = slot as usize;
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, Slot::default);
        }
        self.slots[i].owner = owner;
    }

    /// Blocks handed out so far to a slot of another owner than the one that last wrote
    /// them (KV memory that held another tenant's data, reused without being cleared).
    pub fn reused_across_owners(&self) -> u64 {
        self.reused_across
    }

    /// Tokens per block.
    pub fn block_size(&self) -> u32 {
        self.block_size
    }

    /// Blocks in the pool, free or used.
    pub fn num_blocks(&self) -> u32 {
        self.num_blocks
    }

    /// Blocks on the free list.
    pub fn free_blocks(&self) -> u32 {
        self.free.len() as u32
    }

    /// Blocks owned by some slot (`num_blocks − free_blocks`).
    pub fn used_blocks(&self) -> u32 {
        self.num_blocks - self.free_blocks()
    }

    /// Blocks needed to hold `tokens` tokens for a slot that currently holds `held` tokens:
    /// `⌈(held + tokens) / block_size⌉ − ⌈held / block_size⌉` (the last partial block fills
    /// first).
    pub fn blocks_needed(&self, held: u32, tokens: u32) -> u32 {
        let bs = u64::from(self.block_size);
        let room = u64::from(held).div_ceil(bs) * bs - u64::from(held);
        self.needed_beyond(room, tokens)
    }

    /// Whether `tokens` more tokens fit for `slot` (its last partial block is used first).
    pub fn can_append(&self, slot: SeqSlot, tokens: u32) -> bool {
        self.needed_beyond(self.room(slot), tokens) <= self.free_blocks()
    }

    /// Append `tokens` tokens to `slot`'s sequence, allocating blocks as needed;
    /// `Err(OutOfBlocks { needed, free })` without changing anything if they do not fit.
    /// A slot index beyond the current tables extends them.
    ///
    /// Tokens that fit in the last partial block cost no division and no allocation.
    ///
    /// # Panics
    /// If the sequence would hold more than `u32::MAX` tokens.
    pub fn append(&mut self, slot: SeqSlot, tokens: u32) -> Result<(), OutOfBlocks> {
        if tokens == 0 {
            return Ok(());
        }
        let room = self.room(slot);
        let i = slot as usize;
        if u64::from(tokens) <= room {
            // room > 0, so the slot exists.
            self.slots[i].tokens += tokens;
            self.frag -= u64::from(tokens);
            return Ok(());
        }
        let needed = self.needed_beyond(room, tokens);
        let free = self.free_blocks();
        if needed > free {
            return Err(OutOfBlocks { needed, free });
        }
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, Slot::default);
        }
        let s = &mut self.slots[i];
        s.tokens = s
            .tokens
            .checked_add(tokens)
            .expect("a sequence of more than u32::MAX tokens");
        let start = self.free.len() - needed as usize;
        if s.owner != NO_OWNER {
            for &b in &self.free[start..] {
                let w = &mut self.writer[b as usize];
                self.reused_across += u64::from(*w != NO_OWNER && *w != s.owner);
                *w = s.owner;
            }
        }
        s.blocks.extend(self.free.drain(start..).rev());
        let new_room = u64::from(needed) * u64::from(self.block_size) + room - u64::from(tokens);
        self.frag = self.frag - room + new_room;
        Ok(())
    }

    /// Drop the last `tokens` tokens of `slot` (speculative-decoding rollback), freeing
    /// blocks that become empty. Dropping more than the slot holds empties it.
    pub fn truncate(&mut self, slot: SeqSlot, tokens: u32) {
        let room = self.room(slot);
        let bs = self.block_size;
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        if s.tokens == 0 || tokens == 0 {
            return;
        }
        if u64::from(tokens) + room < u64::from(bs) {
            // The last block keeps at least one token.
            s.tokens -= tokens;
            self.frag += u64::from(tokens);
            return;
        }
        let left = s.tokens.saturating_sub(tokens);
        let keep = left.div_ceil(bs) as usize;
        self.free.extend(s.blocks.drain(keep..).rev());
        s.tokens = left;
        let new_room = keep as u64 * u64::from(bs) - u64::from(left);
        self.frag = self.frag - room + new_room;
    }

    /// Free every block of `slot`; returns how many were freed. The slot may be reused.
    pub fn free(&mut self, slot: SeqSlot) -> u32 {
        let room = self.room(slot);
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return 0;
        };
        let n = s.blocks.len() as u32;
        // Reversed so the slot's first block is the next one handed out.
        self.free.extend(s.blocks.drain(..).rev());
        s.tokens = 0;
        self.frag -= room;
        n
    }

    /// Tokens `slot` holds (0 for a slot never used or freed).
    pub fn tokens(&self, slot: SeqSlot) -> u32 {
        self.slots.get(slot as usize).map_or(0, |s| s.tokens)
    }

    /// Block ids of `slot`, in token order (empty for a slot never used or freed).
    pub fn block_table(&self, slot: SeqSlot) -> &[u32] {
        self.slots
            .get(slot as usize)
            .map_or(&[], |s| s.blocks.as_slice())
    }

    /// Tokens' worth of allocated-but-unfilled space: sum over slots of
    /// (blocks · block_size − tokens) — at most block_size − 1 per sequence. O(1).
    pub fn internal_fragmentation_tokens(&self) -> u64 {
        self.frag
    }

    /// Unfilled tokens in `slot`'s last block (0 for an empty slot).
    fn room(&self, slot: SeqSlot) -> u64 {
        self.slots.get(slot as usize).map_or(0, |s| {
            s.blocks.len() as u64 * u64::from(self.block_size) - u64::from(s.tokens)
        })
    }

    /// New blocks for `tokens` tokens when `room` tokens fit in the last block.
    fn needed_beyond(&self, room: u64, tokens: u32) -> u32 {
        // ≤ ⌈tokens / block_size⌉ ≤ u32::MAX.
        u64::from(tokens)
            .saturating_sub(room)
            .div_ceil(u64::from(self.block_size)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use std::collections::BTreeMap;

    #[test]
    fn hand_computed_block_size_16() {
        let mut a = BlockAllocator::new(4, 16);
        assert_eq!(
            (a.free_blocks(), a.used_blocks(), a.num_blocks()),
            (4, 0, 4)
        );
        a.append(0, 1).unwrap();
        assert_eq!(
            (a.used_blocks(), a.internal_fragmentation_tokens()),
            (1, 15)
        );
        a.append(0, 15).unwrap();
        assert_eq!((a.used_blocks(), a.internal_fragmentation_tokens()), (1, 0));
        a.append(0, 1).unwrap();
        assert_eq!(
            (a.used_blocks(), a.tokens(0), a.block_table(0)),
            (2, 17, &[0, 1][..])
        );
        assert_eq!(a.internal_fragmentation_tokens(), 15);
        a.truncate(0, 2);
        assert_eq!(
            (a.used_blocks(), a.tokens(0), a.block_table(0)),
            (1, 15, &[0][..])
        );
        assert_eq!(a.internal_fragmentation_tokens(), 1);

        // 15 + 100 = 115 tokens need ⌈115/16⌉ = 8 blocks; the slot has 1, so 7 more; 3 free.
        assert_eq!(a.blocks_needed(15, 100), 7);
        assert!(!a.can_append(0, 100));
        let before = a.clone();
        assert_eq!(a.append(0, 100), Err(OutOfBlocks { needed: 7, free: 3 }));
        assert_eq!(
            a.append(0, 100).unwrap_err().to_string(),
            "needs 7 KV blocks, 3 free"
        );
        assert_eq!(before, a);

        // Exactly filling the pool works: 15 + 49 = 64 = 4 blocks.
        assert!(a.can_append(0, 49));
        assert!(!a.can_append(0, 50));
        a.append(0, 49).unwrap();
        assert_eq!((a.free_blocks(), a.internal_fragmentation_tokens()), (0, 0));
        // A full block has no room, even for one token, on any slot.
        assert_eq!(a.append(1, 1), Err(OutOfBlocks { needed: 1, free: 0 }));
        // Appending nothing always fits.
        assert_eq!(a.append(1, 0), Ok(()));

        assert_eq!(a.free(0), 4);
        assert_eq!(
            (a.free_blocks(), a.tokens(0), a.block_table(0)),
            (4, 0, &[][..])
        );
        assert_eq!(a.internal_fragmentation_tokens(), 0);
        assert_eq!(a.free(0), 0, "freeing twice frees nothing");
    }

    #[test]
    fn slots_grow_on_demand_and_blocks_are_reused_lifo() {
        let mut a = BlockAllocator::new(8, 4);
        assert_eq!((a.tokens(1_000), a.block_table(1_000)), (0, &[][..]));
        assert_eq!(a.free(1_000), 0);
        a.truncate(1_000, 5);
        a.append(1_000, 9).unwrap();
        assert_eq!(a.block_table(1_000), &[0, 1, 2]);
        a.append(3, 4).unwrap();
        assert_eq!(a.block_table(3), &[3]);
        assert_eq!(a.free(1_000), 3);
        // The freed blocks come back, first block first.
        a.append(7, 8).unwrap();
        assert_eq!(a.block_table(7), &[0, 1]);
        // Rollback returns the tail block; the next append takes it again.
        a.truncate(7, 3);
        assert_eq!((a.block_table(7), a.tokens(7)), (&[0, 1][..], 5));
        a.truncate(7, 1);
        assert_eq!(a.block_table(7), &[0]);
        a.append(3, 1).unwrap();
        assert_eq!(a.block_table(3), &[3, 1]);
        // Truncating more than is held empties the slot.
        a.truncate(3, 100);
        assert_eq!(
            (a.tokens(3), a.block_table(3), a.used_blocks()),
            (0, &[][..], 1)
        );
    }

    #[test]
    fn blocks_needed_edge_cases() {
        let a = BlockAllocator::new(0, 16);
        assert_eq!(a.blocks_needed(0, 0), 0);
        assert_eq!(a.blocks_needed(0, 16), 1);
        assert_eq!(a.blocks_needed(0, 17), 2);
        assert_eq!(a.blocks_needed(16, 1), 1);
        assert_eq!(a.blocks_needed(17, 15), 0);
        assert_eq!(a.blocks_needed(u32::MAX, u32::MAX), 0x1000_0000);
        assert!(a.can_append(0, 0) && !a.can_append(0, 1));
        let one = BlockAllocator::new(0, 1);
        assert_eq!(one.blocks_needed(u32::MAX, u32::MAX), u32::MAX);
    }

    /// Every block id is on the free list or in exactly one table, and each table has
    /// exactly ⌈tokens / block_size⌉ blocks.
    fn assert_blocks_owned_once(a: &BlockAllocator, op: usize) {
        let mut owners = vec![0u8; a.num_blocks() as usize];
        for (i, s) in a.slots.iter().enumerate() {
            assert_eq!(
                s.blocks.len() as u32,
                s.tokens.div_ceil(a.block_size()),
                "op {op}: slot {i}"
            );
            for &b in &s.blocks {
                owners[b as usize] += 1;
            }
        }
        for &b in &a.free {
            owners[b as usize] += 1;
        }
        let bad: Vec<_> = (0..owners.len()).filter(|&b| owners[b] != 1).collect();
        assert!(
            bad.is_empty(),
            "op {op}: blocks owned twice or lost: {bad:?}"
        );
    }

    /// Against a naive twin — token counts in a `BTreeMap`, used blocks recomputed as
    /// Σ ⌈tokens / block_size⌉ — under 100,000 seeded random appends (some too large to fit),
    /// truncates and frees on 50 slots, with pools small enough that appends fail often.
    fn run_against_twin(seed: u64, num_blocks: u32, bs: u32, ops: usize) {
        const SLOTS: u32 = 50;
        let mut a = BlockAllocator::new(num_blocks, bs);
        let mut twin: BTreeMap<SeqSlot, u32> = BTreeMap::new();
        let used_by_twin =
            |t: &BTreeMap<SeqSlot, u32>| -> u32 { t.values().map(|n| n.div_ceil(bs)).sum() };
        let mut rng = StdRng::seed_from_u64(seed);
        let (mut fits, mut misses) = (0, 0);
        for op in 0..ops {
            let slot = rng.random_range(0..SLOTS);
            match rng.random_range(0..10u32) {
                0..=5 => {
                    // Mostly decode-sized, sometimes a prompt, now and then more than the pool.
                    let n = match rng.random_range(0..10u32) {
                        0..=4 => rng.random_range(0..=2 * bs),
                        5..=8 => rng.random_range(0..=12 * bs),
                        _ => rng.random_range(0..=(num_blocks + 2) * bs),
                    };
                    let held = twin.get(&slot).copied().unwrap_or(0);
                    let needed = (held + n).div_ceil(bs) - held.div_ceil(bs);
                    let free = num_blocks - used_by_twin(&twin);
                    assert_eq!(a.can_append(slot, n), needed <= free, "op {op}");
                    if needed <= free {
                        assert_eq!(a.append(slot, n), Ok(()), "op {op}");
                        *twin.entry(slot).or_insert(0) += n;
                        fits += 1;
                    } else {
                        let err = a.append(slot, n);
                        assert_eq!(err, Err(OutOfBlocks { needed, free }), "op {op}");
                        misses += 1;
                    }
                }
                6..=7 => {
                    let n = rng.random_range(0..=3 * bs);
                    a.truncate(slot, n);
                    if let Some(t) = twin.get_mut(&slot) {
                        *t = t.saturating_sub(n);
                    }
                }
                _ => {
                    let held = twin.remove(&slot).unwrap_or(0);
                    assert_eq!(a.free(slot), held.div_ceil(bs), "op {op}");
                }
            }
            let used = used_by_twin(&twin);
            assert_eq!(a.used_blocks(), used, "op {op}");
            assert_eq!(a.free_blocks() + a.used_blocks(), num_blocks, "op {op}");
            assert_eq!(
                a.tokens(slot),
                twin.get(&slot).copied().unwrap_or(0),
                "op {op}"
            );
            assert_eq!(
                a.block_table(slot).len() as u32,
                a.tokens(slot).div_ceil(bs)
            );
            let frag: u64 = twin
                .values()
                .map(|&t| u64::from(t.div_ceil(bs) * bs - t))
                .sum();
            assert_eq!(a.internal_fragmentation_tokens(), frag, "op {op}");
            let non_empty = twin.values().filter(|&&t| t > 0).count() as u64;
            assert!(
                a.internal_fragmentation_tokens() <= non_empty * u64::from(bs - 1),
                "op {op}"
            );
            if op % 1_000 == 0 || op == ops - 1 {
                assert_blocks_owned_once(&a, op);
                for s in 0..SLOTS {
                    assert_eq!(a.tokens(s), twin.get(&s).copied().unwrap_or(0), "op {op}");
                }
            }
        }
        // The run exercised both outcomes, and not barely.
        assert!(
            misses > ops / 50,
            "seed {seed}: only {misses} failed appends"
        );
        assert!(fits > ops / 20, "seed {seed}: only {fits} appends fit");
    }

    #[test]
    fn matches_naive_twin() {
        run_against_twin(7, 200, 16, 100_000);
    }

    #[test]
    fn matches_naive_twin_odd_sizes() {
        // Block size 1 (no fragmentation), a non-power of two, and a pool smaller than a slot
        // count, so most appends fail.
        run_against_twin(11, 300, 1, 20_000);
        run_against_twin(12, 90, 7, 20_000);
        run_against_twin(13, 20, 32, 20_000);
    }
}
