//! The event queue: events pop in order of `(time, rank, seq)`. `rank` comes from the event's
//! kind ([`Ranked::rank`]: a model says which of two simultaneous kinds of event goes first,
//! e.g. completions before arrivals, once, on its event type); `seq` is the insertion
//! counter, so equal (time, rank) pop first-in first-out.

use super::Nanos;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// An event type whose kinds are ordered at equal times: lower ranks pop first.
pub trait Ranked {
    /// This event's place among simultaneous events.
    fn rank(&self) -> u8;
}

/// A min-queue of events of type `E`.
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<Entry<E>>>,
    next_seq: u64,
    now: Nanos,
}

#[derive(Debug)]
struct Entry<E> {
    time: Nanos,
    phase: u8,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, o: &Self) -> bool {
        (self.time, self.phase, self.seq) == (o.time, o.phase, o.seq)
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.time, self.phase, self.seq).cmp(&(o.time, o.phase, o.seq))
    }
}

impl<E: Ranked> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Ranked> EventQueue<E> {
    /// An empty queue at time zero.
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
            now: Nanos::ZERO,
        }
    }

    /// The time of the last popped event.
    pub fn now(&self) -> Nanos {
        self.now
    }

    /// Schedule `event` at `time` (not before now), ordered among simultaneous events by its
    /// rank.
    pub fn push(&mut self, time: Nanos, event: E) {
        let phase = event.rank();
        debug_assert!(time >= self.now, "event scheduled in the past");
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(Entry {
            time: time.max(self.now),
            phase,
            seq,
            event,
        }));
    }

    /// Pop the earliest event and advance the clock to it.
    pub fn pop(&mut self) -> Option<(Nanos, E)> {
        let Reverse(e) = self.heap.pop()?;
        self.now = e.time;
        Some((e.time, e.event))
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test event: its rank is written in its name (`p<rank>`).
    #[derive(Debug, PartialEq)]
    struct Ev(&'static str);

    impl Ranked for Ev {
        fn rank(&self) -> u8 {
            self.0.split(" p").nth(1).unwrap()[..1].parse().unwrap()
        }
    }

    /// Order is (time, rank, insertion): pinned, because reports depend on it.
    #[test]
    fn order_is_time_then_phase_then_fifo() {
        let mut q = EventQueue::new();
        q.push(Nanos(10), Ev("t10 p1 a"));
        q.push(Nanos(5), Ev("t5 p2"));
        q.push(Nanos(10), Ev("t10 p0"));
        q.push(Nanos(10), Ev("t10 p1 b"));
        q.push(Nanos(5), Ev("t5 p1"));
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, e)| e.0)).collect();
        assert_eq!(order, ["t5 p1", "t5 p2", "t10 p0", "t10 p1 a", "t10 p1 b"]);
        assert_eq!(q.now(), Nanos(10));
    }
}
