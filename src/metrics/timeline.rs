//! Batch size and KV blocks over a run, bounded in memory: the data of the over-time charts.

/// Time buckets before two neighbours merge (the bucket width doubles): memory stays flat
/// however long the run.
const MAX_BUCKETS: usize = 1024;

/// Per-iteration batch size and KV blocks, averaged in time buckets.
#[derive(Debug, Clone)]
pub struct Timeline {
    width_us: u64,
    /// Per bucket: (batch size sum, KV blocks sum, iterations).
    buckets: Vec<(u64, u64, u64)>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            width_us: 1_000,
            buckets: Vec::new(),
        }
    }
}

impl Timeline {
    /// One iteration starting at `start_us` (µs from the run's start).
    pub fn add(&mut self, start_us: u64, batch: u32, blocks: u32) {
        let mut i = (start_us / self.width_us) as usize;
        while i >= MAX_BUCKETS {
            let merged: Vec<(u64, u64, u64)> = self
                .buckets
                .chunks(2)
                .map(|c| {
                    c.iter()
                        .fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
                })
                .collect();
            self.buckets = merged;
            self.width_us *= 2;
            i = (start_us / self.width_us) as usize;
        }
        if self.buckets.len() <= i {
            self.buckets.resize(i + 1, (0, 0, 0));
        }
        let b = &mut self.buckets[i];
        b.0 += batch as u64;
        b.1 += blocks as u64;
        b.2 += 1;
    }

    /// (bucket start in s, mean batch size, mean KV blocks) of buckets with iterations.
    pub fn points(&self) -> Vec<(f64, f64, f64)> {
        self.buckets
            .iter()
            .enumerate()
            .filter(|(_, b)| b.2 > 0)
            .map(|(i, b)| {
                (
                    (i as u64 * self.width_us) as f64 / 1e6,
                    b.0 as f64 / b.2 as f64,
                    b.1 as f64 / b.2 as f64,
                )
            })
            .collect()
    }
}
