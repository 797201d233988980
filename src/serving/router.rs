//! Spreading arrivals over replicas.

use super::config::Router;
use super::replica::Replica;
use super::seq::Seq;

/// Where the router is in its rotation (round robin).
#[derive(Debug, Default)]
pub struct RouterState {
    next_rr: u32,
}

impl RouterState {
    /// The replica an arrival goes to.
    pub fn route(&mut self, router: Router, replicas: &[Replica], seq: &Seq) -> u32 {
        let n = replicas.len() as u32;
        match router {
            Router::RoundRobin => {
                let r = self.next_rr % n;
                self.next_rr += 1;
                r
            }
            Router::LeastOutstanding => (0..n)
                .min_by_key(|&r| replicas[r as usize].load())
                .unwrap_or(0),
            Router::PrefixAffinity => {
                let least = replicas.iter().map(Replica::load).min().unwrap_or(0);
                let bound = least + (least / 4).max(4);
                let hits = |r: &Replica| match &seq.cached.hashes {
                    Some(h) => r.cache.lookup(h),
                    None => 0,
                };
                // Most cached prefix; then least load; then lowest index.
                (0..n)
                    .filter(|&r| replicas[r as usize].load() <= bound)
                    .max_by_key(|&r| {
                        let rep = &replicas[r as usize];
                        (
                            hits(rep),
                            std::cmp::Reverse(rep.load()),
                            std::cmp::Reverse(r),
                        )
                    })
                    .unwrap_or(0)
            }
        }
    }
}
