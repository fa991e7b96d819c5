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

// __chkstk: the stack probe LLVM calls before allocating a frame larger than
// a page (x64 Windows convention: RAX = frame size in bytes; every register
// but R10/R11 and the flags is preserved; RSP is not changed, the caller
// subtracts RAX itself). It touches one byte in each 4 KiB page of the new
// frame, from the top down, so that a frame that does not fit runs into the
// kernel stack's guard page at once (a clean stack-overflow bugcheck)
// instead of skipping over it and corrupting whatever lies below. Reads
// suffice: the guard page faults on any access. Kernel stacks are resident,
// so unlike the user-mode routine there is no stack-limit shortcut via the
// TEB (GS points at the KPCR in kernel mode).
core::arch::global_asm!(
    ".globl __chkstk",
    ".p2align 4",
    "__chkstk:",
    "    push rcx",
    "    push rax",
    // RCX = the caller's RSP before its `call`: our two pushes and the
    // return address are above it.
    "    lea rcx, [rsp + 24]",
    "2:",
    "    cmp rax, 4096",
    "    jb 3f",
    "    sub rcx, 4096",
    "    test byte ptr [rcx], cl",
    "    sub rax, 4096",
    "    jmp 2b",
    "3:",
    // The last, partial page: the lowest byte of the frame.
    "    sub rcx, rax",
    "    test byte ptr [rcx], cl",
    "    pop rax",
    "    pop rcx",
    "    ret",
);
