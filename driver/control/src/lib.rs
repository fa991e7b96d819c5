//! qos-control: turns an IOCTL request into a change of the engine's adapter
//! state and a reply. Portable and host-testable; the driver's control
//! device and lwfhost's Unix socket both call it.
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
