//! The page cache's index: per file, its cached frames by page index.
//!
//! As in the kernels modelled (a `uvm_object`'s page list, Linux's per-`address_space` radix
//! tree / xarray), the cache is looked up per file by page index, not by one global key. Each
//! file's table is a vector that grows to the highest index cached, so a lookup is two array
//! indexings, and a file renamed away hands back its whole table at once. The price is 8
//! bytes per page up to the highest one touched: fine for the workloads' sequential walks,
//! wasteful for one page touched near the end of a huge file (a sparse radix tree would not
//! be).

use super::{FileId, Pfn};

/// Cached frames by `(file, page index)`.
///
/// Invariant: `len` counts the `Some` entries of every table.
#[derive(Clone, Debug, Default)]
pub(super) struct PageCache {
    files: Vec<Vec<Option<Pfn>>>,
    len: usize,
}

impl PageCache {
    pub(super) fn get(&self, &(file, index): &(FileId, u64)) -> Option<&Pfn> {
        self.files
            .get(file.0 as usize)?
            .get(usize::try_from(index).ok()?)?
            .as_ref()
    }

    pub(super) fn contains_key(&self, key: &(FileId, u64)) -> bool {
        self.get(key).is_some()
    }

    /// Caches `pfn` at `(file, index)`, returning the frame it replaces.
    pub(super) fn insert(&mut self, (file, index): (FileId, u64), pfn: Pfn) -> Option<Pfn> {
        let f = file.0 as usize;
        if self.files.len() <= f {
            self.files.resize_with(f + 1, Vec::new);
        }
        let table = &mut self.files[f];
        let i = usize::try_from(index).expect("page index fits in memory");
        if table.len() <= i {
            table.resize(i + 1, None);
        }
        let old = table[i].replace(pfn);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Tests only: the VM drops a whole file at once ([`PageCache::take_file`]).
    #[cfg(test)]
    pub(super) fn remove(&mut self, &(file, index): &(FileId, u64)) -> Option<Pfn> {
        let slot = self
            .files
            .get_mut(file.0 as usize)?
            .get_mut(usize::try_from(index).ok()?)?;
        let old = slot.take();
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// Removes every page of `file`, in index order.
    pub(super) fn take_file(&mut self, file: FileId) -> Vec<(u64, Pfn)> {
        let Some(table) = self.files.get_mut(file.0 as usize) else {
            return Vec::new();
        };
        let pages: Vec<(u64, Pfn)> = std::mem::take(table)
            .into_iter()
            .enumerate()
            .filter_map(|(i, p)| p.map(|p| (i as u64, p)))
            .collect();
        self.len -= pages.len();
        pages
    }

    /// Every cached page, ordered by file then index.
    pub(super) fn iter(&self) -> impl Iterator<Item = ((FileId, u64), Pfn)> + '_ {
        self.files.iter().enumerate().flat_map(|(f, table)| {
            table
                .iter()
                .enumerate()
                .filter_map(move |(i, p)| p.map(|p| ((FileId(f as u32), i as u64), p)))
        })
    }

    pub(super) fn check_invariants(&self) {
        let held = self.files.iter().flatten().filter(|p| p.is_some()).count();
        assert_eq!(held, self.len, "page cache count drifted");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_an_ordered_map_of_file_and_index() {
        // The VM relied on a BTreeMap keyed by (file, index); this table must answer every
        // query the same way, including iteration order (file, then index) and a whole file
        // taken at once, or output that walks the cache would change.
        let mut pc = PageCache::default();
        let mut reference = std::collections::BTreeMap::new();
        for (f, i, p) in [
            (2u32, 5u64, 1u32),
            (0, 3, 2),
            (2, 0, 3),
            (0, 3, 4),
            (1, 9, 5),
        ] {
            let key = (FileId(f), i);
            assert_eq!(pc.insert(key, Pfn(p)), reference.insert(key, Pfn(p)));
        }
        assert_eq!(
            pc.remove(&(FileId(1), 9)),
            reference.remove(&(FileId(1), 9))
        );
        assert_eq!(pc.remove(&(FileId(7), 1)), None);
        let ours: Vec<_> = pc.iter().collect();
        let theirs: Vec<_> = reference.iter().map(|(k, p)| (*k, *p)).collect();
        assert_eq!(ours, theirs);
        assert_eq!(pc.get(&(FileId(0), 3)), Some(&Pfn(4)));
        assert!(!pc.contains_key(&(FileId(0), 4)));
        assert_eq!(
            pc.take_file(FileId(2)),
            vec![(0, Pfn(3)), (5, Pfn(1))],
            "a file's pages come back in index order"
        );
        assert_eq!(pc.iter().count(), 1);
        pc.check_invariants();
    }
}
