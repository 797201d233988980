//! The paged KV block allocator (vLLM's block manager): fixed-size blocks from one pool,
//! a block table per sequence, O(1) allocation and free, no per-token storage. Waste is at
//! most one partly filled block per sequence ([`BlockAllocator::internal_fragmentation_tokens`]).

/// Index of a sequence's slot in the allocator (the simulator assigns and reuses them).
pub type SeqSlot = u32;

/// Not enough free blocks for an append; nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("needs {needed} KV blocks, {free} free")]
pub struct OutOfBlocks {
    /// Blocks the append needed.
    pub needed: u32,
    /// Blocks free.
    pub free: u32,
}

/// A pool of `num_blocks` blocks of `block_size` tokens.
#[derive(Debug, Clone)]
pub struct BlockAllocator {
    block_size: u32,
    num_blocks: u32,
    free: Vec<u32>,
    tables: Vec<Vec<u32>>,
    tokens: Vec<u32>,
    frag: u64,
}

impl BlockAllocator {
    /// All blocks free.
    pub fn new(num_blocks: u32, block_size: u32) -> Self {
        assert!(block_size > 0, "block_size must be positive");
        BlockAllocator {
            block_size,
            num_blocks,
            free: (0..num_blocks).rev().collect(),
            tables: Vec::new(),
            tokens: Vec::new(),
            frag: 0,
        }
    }

    /// Tokens per block.
    pub fn block_size(&self) -> u32 {
        self.block_size
    }
    /// Blocks in the pool.
    pub fn num_blocks(&self) -> u32 {
        self.num_blocks
    }
    /// Blocks free.
    pub fn free_blocks(&self) -> u32 {
        self.free.len() as u32
    }
    /// Blocks in use.
    pub fn used_blocks(&self) -> u32 {
        self.num_blocks - self.free.len() as u32
    }

    /// Blocks needed to grow a sequence holding `held` tokens by `tokens`.
    pub fn blocks_needed(&self, held: u32, tokens: u32) -> u32 {
        let bs = self.block_size as u64;
        let have = (held as u64).div_ceil(bs);
        let want = (held as u64 + tokens as u64).div_ceil(bs);
        (want - have) as u32
    }

    /// Whether `tokens` more tokens fit for `slot` (its last partial block is used first).
    pub fn can_append(&self, slot: SeqSlot, tokens: u32) -> bool {
        self.blocks_needed(self.tokens(slot), tokens) <= self.free_blocks()
    }

    fn ensure(&mut self, slot: SeqSlot) {
        let i = slot as usize;
        if i >= self.tables.len() {
            self.tables.resize_with(i + 1, Vec::new);
            self.tokens.resize(i + 1, 0);
        }
    }

    fn slack(&self, tokens: u32, blocks: usize) -> u64 {
        blocks as u64 * self.block_size as u64 - tokens as u64
    }

    /// Append `tokens` tokens to `slot`, allocating blocks as needed.
    pub fn append(&mut self, slot: SeqSlot, tokens: u32) -> Result<(), OutOfBlocks> {
        let held = self.tokens(slot);
        let needed = self.blocks_needed(held, tokens);
        if needed > self.free_blocks() {
            return Err(OutOfBlocks {
                needed,
                free: self.free_blocks(),
            });
        }
        self.ensure(slot);
        let i = slot as usize;
        self.frag -= self.slack(held, self.tables[i].len());
        for _ in 0..needed {
            let b = self.free.pop().expect("checked above");
            self.tables[i].push(b);
        }
        self.tokens[i] = held + tokens;
        self.frag += self.slack(self.tokens[i], self.tables[i].len());
        Ok(())
    }

    /// Drop the last `tokens` tokens of `slot` (rollback), freeing blocks that become empty.
    pub fn truncate(&mut self, slot: SeqSlot, tokens: u32) {
        let held = self.tokens(slot);
        if held == 0 {
            return;
        }
        let i = slot as usize;
        self.frag -= self.slack(held, self.tables[i].len());
        let left = held.saturating_sub(tokens);
        let keep = left.div_ceil(self.block_size) as usize;
        while self.tables[i].len() > keep {
            let b = self.tables[i].pop().expect("len > keep");
            self.free.push(b);
        }
        self.tokens[i] = left;
        self.frag += self.slack(left, keep);
    }

    /// Free every block of `slot`; returns how many were freed.
    pub fn free(&mut self, slot: SeqSlot) -> u32 {
        let i = slot as usize;
        if i >= self.tables.len() {
            return 0;
        }
        self.frag -= self.slack(self.tokens[i], self.tables[i].len());
        let n = self.tables[i].len() as u32;
        self.free.append(&mut self.tables[i]);
        self.tokens[i] = 0;
        n
    }

