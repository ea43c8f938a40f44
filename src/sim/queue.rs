//! The future-event list: a binary min-heap keyed by `(time, insertion sequence)`.
//!
//! The sequence number makes the order total: two events scheduled for the same instant are
//! delivered in the order they were scheduled (FIFO). Nothing about the order depends on the
//! event payload, hashing or memory addresses, which is what makes runs reproducible.
//!
//! Costs: `push` and `pop` are O(log n) in the number of pending events, `peek_time` is O(1).
//! Events are small plain values (`Copy`), so sifting moves them through a hole, one copy per
//! level, and both operations inline into the engine's loop: a run pushes and pops every
//! event once, and most runs hold only a handful at a time.
//!
//! A pop leaves the root slot vacant instead of refilling it at once: the engine usually
//! pushes the next event straight after handling the popped one, and that push then fills the
//! hole with one sift down, where a refill plus a push would sift twice. The order of events
//! does not depend on the heap's shape (keys are unique), so this changes no result.

use super::time::SimTime;

/// One pending event.
#[derive(Copy, Clone, Debug)]
struct Entry<E> {
    time: SimTime,
    seq: u64,
    event: E,
}

impl<E> Entry<E> {
    /// `(time, seq)` as one number, so that an order test is one wide comparison instead of
    /// two branches. Keys are unique: the sequence number never repeats.
    #[inline(always)]
    fn key(&self) -> u128 {
        (u128::from(self.time.as_nanos()) << 64) | u128::from(self.seq)
    }
}

/// A priority queue of events ordered by time, FIFO among events at the same time.
#[derive(Debug)]
pub struct EventQueue<E> {
    /// A min-heap on [`Entry::key`]: every entry's key is below its children's. While
    /// `vacant`, slot 0 holds an entry already popped and both subtrees below it are heaps.
    heap: Vec<Entry<E>>,
    /// Whether the root slot is a hole left by the last pop.
    vacant: bool,
    next_seq: u64,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue {
            heap: Vec::new(),
            vacant: false,
            next_seq: 0,
        }
    }

    /// Adds `event` at `time`. Returns the insertion sequence number, which breaks ties.
    #[inline(always)]
    pub fn push(&mut self, time: SimTime, event: E) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = Entry { time, seq, event };
        if self.vacant {
            self.vacant = false;
            self.sift_down_from_root(entry);
            return seq;
        }
        let key = entry.key();
        let mut pos = self.heap.len();
        self.heap.push(entry);
        let h = &mut self.heap[..];
        // Sift up: later events (the usual case) stop at once.
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if h[parent].key() < key {
                break;
            }
            h[pos] = h[parent];
            pos = parent;
        }
        h[pos] = entry;
        seq
    }

    /// Removes and returns the earliest event (the first scheduled among equals).
    #[inline(always)]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        if self.vacant {
            self.refill();
        }
        let top = *self.heap.first()?;
        // Leave the root vacant: the next push (or pop) fills it.
        self.vacant = true;
        Some((top.time, top.event))
    }

    /// Fills the vacant root with the last entry.
    #[inline(always)]
    fn refill(&mut self) {
        self.vacant = false;
        let last = self
            .heap
            .pop()
            .expect("a vacant root is a slot of the heap");
        if !self.heap.is_empty() {
            self.sift_down_from_root(last);
        }
    }

    /// Puts `entry` in the root slot, whose subtrees are heaps, and sifts it down through a
    /// hole to where it belongs.
    #[inline(always)]
    fn sift_down_from_root(&mut self, entry: Entry<E>) {
        let h = &mut self.heap[..];
        let n = h.len();
        let key = entry.key();
        let mut pos = 0;
        loop {
            let mut child = 2 * pos + 1;
            if child >= n {
                break;
            }
            if child + 1 < n && h[child + 1].key() < h[child].key() {
                child += 1;
            }
            if key < h[child].key() {
                break;
            }
            h[pos] = h[child];
            pos = child;
        }
        h[pos] = entry;
    }

    /// The time of the earliest event, if any.
    #[inline(always)]
    pub fn peek_time(&self) -> Option<SimTime> {
        if !self.vacant {
            return self.heap.first().map(|e| e.time);
        }
        // Below a hole the earliest is the smaller of the two subtree roots.
        let h = &self.heap;
        match (h.get(1), h.get(2)) {
            (Some(l), Some(r)) => Some(if r.key() < l.key() { r.time } else { l.time }),
            (Some(l), None) => Some(l.time),
            _ => None,
        }
    }

    /// Number of pending events (including ones the model will find stale).
    pub fn len(&self) -> usize {
        self.heap.len() - usize::from(self.vacant)
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_time_events_pop_in_insertion_order() {
        let mut q = EventQueue::new();
        for i in 0..100 {
            q.push(SimTime::from_nanos(7), i);
        }
        let order: Vec<i32> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn earlier_events_pop_before_later_ones_whatever_the_insertion_order() {
        let mut q = EventQueue::new();
        q.push(SimTime::from_nanos(30), "c");
        q.push(SimTime::from_nanos(10), "a");
        q.push(SimTime::from_nanos(20), "b");
        q.push(SimTime::from_nanos(10), "a2");
        assert_eq!(q.peek_time(), Some(SimTime::from_nanos(10)));
        let order: Vec<&str> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ["a", "a2", "b", "c"]);
        assert!(q.is_empty());
    }

    proptest::proptest! {
        /// Steps: `Some(t)` pushes an event at `t`, `None` pops; checked against a sorted list.
        #[test]
        fn interleaved_pushes_and_pops_give_what_a_sorted_list_gives(
            steps in proptest::collection::vec(proptest::option::weighted(0.6, 0u64..40), 0..400)
        ) {
            let mut q = EventQueue::new();
            let mut reference: Vec<(u64, usize)> = Vec::new();
            for (i, step) in steps.iter().enumerate() {
                match step {
                    Some(t) => {
                        q.push(SimTime::from_nanos(*t), i);
                        reference.push((*t, i));
                        reference.sort_unstable();
                    }
                    None => {
                        let expected = (!reference.is_empty()).then(|| reference.remove(0));
                        let got = q.pop().map(|(t, i)| (t.as_nanos(), i));
                        proptest::prop_assert_eq!(got, expected);
                    }
                }
                proptest::prop_assert_eq!(q.len(), reference.len());
                proptest::prop_assert_eq!(
                    q.peek_time().map(SimTime::as_nanos),
                    reference.first().map(|&(t, _)| t)
                );
            }
        }

        #[test]
        fn pops_are_sorted_by_time_then_sequence(times in proptest::collection::vec(0u64..50, 0..300)) {
            let mut q = EventQueue::new();
            for (i, t) in times.iter().enumerate() {
                q.push(SimTime::from_nanos(*t), i);
            }
            let mut last: Option<(SimTime, usize)> = None;
            while let Some((t, i)) = q.pop() {
                if let Some(prev) = last {
                    proptest::prop_assert!(prev < (t, i), "{prev:?} then {:?}", (t, i));
                }
                proptest::prop_assert_eq!(t.as_nanos(), times[i]);
                last = Some((t, i));
            }
        }
    }
}
