//! The runtime of a `wdk`-feature build (Windows host with the WDK): the
//! windows-drivers-rs crates provide what [`crate`]'s own modules provide
//! otherwise.
//!
//! - wdk-panic: the panic handler (a bugcheck);
//! - wdk-alloc: `WdkAllocator`, the global allocator over the pool;
//! - wdk-sys: links the WDK's ntoskrnl.lib/hal.lib (memcpy & co,
//!   `__chkstk`) and defines `_fltused` and `__CxxFrameHandler3`.

use wdk_panic as _;
use wdk_sys as _;

#[global_allocator]
static GLOBAL: wdk_alloc::WdkAllocator = wdk_alloc::WdkAllocator;
