//! The global allocator: non-paged pool through `ExAllocatePool2`.
//!
//! Non-paged because the driver allocates and frees at DISPATCH_LEVEL (send
//! path, timer DPC) where paged memory may not be touched. Every block
//! carries the pool tag [`POOL_TAG`] (`QLwf` in poolmon / `!pool`), so leaks
//! show up per driver. Pool blocks are 16-byte aligned on x64 (
//! MEMORY_ALLOCATION_ALIGNMENT); a layout that asks for more gets an
//! over-allocated block whose start is stored just below the aligned
//! pointer.

use crate::ntoskrnl::{ExAllocatePool2, ExFreePoolWithTag};
use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;

/// `QLwf` as poolmon shows it (the tag's bytes in memory order).
pub const POOL_TAG: u32 = u32::from_le_bytes(*b"QLwf");

/// POOL_FLAG_NON_PAGED (wdm.h): non-paged, non-executable pool.
const POOL_FLAG_NON_PAGED: u64 = 0x40;
/// POOL_FLAG_UNINITIALIZED (wdm.h): skip the zero fill.
const POOL_FLAG_UNINITIALIZED: u64 = 0x2;
/// The alignment every pool block has on x64.
const POOL_ALIGNMENT: usize = 16;
/// Room for the original block pointer below an over-aligned pointer.
const HEADER: usize = core::mem::size_of::<*mut u8>();

/// The image's `#[global_allocator]`.
#[derive(Debug)]
pub struct PoolAllocator;

#[global_allocator]
static GLOBAL: PoolAllocator = PoolAllocator;

/// Allocates `layout` with the given pool flags; NULL when the pool (or the
/// size arithmetic) fails.
fn allocate(layout: Layout, flags: u64) -> *mut u8 {
    if layout.align() <= POOL_ALIGNMENT {
        // SAFETY: ExAllocatePool2 may be called at IRQL <= DISPATCH_LEVEL
        // for non-paged pool and returns NULL on failure.
        return unsafe { ExAllocatePool2(flags, layout.size(), POOL_TAG) }.cast();
    }
    // Over-aligned: align is a power of two > 16, so rounding a 16-aligned
    // address up to it moves it by 16..=align bytes, always leaving room for
    // the header.
    let Some(total) = layout.size().checked_add(layout.align()) else {
        return core::ptr::null_mut();
    };
    // SAFETY: as above.
    let base: *mut u8 = unsafe { ExAllocatePool2(flags, total, POOL_TAG) }.cast();
    if base.is_null() {
        return base;
    }
    let misalignment = base.addr() & (layout.align().wrapping_sub(1));
    let offset = layout.align().wrapping_sub(misalignment);
    let aligned = base.wrapping_add(offset);
    let header = aligned.wrapping_sub(HEADER).cast::<*mut u8>();
    // SAFETY: `header` lies inside the block (offset >= 16 >= HEADER) and is
    // pointer-aligned (aligned is a multiple of 32, HEADER is 8).
    unsafe { header.write(base) };
    aligned
}

// SAFETY: blocks come from the pool with at least the layout's size and
// alignment (see `allocate`), and are freed with the tag they were
// allocated with, from the start of the pool block.
unsafe impl GlobalAlloc for PoolAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        allocate(layout, POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // ExAllocatePool2 zeroes unless told not to; an over-aligned block is
        // zeroed whole, the part handed out included.
        allocate(layout, POOL_FLAG_NON_PAGED)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let block = if layout.align() <= POOL_ALIGNMENT {
            ptr
        } else {
            let header = ptr.wrapping_sub(HEADER).cast::<*mut u8>();
            // SAFETY: `ptr` came from `allocate` with this layout, which
            // wrote the block's start there.
            unsafe { header.read() }
        };
        // SAFETY: `block` is the start of a pool block allocated with
        // POOL_TAG and not yet freed (GlobalAlloc's contract).
        unsafe { ExFreePoolWithTag(block.cast::<c_void>(), POOL_TAG) };
    }
}
