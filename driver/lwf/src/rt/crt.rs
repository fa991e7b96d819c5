//! The few C-runtime symbols that rustc's output for
//! `x86_64-pc-windows-msvc` refers to and that nothing in the kernel
//! provides to a driver linked with `/NODEFAULTLIB`.

use core::ffi::c_void;

/// Emitted by LLVM as a reference whenever a module uses floating point
/// types (core's formatting does); the MSVC CRT defines it. The driver does
/// no floating point at run time (the engine has none), so its value is
/// never read.
#[allow(non_upper_case_globals)]
#[unsafe(no_mangle)]
pub static _fltused: i32 = 0;

/// The C++ exception personality routine named in the unwind tables of the
/// prebuilt `core` (built with panic=unwind). The image is built with
/// panic=abort, so Rust never unwinds; if the kernel's exception dispatcher
/// ever walks a Rust frame, answering `ExceptionContinueSearch` (1) lets it
/// go on to the next frame and, finding no handler, bugcheck with the real
/// exception rather than resume at a wrong place.
#[unsafe(no_mangle)]
pub extern "C" fn __CxxFrameHandler3(
    _exception_record: *mut c_void,
    _establisher_frame: *mut c_void,
    _context_record: *mut c_void,
    _dispatcher_context: *mut c_void,
) -> i32 {
    const EXCEPTION_CONTINUE_SEARCH: i32 = 1;
    EXCEPTION_CONTINUE_SEARCH
}
