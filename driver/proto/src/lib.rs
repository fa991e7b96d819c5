//! qos-proto: the IOCTL ABI between tcctl and the qoslwf driver.
//!
//! Every request and reply starts with a versioned header; every field is
//! encoded explicitly in little-endian with length checks. Untrusted bytes
//! are never reinterpreted as structs.
#![no_std]
#![forbid(unsafe_code)]
// KERNEL LINTS: this crate runs in the driver; a panic is a bugcheck.
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
#[cfg(test)]
extern crate std;
