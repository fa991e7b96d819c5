//! Imports from ntoskrnl.exe that the image's runtime needs.
//!
//! Declared `raw-dylib` with `+verbatim` so that no import library is needed
//! (rustc writes one) and the DLL name stays `ntoskrnl.exe`.

use core::ffi::c_void;

// The C library routines that LLVM emits calls to for core's copies, moves,
// fills and comparisons, and `strlen` (alloc's `CString::from_raw` names
// it). ntoskrnl.exe exports all five (they are in mingw-w64's
// libntoskrnl.a). No Rust code calls them by name: the declarations exist
// so that rustc's import library defines them for the linker.
#[allow(dead_code)]
#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "C" {
    pub fn memcpy(dest: *mut c_void, src: *const c_void, count: usize) -> *mut c_void;
    pub fn memmove(dest: *mut c_void, src: *const c_void, count: usize) -> *mut c_void;
    pub fn memset(dest: *mut c_void, value: i32, count: usize) -> *mut c_void;
    pub fn memcmp(a: *const c_void, b: *const c_void, count: usize) -> i32;
    pub fn strlen(s: *const core::ffi::c_char) -> usize;
}

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    /// Windows 10 2004 and later (Microsoft Learn, "ExAllocatePool2"):
    /// zeroes the block unless `POOL_FLAG_UNINITIALIZED`; NULL on failure.
    pub fn ExAllocatePool2(flags: u64, number_of_bytes: usize, tag: u32) -> *mut c_void;
    pub fn ExFreePoolWithTag(p: *mut c_void, tag: u32);
    pub fn KeBugCheckEx(
        bug_check_code: u32,
        parameter1: usize,
        parameter2: usize,
        parameter3: usize,
        parameter4: usize,
    ) -> !;
}
