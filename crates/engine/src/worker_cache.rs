//! Verdict caches kept per worker thread. A compiled `Config` is shared by every worker of a
//! native Envoy (`Send + Sync`, behind an `Arc`) while a cache is written on the request path:
//! each thread keeps its own table, so no lock is ever taken. A `VerdictCache` holds only the
//! key of its table; in a wasm VM (one thread) there is one table, as before.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::fast_hash::FastHashMap;

/// Caches one thread keeps at most. A configuration dropped on another thread (Envoy destroys a
/// filter configuration on its main thread) leaves its workers' tables behind; past this many
/// the thread starts over, so replaced configurations cannot grow a worker's memory.
const MAX_CACHES_PER_THREAD: usize = 64;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

type Table = FastHashMap<Box<[u8]>, bool>;

thread_local! {
    static TABLES: RefCell<FastHashMap<u64, Table>> = RefCell::new(FastHashMap::default());
}

/// A bounded cache of boolean verdicts by key, at most `CAP` entries per thread; it starts
/// over when full, so hostile keys cost computation, never unbounded memory.
#[derive(Debug)]
pub(crate) struct VerdictCache<const CAP: usize> {
    id: u64,
}

impl<const CAP: usize> Default for VerdictCache<CAP> {
    fn default() -> Self {
        VerdictCache { id: NEXT_ID.fetch_add(1, Ordering::Relaxed) }
    }
}

impl<const CAP: usize> VerdictCache<CAP> {
    /// The verdict cached for `key` on this thread, else `compute()`'s, remembered. `compute`
    /// runs with no table borrowed; were a cache reached re-entrantly or after the thread's
    /// storage is gone, the verdict is computed and not remembered.
    pub(crate) fn get_or_compute(&self, key: &[u8], compute: impl FnOnce() -> bool) -> bool {
        let cached =
            TABLES.try_with(|tables| tables.try_borrow().ok()?.get(&self.id)?.get(key).copied()).ok().flatten();
        if let Some(verdict) = cached {
            return verdict;
        }
        let verdict = compute();
        let _ = TABLES.try_with(|tables| {
            let Ok(mut tables) = tables.try_borrow_mut() else {
                return;
            };
            if !tables.contains_key(&self.id) && tables.len() >= MAX_CACHES_PER_THREAD {
                tables.clear();
            }
            let table = tables.entry(self.id).or_default();
            if table.len() >= CAP {
                table.clear();
            }
            table.insert(key.into(), verdict);
        });
        verdict
    }

    /// Entries this thread holds (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        TABLES.with(|tables| tables.borrow().get(&self.id).map_or(0, FastHashMap::len))
    }
}

impl<const CAP: usize> Drop for VerdictCache<CAP> {
    fn drop(&mut self) {
        let _ = TABLES.try_with(|tables| {
            if let Ok(mut tables) = tables.try_borrow_mut() {
                tables.remove(&self.id);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn remembers_per_cache_and_bounds_entries() {
        let a: VerdictCache<2> = VerdictCache::default();
        let b: VerdictCache<2> = VerdictCache::default();
        assert!(a.get_or_compute(b"x", || true));
        // Cached: `compute` is not called again.
        assert!(a.get_or_compute(b"x", || false));
        assert!(!b.get_or_compute(b"x", || false));
        a.get_or_compute(b"y", || true);
        a.get_or_compute(b"z", || true);
        assert!(a.len() <= 2);
        drop(a);
        assert_eq!(b.len(), 1);
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn each_thread_keeps_its_own_verdicts() {
        let cache: std::sync::Arc<VerdictCache<4>> = std::sync::Arc::default();
        assert!(cache.get_or_compute(b"k", || true));
        let other = std::sync::Arc::clone(&cache);
        let seen = std::thread::spawn(move || other.get_or_compute(b"k", || false)).join().unwrap();
        assert!(!seen, "another thread computes its own verdict");
        assert!(cache.get_or_compute(b"k", || false));
    }
}
