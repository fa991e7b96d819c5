//! qoslwf: the NDIS lightweight filter driver.
//!
//! On Windows targets the FFI seam imports ndis.sys and ntoskrnl.exe; on
//! other hosts it is a simulated NDIS ([`sim`]), so the driver's real
//! Filter* callbacks run in tests and in lwfhost.
//!
//! - [`ffi`]: NDIS 6.30 / kernel declarations with layout checks, and the
//!   seam ([`ffi::api`]) with its two backends.
//! - [`nbl`]: safe views of NBL chains, NET_BUFFERs, MDL chains; counted
//!   queues.
//! - [`filter`]: the Filter* handlers and the per-adapter module.
//! - [`datapath`]: classify, conform, mark, shape, sequence (the engine).
//! - [`device`] and [`control`]: the control device and its IOCTL handler.
//! - [`driver`]: DriverEntry / unload.
//! - [`ids`]: registration names shared with the INF.
#![cfg_attr(all(target_os = "windows", not(test)), no_std)]
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

pub mod control;
pub mod datapath;
pub mod device;
pub mod driver;
pub mod ffi;
pub mod filter;
#[cfg(all(feature = "fuzzing", not(target_os = "windows")))]
pub mod fuzz;
pub mod ids;
pub mod nbl;
#[cfg(not(target_os = "windows"))]
pub mod sim;
pub mod sync;
