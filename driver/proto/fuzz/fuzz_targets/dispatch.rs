//! Scripts of IOCTLs and host events into qos-control's dispatch over
//! memhost: every reply must decode, agree with its NTSTATUS, and the
//! host's snapshot must be the control plane's. Run with
//! `cargo +nightly fuzz run dispatch` from driver/proto.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = qos_control::fuzz::fuzz_dispatch(data);
});
