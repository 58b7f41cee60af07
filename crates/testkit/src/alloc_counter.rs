//! A global allocator that counts, per thread, the allocations and bytes a piece of code asks
//! for: the engine's "no allocation per decision" and "memory linear in the request" checks.
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: testkit::alloc_counter::Counting = testkit::alloc_counter::Counting;
//! let (result, allocated) = testkit::alloc_counter::measure(|| work());
//! ```

// The one `unsafe` here implements `GlobalAlloc`, whose methods are `unsafe` by definition.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static COUNT: Cell<usize> = const { Cell::new(0) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
}

/// What a measured piece of code allocated on its thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Allocated {
    /// Calls to `alloc` and `realloc`.
    pub count: usize,
    /// Bytes those calls asked for.
    pub bytes: usize,
}

/// The system allocator, counting; install it with `#[global_allocator]`.
pub struct Counting;

fn record(bytes: usize) {
    // `try_with`: the thread-locals may be gone while a thread is torn down.
    let _ = COUNT.try_with(|c| c.set(c.get() + 1));
    let _ = BYTES.try_with(|b| b.set(b.get() + bytes));
}

// SAFETY: every method forwards to `System` with the caller's own arguments, so `System`'s
// guarantees are the caller's; the counting touches only thread-local cells, never memory the
// allocator hands out, and does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (every allocation here is) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: as for `dealloc`; `new_size` is the caller's, checked by its contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` and returns what it allocated on this thread (with `Counting` installed; zero
/// otherwise).
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Allocated) {
    let before = now();
    let out = f();
    let after = now();
    (out, Allocated { count: after.count - before.count, bytes: after.bytes - before.bytes })
}

fn now() -> Allocated {
    Allocated { count: COUNT.with(Cell::get), bytes: BYTES.with(Cell::get) }
}
