//! `__chkstk`, the stack probe of x64 Windows, in assembly.
//!
//! Its own file so that tests/tests/rt_chkstk.rs can assemble the same
//! routine on the Linux host (the instructions and directives are the same
//! for COFF and ELF) and check it: registers kept, RSP unchanged, and a frame
//! that does not fit runs into the guard page.

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
