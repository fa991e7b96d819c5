//! A counting global allocator: live bytes and allocation calls, so a test
//! can assert "no leak" and "no allocation per packet". Install it in a
//! test binary with `#[global_allocator] static A: CountingAlloc = CountingAlloc;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);
static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static T_LIVE: Cell<i64> = const { Cell::new(0) };
    static T_ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn count(bytes: i64, calls: u64) {
    LIVE_BYTES.fetch_add(bytes, Ordering::Relaxed);
    ALLOCS.fetch_add(calls, Ordering::Relaxed);
    let _ = T_LIVE.try_with(|c| c.set(c.get() + bytes));
    let _ = T_ALLOCS.try_with(|c| c.set(c.get() + calls));
}

/// The allocator.
#[derive(Debug)]
pub struct CountingAlloc;

// SAFETY: forwards to the system allocator and only counts.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count(l.size() as i64, 1);
        // SAFETY: forwarded contract.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        count(-(l.size() as i64), 0);
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        count(l.size() as i64, 1);
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        count(new as i64 - l.size() as i64, 1);
        // SAFETY: forwarded contract.
        unsafe { System.realloc(p, l, new) }
    }
}

/// Bytes allocated and not yet freed (process-wide).
#[must_use]
pub fn live_bytes() -> i64 {
    LIVE_BYTES.load(Ordering::Relaxed)
}

/// Allocation calls so far (process-wide).
#[must_use]
pub fn allocations() -> u64 {
    ALLOCS.load(Ordering::Relaxed)
}

/// Bytes this thread allocated minus bytes it freed.
#[must_use]
pub fn thread_live_bytes() -> i64 {
    T_LIVE.with(Cell::get)
}

/// Allocation calls made by this thread.
#[must_use]
pub fn thread_allocations() -> u64 {
    T_ALLOCS.with(Cell::get)
}
