//! The control plane's stateful fuzz body over random scripts (the stable
//! twin of the cargo-fuzz target `dispatch` in driver/proto/fuzz).

use proptest::prelude::*;
use qos_control::fuzz::fuzz_dispatch;

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn random_scripts(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = fuzz_dispatch(&data);
    }

    /// Scripts made mostly of well-formed requests and host events.
    #[test]
    fn well_formed_scripts(steps in proptest::collection::vec((21u8..=255, any::<[u8; 6]>()), 0..40)) {
        let mut data = Vec::new();
        for (sel, b) in steps {
            data.push(sel);
            data.extend_from_slice(&b);
        }
        let _ = fuzz_dispatch(&data);
    }
}

/// The script language reaches successful changes (not only refusals).
#[test]
fn scripts_reach_successful_changes() {
    // sel 36 = AddFlow (36 % 12 == 0) id 1; 39/40 = AddFilter; 42 = AddPolicy.
    let script = [
        36, 0, 1, 0, 0, 0, 0, // adapter 0 does not exist: refused
        36, 1, 1, 0, 0, 0, 0, // adapter 1, flow id 1
        39, 1, 2, 1, 0, 9, 0, // add filter id 2 -> flow 1
        42, 1, 1, 0, 0, 1, 0, // add policy id 1: dscp 0, throttle 1000 bit/s
        46, 1, 0, 0, 0, 0, 0, // enum flows
    ];
    assert!(fuzz_dispatch(&script) >= 3);
}
