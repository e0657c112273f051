//! A table keyed by ids from a counter, for objects that are born in id order and die in
//! roughly that order (external storages, packets).
//!
//! The live ids of such objects form a window: the oldest still alive up to the newest. The
//! table holds that window as a ring of slots, so a lookup is an index, an insertion a push
//! at the back, and a removal clears a slot and trims dead slots off the front. Memory follows
//! the window, which the model keeps to what is in flight: an object that never died would
//! hold the window open behind it, and the world's invariant checker reports any object left
//! at the end of a run.

use std::collections::VecDeque;
use std::ops::Index;

use crate::net::mbuf::ExtId;
use crate::net::nic::PacketId;

/// An id from a counter: a dense `u64`.
pub trait CounterId: Copy {
    fn index(self) -> u64;
    fn from_index(i: u64) -> Self;
}

impl CounterId for ExtId {
    fn index(self) -> u64 {
        self.0
    }
    fn from_index(i: u64) -> Self {
        ExtId(i)
    }
}

impl CounterId for PacketId {
    fn index(self) -> u64 {
        self.0
    }
    fn from_index(i: u64) -> Self {
        PacketId(i)
    }
}

/// Live objects by id, iterated in id order.
///
/// Invariants: `slots[0]` is live unless the table is empty; `len` counts the live slots;
/// ids are inserted in increasing order.
#[derive(Clone, Debug)]
pub struct IdWindow<K, V> {
    /// The id of `slots[0]`.
    base: u64,
    slots: VecDeque<Option<V>>,
    len: usize,
    _key: std::marker::PhantomData<K>,
}

impl<K, V> Default for IdWindow<K, V> {
    fn default() -> Self {
        IdWindow {
            base: 0,
            slots: VecDeque::new(),
            len: 0,
            _key: std::marker::PhantomData,
        }
    }
}

impl<K: CounterId, V> IdWindow<K, V> {
    fn slot(&self, id: K) -> Option<usize> {
        let i = usize::try_from(id.index().checked_sub(self.base)?).ok()?;
        (i < self.slots.len()).then_some(i)
    }

    /// Adds `v` under `id`, which must be newer than every id inserted before (a counter's).
    pub fn insert(&mut self, id: K, v: V) {
        if self.slots.is_empty() {
            self.base = id.index();
        }
        let i = id
            .index()
            .checked_sub(self.base)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| i >= self.slots.len())
            .unwrap_or_else(|| panic!("id {} inserted out of counter order", id.index()));
        // Ids the counter gave to objects kept elsewhere leave empty slots.
        self.slots.resize_with(i, || None);
        self.slots.push_back(Some(v));
        self.len += 1;
    }

    pub fn get(&self, id: &K) -> Option<&V> {
        self.slots.get(self.slot(*id)?)?.as_ref()
    }

    pub fn get_mut(&mut self, id: &K) -> Option<&mut V> {
        let i = self.slot(*id)?;
        self.slots.get_mut(i)?.as_mut()
    }

    pub fn remove(&mut self, id: &K) -> Option<V> {
        let i = self.slot(*id)?;
        let v = self.slots[i].take()?;
        self.len -= 1;
        while matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.base += 1;
        }
        Some(v)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Live objects with their ids, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (K, &V)> {
        let base = self.base;
        self.slots
            .iter()
            .enumerate()
            .filter_map(move |(i, v)| Some((K::from_index(base + i as u64), v.as_ref()?)))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.slots.iter().flatten()
    }

    /// Panics if the table is out of shape (see the type docs).
    pub fn check_invariants(&self) {
        assert_eq!(
            self.slots.iter().filter(|s| s.is_some()).count(),
            self.len,
            "id table count drifted"
        );
        assert!(
            self.slots.front().is_none_or(Option::is_some),
            "id table keeps a dead slot at its front"
        );
    }
}

impl<K: CounterId, V> Index<&K> for IdWindow<K, V> {
    type Output = V;
    fn index(&self, id: &K) -> &V {
        self.get(id)
            .unwrap_or_else(|| panic!("id {} is not live", id.index()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn answers_like_an_ordered_map(ops in proptest::collection::vec((0u8..3, 0u64..40), 1..300)) {
            // Inserts with gaps (ids used elsewhere), removals of live, dead and unknown ids:
            // every lookup, the count and the iteration order must match a BTreeMap's, or
            // code that walked the map would see different storages.
            let mut ours: IdWindow<ExtId, u64> = IdWindow::default();
            let mut theirs = std::collections::BTreeMap::new();
            let mut next = 0u64;
            for (op, n) in ops {
                match op {
                    0 => {
                        next += n % 3;
                        ours.insert(ExtId(next), n);
                        theirs.insert(ExtId(next), n);
                        next += 1;
                    }
                    1 => {
                        let id = ExtId(next.saturating_sub(n));
                        proptest::prop_assert_eq!(ours.remove(&id), theirs.remove(&id));
                    }
                    _ => {
                        let id = ExtId(next.saturating_sub(n));
                        proptest::prop_assert_eq!(ours.get(&id), theirs.get(&id));
                    }
                }
                ours.check_invariants();
                proptest::prop_assert_eq!(ours.len(), theirs.len());
                let a: Vec<_> = ours.iter().map(|(k, v)| (k, *v)).collect();
                let b: Vec<_> = theirs.iter().map(|(k, v)| (*k, *v)).collect();
                proptest::prop_assert_eq!(a, b);
            }
        }
    }

    #[test]
    #[should_panic(expected = "out of counter order")]
    fn an_old_id_cannot_come_back() {
        // A counter never hands out an id twice; inserting one below the newest is a bug.
        let mut t: IdWindow<ExtId, ()> = IdWindow::default();
        t.insert(ExtId(5), ());
        t.insert(ExtId(3), ());
    }
}
