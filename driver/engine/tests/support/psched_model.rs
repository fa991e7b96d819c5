//! The model operations shared by the scheduler's differential tests
//! (`psched_batch.rs`, `psched_fastpath.rs`): two schedulers that must
//! behave the same get the same calls, and every statistic is compared
//! after each step.

use proptest::prelude::*;
use qos_engine::flow::{FlowSpec, SdMode, ServiceType};
use qos_engine::psched::Scheduler;

/// The calls both differential tests make on both schedulers alike.
#[derive(Debug, Clone)]
pub enum Common {
    Dequeue,
    DequeueAll,
    Complete(u32),
    Advance(u64),
    /// To the shaper's next deadline exactly (if later than now).
    ToNextEvent,
    Reconfigure(Vec<(u32, u8, u8)>),
    Cancel(u64),
    Drain,
    Quantum(u32),
}

/// A flow of mode `mode` (0 shape with a peak, 1 borrow, 2 discard, 3
/// borrow-plus, 4 unlimited best effort) and service type index `st`, at
/// `rate` bytes/s with a 6000-byte bucket; MaxSduSize 3000 for borrow,
/// discard and (if `shape_max_sdu`) shape.
pub fn spec(mode: u8, st: u8, rate: u64, shape_max_sdu: bool) -> FlowSpec {
    let service_type = [
        ServiceType::BestEffort,
        ServiceType::ControlledLoad,
        ServiceType::Guaranteed,
        ServiceType::NetworkControl,
        ServiceType::Qualitative,
    ][usize::from(st)];
    if mode == 4 {
        return FlowSpec {
            service_type: ServiceType::BestEffort,
            ..FlowSpec::best_effort("unlimited")
        };
    }
    FlowSpec {
        service_type,
        token_rate: Some(rate),
        bucket: 6000,
        peak_rate: (mode == 0).then_some(rate * 2),
        max_sdu: (mode == 2 || mode == 1 || (mode == 0 && shape_max_sdu)).then_some(3000),
        min_policed: 100,
        mode: Some(
            [
                SdMode::Shape,
                SdMode::Borrow,
                SdMode::Discard,
                SdMode::BorrowPlus,
            ][usize::from(mode)],
        ),
        ..FlowSpec::best_effort("f")
    }
}

/// Every statistic and count of `a` equals that of `b`.
pub fn assert_same(a: &Scheduler<u64>, b: &Scheduler<u64>) {
    assert_eq!(a.stats(), b.stats());
    assert_eq!(a.flow_count(), b.flow_count());
    for i in 0..a.flow_count() {
        assert_eq!(a.flow_stats(i), b.flow_stats(i), "flow {i}");
    }
    assert_eq!(a.unclassified_stats(), b.unclassified_stats());
    assert_eq!(a.held_packets(), b.held_packets());
    assert_eq!(a.held_bytes(), b.held_bytes());
    assert_eq!(a.packets_in_shaper(), b.packets_in_shaper());
    assert_eq!(a.packets_in_sequencer(), b.packets_in_sequencer());
    assert_eq!(a.outstanding(), b.outstanding());
    assert_eq!(a.next_event(), b.next_event());
}

/// Makes `op` on both schedulers (`spec` builds a reconfiguration's
/// flows) and checks that they answer alike; `now` is the clock both use
/// (`ToNextEvent` follows `b`'s deadline).
pub fn apply(
    op: Common,
    a: &mut Scheduler<u64>,
    b: &mut Scheduler<u64>,
    now: &mut u64,
    spec: impl Fn(u8, u8) -> FlowSpec,
) -> Result<(), TestCaseError> {
    match op {
        Common::Dequeue => prop_assert_eq!(a.dequeue(*now), b.dequeue(*now)),
        Common::DequeueAll => loop {
            let (x, y) = (a.dequeue(*now), b.dequeue(*now));
            prop_assert_eq!(&x, &y);
            if x.is_none() {
                break;
            }
        },
        Common::Complete(n) => {
            a.send_completed(n);
            b.send_completed(n);
        }
        Common::Advance(dt) => *now += dt,
        Common::ToNextEvent => *now = (*now).max(b.next_event().unwrap_or(*now)),
        Common::Reconfigure(flows) => {
            let mut seen = std::collections::HashSet::new();
            let flows: Vec<_> = flows
                .into_iter()
                .filter(|(id, _, _)| seen.insert(*id))
                .map(|(id, m, st)| (id, spec(m, st)))
                .collect();
            a.reconfigure(*now, &flows).unwrap();
            b.reconfigure(*now, &flows).unwrap();
        }
        Common::Cancel(m) => {
            let (mut x, mut y) = (vec![], vec![]);
            a.remove_if(|p| p % m == 0, |p| x.push(p));
            b.remove_if(|p| p % m == 0, |p| y.push(p));
            prop_assert_eq!(x, y);
        }
        Common::Drain => {
            let (mut x, mut y) = (vec![], vec![]);
            a.drain(|p| x.push(p));
            b.drain(|p| y.push(p));
            prop_assert_eq!(x, y);
        }
        Common::Quantum(q) => {
            prop_assert_eq!(a.set_quantum(q).is_ok(), b.set_quantum(q).is_ok());
        }
    }
    Ok(())
}
