//! Fuzzes the frame parser and the marker: the input picks split points and
//! a frame; `qos_engine::packet::fuzz_parse` parses it whole and split with
//! both framings, rewrites the marks on the result and checks that only the
//! marks changed. Any panic or broken invariant is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(why) = qos_engine::packet::fuzz_parse(data) {
        panic!("invariant broken: {why}");
    }
});
