//! Random bytes into the driver's send path on the simulated NDIS: a
//! configuration, then NBL chains of arbitrary frames, MDL splits,
//! NET_BUFFER counts and LSO info values, time, completions, cancels and
//! pause / restart (see `qoslwf::fuzz`). Run with
//! `cargo +nightly fuzz run send` from driver/lwf.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = qoslwf::fuzz::send_path(data);
});
