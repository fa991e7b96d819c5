//! The image's global allocator (driver/lwf/src/rt/pool.rs) run on the host
//! over a fake pool: `ExAllocatePool2` / `ExFreePoolWithTag` below are
//! malloc/calloc/free with 16-byte alignment (what the x64 pool gives),
//! checking the flags and the tag and counting live blocks. pool.rs is this
//! test binary's `#[global_allocator]`, so the test harness itself runs on
//! it too.
#![cfg(all(target_arch = "x86_64", unix))]

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

#[path = "../../driver/lwf/src/rt/pool.rs"]
mod pool;

/// The fake ntoskrnl.exe that pool.rs imports from (`crate::ntoskrnl`).
mod ntoskrnl {
    #![allow(non_snake_case)]
    use super::{LIVE, MISUSE};
    use core::ffi::c_void;
    use std::sync::atomic::Ordering;

    const POOL_FLAG_UNINITIALIZED: u64 = 0x2;
    const POOL_FLAG_NON_PAGED: u64 = 0x40;

    /// # Safety
    /// As the kernel's: returns NULL or a block of `size` bytes.
    pub unsafe extern "system" fn ExAllocatePool2(
        flags: u64,
        size: usize,
        tag: u32,
    ) -> *mut c_void {
        if tag != super::pool::POOL_TAG || flags & POOL_FLAG_NON_PAGED == 0 {
            MISUSE.fetch_add(1, Ordering::Relaxed);
        }
        let p = if flags & POOL_FLAG_UNINITIALIZED != 0 {
            // SAFETY: plain malloc; glibc returns 16-byte aligned blocks.
            let p = unsafe { libc::malloc(size.max(1)) };
            if !p.is_null() {
                // Garbage, so a caller that wrongly relies on zeroes fails.
                // SAFETY: the block has at least size.max(1) bytes.
                unsafe { core::ptr::write_bytes(p.cast::<u8>(), 0xA5, size.max(1)) };
            }
            p
        } else {
            // SAFETY: plain calloc.
            unsafe { libc::calloc(1, size.max(1)) }
        };
        if !p.is_null() {
            LIVE.with(|n| n.set(n.get() + 1));
            if p.addr() % 16 != 0 {
                MISUSE.fetch_add(1, Ordering::Relaxed);
            }
        }
        p
    }

    /// # Safety
    /// `p` from ExAllocatePool2 with the same tag.
    pub unsafe extern "system" fn ExFreePoolWithTag(p: *mut c_void, tag: u32) {
        if tag != super::pool::POOL_TAG {
            MISUSE.fetch_add(1, Ordering::Relaxed);
        }
        LIVE.with(|n| n.set(n.get() - 1));
        // SAFETY: from malloc/calloc above.
        unsafe { libc::free(p) };
    }
}

thread_local! {
    /// Pool blocks allocated minus blocks freed on this thread (a const
    /// thread-local: reading it never allocates). Per thread because the
    /// harness allocates on other threads meanwhile.
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn live() -> isize {
    LIVE.with(Cell::get)
}
/// Wrong tag, paged pool, or a misaligned block.
static MISUSE: AtomicUsize = AtomicUsize::new(0);

const ALIGNS: [usize; 9] = [1, 2, 8, 16, 32, 64, 256, 4096, 8192];
const SIZES: [usize; 8] = [1, 7, 16, 31, 100, 4096, 5000, 70_000];

#[test]
fn every_layout_is_aligned_writable_and_freed() {
    let a = pool::PoolAllocator;
    let before = live();
    for align in ALIGNS {
        for size in SIZES {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: non-zero size; freed below with the same layout.
            let p = unsafe { a.alloc(layout) };
            assert!(!p.is_null(), "{layout:?}");
            assert_eq!(p.addr() % align, 0, "{layout:?}");
            // SAFETY: the block has `size` bytes.
            unsafe { core::ptr::write_bytes(p, 0x5A, size) };
            // SAFETY: allocated above with this layout.
            unsafe { a.dealloc(p, layout) };
        }
    }
    assert_eq!(live(), before);
    assert_eq!(MISUSE.load(Ordering::SeqCst), 0);
}

#[test]
fn zeroed_blocks_are_zero_including_over_aligned_ones() {
    let a = pool::PoolAllocator;
    for align in ALIGNS {
        for size in SIZES {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: non-zero size; freed below.
            let p = unsafe { a.alloc_zeroed(layout) };
            assert!(!p.is_null());
            assert_eq!(p.addr() % align, 0);
            // SAFETY: the block has `size` initialized (zeroed) bytes.
            let bytes = unsafe { core::slice::from_raw_parts(p, size) };
            assert!(bytes.iter().all(|b| *b == 0), "{layout:?}");
            // SAFETY: allocated above with this layout.
            unsafe { a.dealloc(p, layout) };
        }
    }
    assert_eq!(MISUSE.load(Ordering::SeqCst), 0);
}

#[test]
fn the_heap_of_this_test_runs_on_it() {
    // Vec, Box and String go through the global allocator: pool.rs.
    let before = live();
    let v: Vec<Box<[u64; 9]>> = (0..1000).map(|i| Box::new([i; 9])).collect();
    assert_eq!(live(), before + 1001, "1000 boxes and the vector");
    assert_eq!(v.iter().map(|b| b[8]).sum::<u64>(), 999 * 1000 / 2);
    drop(v);
    assert_eq!(live(), before);
    assert_eq!(MISUSE.load(Ordering::SeqCst), 0);
}

#[test]
fn a_request_the_pool_cannot_meet_returns_null() {
    let a = pool::PoolAllocator;
    let layout = Layout::from_size_align(isize::MAX as usize - 4095, 4096).unwrap();
    // SAFETY: non-zero size; a NULL result is the expected answer.
    let p = unsafe { a.alloc(layout) };
    assert!(p.is_null());
}
