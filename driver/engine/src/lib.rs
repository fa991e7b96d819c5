//! qos-engine: the QoS logic of qoslwf, portable and testable on any host.
//!
//! - [`packet`]: zero-copy views over a frame split across byte slices (the
//!   way an MDL chain splits it) and the [`packet::FlowKey`] they produce.
//! - [`gpc`]: the Generic Packet Classifier: filters compiled into an
//!   immutable lookup table.
//! - [`flow`]: flow specifications (FLOWSPEC + TC objects) and their
//!   validation.
//! - [`psched`]: the packet scheduler: conformer, shaper, sequencer.
//! - [`mark`]: DSCP and 802.1p marking.
//! - [`adapter`]: one adapter's configuration, compiled into a snapshot.
//! - [`time`]: ticks of 100 ns; the engine never reads a clock.
//!
//! The crate is `no_std` (with `alloc`) and contains no `unsafe`. Every
//! function that the driver runs is written so that it cannot panic: the
//! KERNEL LINTS below turn the usual sources of panics into errors.
#![no_std]
#![forbid(unsafe_code)]
// KERNEL LINTS: a panic in the kernel is a bugcheck. Tests may unwrap.
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

pub mod adapter;
pub mod error;
pub mod flow;
pub mod gpc;
pub mod mark;
pub mod packet;
pub mod psched;
pub mod time;
