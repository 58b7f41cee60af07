//! Hash tables keyed by configured strings. foldhash is several times faster than SipHash on
//! short keys; its per-process random seed keeps request-controlled keys from being steered
//! into collisions, and the only table that grows at request time is bounded.

/// A hash set with foldhash.
pub(crate) type FastHashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
/// A hash map with foldhash.
pub type FastHashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
