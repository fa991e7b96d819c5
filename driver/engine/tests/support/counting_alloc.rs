//! A global allocator that counts allocations made by the current thread
//! between [`start`] and [`stop`], for the "never allocates" tests.
//!
//! Only the calling thread is counted: the test harness's own threads
//! allocate at times of their choosing (output capture, timeouts), and a
//! process-wide counter made these tests flaky on a loaded machine.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    // Const-initialised and without a destructor: reading these from inside
    // the allocator never allocates.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

/// Forwards to the system allocator; counts this thread's allocations while
/// counting is on.
pub struct Counting;

fn note() {
    // `try_with`: the allocator may run while thread-locals are torn down.
    let on = COUNTING.try_with(Cell::get).unwrap_or(false);
    if on {
        let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Starts counting this thread's allocations from zero.
pub fn start() {
    ALLOCS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
}

/// Stops counting and returns how many allocations this thread made since
/// [`start`].
pub fn stop() -> usize {
    COUNTING.with(|c| c.set(false));
    ALLOCS.with(Cell::get)
}
