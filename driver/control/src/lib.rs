//! qos-control: turns an IOCTL request into a change of the engine's adapter
//! state and a reply. Portable and host-testable; the driver's control
//! device and lwfhost's Unix socket both call it.
//!
//! - [`ControlPlane`]: every adapter's configuration and id counters;
//!   [`ControlPlane::dispatch`] takes (IOCTL code, input, output) and returns
//!   the NTSTATUS and the bytes written. Changes are compiled into a new
//!   `qos_engine::adapter::Snapshot` (complete validation) before anything
//!   changes, then published to the datapath in one step.
//! - [`DatapathHost`]: what the driver provides (adapters, publish a
//!   snapshot, runtime statistics, clear statistics).
//! - [`convert`]: wire <-> engine types, engine errors -> wire statuses,
//!   scheduler statistics -> wire statistics.
//! - `memhost` (feature `memhost`, uses std): an in-memory host with fake
//!   adapters and a stream server for tests (tcctl's CLI tests, HLK suite).
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
#[cfg(any(test, feature = "memhost"))]
extern crate std;

pub mod convert;
#[cfg(feature = "memhost")]
pub mod fuzz;
mod host;
#[cfg(feature = "memhost")]
pub mod memhost;
mod plane;

pub use host::{DatapathHost, HostError};
pub use plane::{ControlPlane, DRIVER_VERSION, DispatchResult};
