//! The panic handler: bugcheck with the panic's location.
//!
//! The kernel crates deny every panicking construct (see the KERNEL LINTS),
//! so a panic here is a bug that slipped through (or a bounds check the
//! compiler kept). Continuing would run on corrupt state at DISPATCH_LEVEL;
//! spinning would hang a CPU. A bugcheck stops the machine with a dump that
//! says where: `!analyze -v` shows the code and the four parameters.

use crate::ntoskrnl::KeBugCheckEx;
use core::panic::PanicInfo;

/// Bugcheck code of a Rust panic in qoslwf: the ASCII bytes "QLWF"
/// (0x514C5746). Not a Microsoft-assigned code; parameters: 1 = source line,
/// 2 = address of the source file name (UTF-8, not NUL-terminated),
/// 3 = its length in bytes, 4 = source column.
pub const QOSLWF_PANIC_BUGCHECK: u32 = u32::from_be_bytes(*b"QLWF");

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    let (line, file_address, file_len, column) = match info.location() {
        Some(at) => (
            at.line() as usize,
            at.file().as_ptr() as usize,
            at.file().len(),
            at.column() as usize,
        ),
        None => (0, 0, 0, 0),
    };
    // SAFETY: KeBugCheckEx may be called at any IRQL and takes plain
    // integers; it does not return.
    unsafe { KeBugCheckEx(QOSLWF_PANIC_BUGCHECK, line, file_address, file_len, column) }
}
