//! Random bytes into every qos-proto decoder (requests under every IOCTL
//! code, replies of every operation, transport prefixes). Run with
//! `cargo +nightly fuzz run decoders` from driver/proto.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = qos_proto::fuzz::fuzz_decoders(data);
});
