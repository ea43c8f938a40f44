//! One slab allocator with generational ids, for requests, attempts and server-side slots.
//!
//! Slots are reused once their occupant is removed; the generation, bumped on removal, tells a
//! stale [`RequestId`] (a timer scheduled for an earlier occupant) from a live one, which is how
//! timers are cancelled without searching the event queue. Memory is bounded by what is in
//! flight at once, not by the number of requests in a run.

use super::request::RequestId;

/// A slab of `T` addressed by [`RequestId`].
#[derive(Clone, Debug)]
pub struct Slab<T> {
    entries: Vec<(u32, T)>,
    free: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slab<T> {
    /// Stores `value` in the most recently freed slot (or a new one) and names it. Always
    /// inlined: the caller then builds the value in the slot instead of copying it there.
    #[inline(always)]
    pub fn insert(&mut self, value: T) -> RequestId {
        match self.free.pop() {
            Some(slot) => {
                let e = &mut self.entries[slot as usize];
                e.1 = value;
                RequestId {
                    slot,
                    generation: e.0,
                }
            }
            None => {
                let slot = u32::try_from(self.entries.len())
                    .expect("more than 4 billion requests in flight");
                self.entries.push((0, value));
                RequestId {
                    slot,
                    generation: 0,
                }
            }
        }
    }

    /// Whether `id` names the slot's current occupant (it has not been removed since).
    #[inline]
    pub fn is_current(&self, id: RequestId) -> bool {
        self.entries[id.slot as usize].0 == id.generation
    }

    /// The value in `id`'s slot (whoever occupies it now).
    #[inline]
    pub fn get(&self, id: RequestId) -> &T {
        &self.entries[id.slot as usize].1
    }

    /// The value in `id`'s slot, mutably.
    #[inline]
    pub fn get_mut(&mut self, id: RequestId) -> &mut T {
        &mut self.entries[id.slot as usize].1
    }

    /// Frees `id`'s slot: every id of this occupant is stale from now on. The value stays in
    /// place (callers mark it as free) until the slot is reused.
    #[inline]
    pub fn remove(&mut self, id: RequestId) {
        let e = &mut self.entries[id.slot as usize];
        debug_assert_eq!(e.0, id.generation, "removed a stale id");
        e.0 = e.0.wrapping_add(1);
        self.free.push(id.slot);
    }

    /// Every slot's value, occupied or free, in slot order.
    #[inline]
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.entries.iter().map(|e| &e.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_id_is_stale_and_its_slot_is_reused_under_a_new_generation() {
        let mut s = Slab::default();
        let a = s.insert('a');
        let b = s.insert('b');
        assert!(s.is_current(a) && s.is_current(b));
        s.remove(a);
        assert!(!s.is_current(a));
        let c = s.insert('c');
        assert_eq!(c.slot, a.slot);
        assert_ne!(c.generation, a.generation);
        assert!(s.is_current(c) && !s.is_current(a));
        assert_eq!(*s.get(c), 'c');
        assert_eq!(*s.get(b), 'b');
        assert_eq!(s.values().count(), 2);
    }
}
