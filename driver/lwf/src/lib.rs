//! qoslwf: the NDIS lightweight filter driver.
//!
//! On Windows targets the FFI seam imports ndis.sys, ntoskrnl.exe and
//! hal.dll; on other hosts it is a simulated NDIS, so the driver's real
//! Filter* callbacks run in tests and in lwfhost.
#![cfg_attr(not(test), no_std)]
// KERNEL LINTS: this crate is the driver; a panic is a bugcheck.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::todo,
        clippy::unimplemented,
        clippy::unreachable,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::panic_in_result_fn,
    )
)]

extern crate alloc;
