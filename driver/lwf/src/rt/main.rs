//! qoslwf.sys: the kernel image of the driver.
//!
//! This bin links the `qoslwf` library (the driver: `DriverEntry`, the
//! Filter* handlers, the datapath, the control device) into a PE driver
//! image for `x86_64-pc-windows-msvc`, with the runtime that a `no_std`
//! Rust image needs in the kernel and that no CRT provides there:
//!
//! - [`ntoskrnl`]: imports from ntoskrnl.exe (`memcpy` & co for core's
//!   code, the pool allocator, `KeBugCheckEx`);
//! - [`crt`]: `_fltused` and the `__CxxFrameHandler3` stub that core's
//!   unwind tables name; [`chkstk`]: a real `__chkstk` stack probe;
//! - [`pool`]: the global allocator over `ExAllocatePool2` (non-paged pool,
//!   tag `QLwf`);
//! - [`panic`]: the panic handler, which bugchecks with the location.
//!
//! With the `wdk` feature (Windows host with the WDK) the WDK crates supply
//! the panic handler, the allocator and those symbols instead; see
//! [`wdk_runtime`]. The link flags are in `build.rs`; `cargo make sys`
//! builds this bin with rust-lld on any host and names the result
//! `qoslwf.sys`. On other targets this bin is a stub that says so.
#![cfg_attr(target_os = "windows", no_std, no_main)]
// KERNEL LINTS (as in the library): a panic here is a bugcheck.
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

// The driver itself; `DriverEntry` (no_mangle) comes from here.
#[cfg(target_os = "windows")]
use qoslwf as _;

#[cfg(all(target_os = "windows", not(feature = "wdk")))]
mod chkstk;
#[cfg(all(target_os = "windows", not(feature = "wdk")))]
mod crt;
#[cfg(all(target_os = "windows", not(feature = "wdk")))]
mod ntoskrnl;
#[cfg(all(target_os = "windows", not(feature = "wdk")))]
mod panic;
#[cfg(all(target_os = "windows", not(feature = "wdk")))]
mod pool;

#[cfg(all(target_os = "windows", feature = "wdk"))]
mod wdk_runtime;

#[cfg(not(target_os = "windows"))]
fn main() {
    eprintln!(
        "qoslwf: this binary is the Windows kernel image; build it with \
         `cargo make sys` (target x86_64-pc-windows-msvc)"
    );
    std::process::exit(2);
}