    /// Tokens `slot` holds.
    pub fn tokens(&self, slot: SeqSlot) -> u32 {
        self.tokens.get(slot as usize).copied().unwrap_or(0)
    }

    /// `slot`'s block table.
    pub fn block_table(&self, slot: SeqSlot) -> &[u32] {
        self.tables.get(slot as usize).map_or(&[], Vec::as_slice)
    }

    /// Allocated but unfilled token slots over all sequences (< block_size per sequence).
    pub fn internal_fragmentation_tokens(&self) -> u64 {
        self.frag
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use std::collections::BTreeMap;

    #[test]
    fn hand_computed() {
        let mut a = BlockAllocator::new(4, 16);
        a.append(0, 1).unwrap();
        assert_eq!(
            (a.used_blocks(), a.internal_fragmentation_tokens()),
            (1, 15)
        );
        a.append(0, 15).unwrap();
        assert_eq!((a.used_blocks(), a.internal_fragmentation_tokens()), (1, 0));
        a.append(0, 1).unwrap();
        assert_eq!(a.used_blocks(), 2);
        a.truncate(0, 2);
        assert_eq!((a.used_blocks(), a.tokens(0)), (1, 15));
        // A failed append changes nothing.
        let before = (a.used_blocks(), a.tokens(0), a.block_table(0).to_vec());
        assert_eq!(a.append(0, 100), Err(OutOfBlocks { needed: 7, free: 3 }));
        assert_eq!(
            before,
            (a.used_blocks(), a.tokens(0), a.block_table(0).to_vec())
        );
        assert_eq!(a.free(0), 1);
        assert_eq!(a.free_blocks(), 4);
    }

    /// Against a naive twin (token counts in a map; used blocks = Σ ⌈tokens / bs⌉) under
    /// 100,000 seeded random operations with a small pool, so allocation fails often.
    #[test]
    fn matches_naive_twin() {
        let bs = 16u32;
        let mut a = BlockAllocator::new(200, bs);
        let mut twin: BTreeMap<u32, u32> = BTreeMap::new();
        let mut rng = StdRng::seed_from_u64(7);
        let mut failures = 0;
        for op in 0..100_000 {
            let slot = rng.random_range(0..50u32);
            match rng.random_range(0..10u32) {
                0..=5 => {
                    let n = rng.random_range(1..120u32);
                    let held = *twin.get(&slot).unwrap_or(&0);
                    let used: u32 = twin.values().map(|t| t.div_ceil(bs)).sum();
                    let need = (held + n).div_ceil(bs) - held.div_ceil(bs);
                    let fits = need <= 200 - used;
                    assert_eq!(a.append(slot, n).is_ok(), fits, "op {op}");
                    if fits {
                        *twin.entry(slot).or_insert(0) += n;
                    } else {
                        failures += 1;
                    }
                }
                6..=7 => {
                    let n = rng.random_range(0..40u32);
                    a.truncate(slot, n);
                    if let Some(t) = twin.get_mut(&slot) {
                        *t = t.saturating_sub(n);
                    }
                }
                _ => {
                    a.free(slot);
                    twin.remove(&slot);
                }
            }
            let used: u32 = twin.values().map(|t| t.div_ceil(bs)).sum();
            assert_eq!(a.used_blocks(), used, "op {op}");
            assert_eq!(a.used_blocks() + a.free_blocks(), 200);
            assert_eq!(a.tokens(slot), *twin.get(&slot).unwrap_or(&0));
            let frag: u64 = twin
                .values()
                .map(|&t| (t.div_ceil(bs) * bs - t) as u64)
                .sum();
            assert_eq!(a.internal_fragmentation_tokens(), frag, "op {op}");
            if op % 1000 == 0 {
                // Every block owned exactly once: by one table or the free list.
                let mut owner = [0u8; 200];
                for s in 0..50 {
                    assert_eq!(a.block_table(s).len() as u32, a.tokens(s).div_ceil(bs));
                    for &b in a.block_table(s) {
                        owner[b as usize] += 1;
                    }
                }
                for &b in &a.free {
                    owner[b as usize] += 1;
                }
                assert!(
                    owner.iter().all(|&c| c == 1),
                    "op {op}: a block owned twice or lost"
                );
            }
        }
        assert!(
            failures > 1000,
            "the pool should run out often ({failures})"
        );
    }
}
