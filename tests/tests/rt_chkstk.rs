//! The image's `__chkstk` (driver/lwf/src/rt/chkstk.rs), assembled for this
//! host and run: it must keep every register but R10/R11, leave RSP alone,
//! and touch every page of the frame it is asked about, so that a frame
//! larger than the stack runs into the guard page below it instead of
//! jumping over it.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

#[path = "../../driver/lwf/src/rt/chkstk.rs"]
mod chkstk;

use std::arch::asm;

const PAGE: usize = 4096;

/// Calls `__chkstk` with RAX = `size` on the current stack; returns
/// (rax, rcx, rdx, rsp before, rsp after).
fn probe(size: u64) -> (u64, u64, u64, u64, u64) {
    let (rax, rcx, rdx, before, after): (u64, u64, u64, u64, u64);
    // SAFETY: __chkstk only reads the stack below RSP, which belongs to this
    // thread (the sizes used stay far inside the test thread's stack); the
    // red zone is stepped over before the call and restored after it.
    unsafe {
        asm!(
            "sub rsp, 128",
            "mov {before}, rsp",
            "call __chkstk",
            "mov {after}, rsp",
            "add rsp, 128",
            before = out(reg) before,
            after = out(reg) after,
            inout("rax") size => rax,
            inout("rcx") 0x1111_2222_3333_4444u64 => rcx,
            inout("rdx") 0x5555_6666_7777_8888u64 => rdx,
            out("r10") _,
            out("r11") _,
        );
    }
    (rax, rcx, rdx, before, after)
}

/// The forked child: maps the stack, protects the guard page, probes, and
/// exits (100/101 = setup failed, 0 = the probe returned).
fn child(len: usize, guard: usize, size: u64) -> ! {
    // SAFETY: a fresh anonymous private mapping; no existing memory is
    // touched.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        // SAFETY: _exit ends the child without running the parent's
        // destructors or atexit handlers.
        unsafe { libc::_exit(100) };
    }
    let base = base.cast::<u8>();
    let guard_page = base.wrapping_add(guard * PAGE);
    // SAFETY: the page lies inside the mapping made above.
    if unsafe { libc::mprotect(guard_page.cast(), PAGE, libc::PROT_NONE) } != 0 {
        // SAFETY: as above.
        unsafe { libc::_exit(101) };
    }
    let top = base.wrapping_add(len - 64);
    // SAFETY: RSP is switched to the top of the mapping for the call only and
    // restored right after; __chkstk reads the mapping (or faults on the
    // guard page, which is what the parent looks for) and keeps every
    // register but R10/R11.
    unsafe {
        asm!(
            "mov {saved}, rsp",
            "mov rsp, {top}",
            "call __chkstk",
            "mov rsp, {saved}",
            top = in(reg) top,
            saved = out(reg) _,
            inout("rax") size => _,
            out("r10") _,
            out("r11") _,
        )
    };
    // SAFETY: as above.
    unsafe { libc::_exit(0) }
}

#[test]
fn keeps_registers_and_the_stack_pointer() {
    for size in [0u64, 1, 8, 4095, 4096, 4097, 3 * 4096 + 17, 64 * 1024] {
        let (rax, rcx, rdx, before, after) = probe(size);
        assert_eq!(rax, size, "rax for {size}");
        assert_eq!(rcx, 0x1111_2222_3333_4444, "rcx for {size}");
        assert_eq!(rdx, 0x5555_6666_7777_8888, "rdx for {size}");
        assert_eq!(before, after, "rsp for {size}");
    }
}

/// In a child process: a stack of `pages` pages whose page number `guard`
/// (0 = lowest) is inaccessible (PROT_NONE); calls __chkstk from 64 bytes
/// below its top with RAX = `size`. Returns the signal that ended the
/// child, or None when it exited cleanly.
fn probe_on_guarded_stack(pages: usize, guard: usize, size: u64) -> Option<i32> {
    let len = pages * PAGE;
    // SAFETY: fork in a test process: the child (`child`) only makes raw
    // syscalls (mmap, mprotect, _exit) and runs the probe, nothing that needs
    // a lock another thread might hold.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        child(len, guard, size);
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    if libc::WIFSIGNALED(status) {
        return Some(libc::WTERMSIG(status));
    }
    assert!(libc::WIFEXITED(status));
    assert_eq!(libc::WEXITSTATUS(status), 0, "child setup failed");
    None
}

/// Bytes between the caller's RSP (64 below the top of 8 pages) and the
/// start of page `n` of the mapping.
fn down_to_page(n: usize) -> u64 {
    (8 * PAGE - 64 - n * PAGE) as u64
}

#[test]
fn a_frame_that_fits_touches_no_guard_page() {
    // Guard at the bottom: everything above it is usable.
    assert_eq!(probe_on_guarded_stack(8, 0, down_to_page(1)), None);
    assert_eq!(probe_on_guarded_stack(8, 0, down_to_page(1) - 16), None);
    // Guard in the middle: a frame that ends just above it.
    assert_eq!(probe_on_guarded_stack(8, 3, down_to_page(4)), None);
}

#[test]
fn a_frame_that_does_not_fit_hits_the_guard_page() {
    // One byte into the guard at the bottom.
    assert_eq!(
        probe_on_guarded_stack(8, 0, down_to_page(1) + 1),
        Some(libc::SIGSEGV)
    );
    // A frame whose lowest byte is accessible again (page 1) below a guard
    // page in the middle (page 3): only a probe that touches every page on
    // the way down faults, one that touched just the ends would not.
    for end in [
        down_to_page(2) + 100,
        down_to_page(1) + 100,
        down_to_page(3) + 1,
    ] {
        assert_eq!(
            probe_on_guarded_stack(8, 3, end),
            Some(libc::SIGSEGV),
            "size {end}"
        );
    }
}
