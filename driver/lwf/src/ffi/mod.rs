//! The FFI seam: NDIS 6.30 / kernel declarations ([`types`]) and the one set
//! of functions the driver calls ([`api`]).
//!
//! [`api`] has two backends with the same names and signatures:
//! - Windows targets: imports of ndis.sys and ntoskrnl.exe
//!   (`#[link(kind = "raw-dylib", modifiers = "+verbatim")]`).
//! - Every other host: the simulated NDIS of [`crate::sim`], which records
//!   calls, plays the miniport below and the protocol above, and runs timers
//!   on a virtual or real clock.
//!
//! So the same `Filter*` callbacks run on Windows and in the host tests.

pub mod types;

#[cfg(target_os = "windows")]
mod win;

/// The functions the driver calls, whichever backend provides them.
pub mod api {
    #[cfg(target_os = "windows")]
    pub use super::win::*;
    #[cfg(not(target_os = "windows"))]
    pub use crate::sim::ndis::*;
}
