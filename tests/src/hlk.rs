//! Shared steps of the HLK-style suite: a loaded driver with running
//! adapters, and the exactly-once checks every test ends with.

use qoslwf::sim::{Adapter, AdapterSpec, Sim};

/// Load the driver on a virtual clock and attach + restart `n` Ethernet
/// adapters (if_index 1..=n).
#[must_use]
pub fn loaded(n: u32) -> (Sim, Vec<Adapter>) {
    let mut sim = Sim::new();
    assert_eq!(sim.load(), 0, "DriverEntry");
    let adapters = (1..=n)
        .map(|i| {
            let a = sim.attach(&AdapterSpec::ethernet(i)).expect("attach");
            assert_eq!(a.restart(), 0, "restart");
            a
        })
        .collect();
    (sim, adapters)
}

/// Every send from above has been completed exactly once and the sim saw
/// no rule violation.
pub fn assert_clean(sim: &Sim, adapters: &[Adapter]) {
    let errors = sim.errors();
    assert!(errors.is_empty(), "NDIS rule violations: {errors:#?}");
    for a in adapters {
        assert_eq!(a.sends_outstanding(), 0, "sends not completed on {a:?}");
    }
}

/// Unload and check that nothing NDIS-allocated is left.
pub fn unload_clean(mut sim: Sim) {
    sim.unload();
    let live = sim.live();
    assert_eq!(
        live,
        qoslwf::sim::Live::default(),
        "live objects after unload"
    );
    let errors = sim.errors();
    assert!(errors.is_empty(), "NDIS rule violations: {errors:#?}");
}
