//! Differential test of `Scheduler::submit_batch` for the flows
//! `tests/psched_batch.rs` does not make: shaped flows without a peak rate
//! (the driver's usual flows, which the batch's `short_shaped` serves) and
//! policed flows with one (`short_one`), next to policed flows without one
//! (`short_policed`). Random chains of sends of random sizes (some over
//! MaxSduSize) at random times, on two schedulers: one submitting each
//! chain with `submit_batch`, the other sending it one by one with
//! `enqueue_sized` + one `dequeue` each. After every chain: the same
//! outcomes in the same order, the same packets released by the dequeues
//! that follow (shaper deadlines), and every statistic and count equal.
//! A shaped send that conforms now while its flow's shaper queue holds
//! packets must wait behind them (a mutant skipping that check is caught
//! here, not by `psched_batch`).

use proptest::prelude::*;
use qos_engine::flow::{FlowSpec, SdMode, ServiceType};
use qos_engine::psched::{Limits, Released, Scheduler, SendSize};

// Only `assert_same` of the shared model is used here.
#[allow(dead_code)]
#[path = "support/psched_model.rs"]
mod model;
use model::assert_same;

#[path = "support/psched_chain.rs"]
mod chain;
use chain::{batched, one_by_one};

/// A flow: shaped or policed, with or without a peak rate, service type
/// index, rate in bytes/s.
type Flow = (bool, bool, u8, u64);

fn spec(&(shaped, peak, st, rate): &Flow) -> FlowSpec {
    FlowSpec {
        service_type: [
            ServiceType::BestEffort,
            ServiceType::ControlledLoad,
            ServiceType::Guaranteed,
            ServiceType::Qualitative,
        ][usize::from(st % 4)],
        token_rate: Some(rate),
        bucket: 3000,
        peak_rate: peak.then_some(rate * 2),
        max_sdu: Some(3000),
        min_policed: 100,
        mode: Some(if shaped {
            SdMode::Shape
        } else {
            SdMode::Borrow
        }),
        ..FlowSpec::best_effort("f")
    }
}

fn drain(s: &mut Scheduler<u64>, now: u64) -> Vec<Released<u64>> {
    core::iter::from_fn(|| s.dequeue(now)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn shaped_and_peak_flows_batch_like_per_send_calls(
        flows in proptest::collection::vec(
            (any::<bool>(), proptest::bool::weighted(0.3), 0u8..4, 20_000u64..200_000),
            1..5,
        ),
        steps in proptest::collection::vec(
            (
                0u64..300_000,
                // Flow indexes past the configuration are unknown flows.
                proptest::collection::vec(
                    (0usize..6, 40u32..3200).prop_map(|(f, b)| (Some(f), SendSize::single(b))),
                    1..40,
                ),
                0u32..40,
            ),
            1..30,
        ),
    ) {
        let limits = Limits {
            queue_packets: 48,
            queue_bytes: 60_000,
            max_outstanding: 24,
        };
        let specs: Vec<(u32, FlowSpec)> =
            flows.iter().enumerate().map(|(i, f)| (i as u32, spec(f))).collect();
        let mut a: Scheduler<u64> = Scheduler::new(limits).unwrap();
        let mut b: Scheduler<u64> = Scheduler::new(limits).unwrap();
        a.reconfigure(0, &specs).unwrap();
        b.reconfigure(0, &specs).unwrap();
        let (mut now, mut id) = (0u64, 0u64);
        for (dt, sends, completed) in steps {
            now += dt;
            let x = batched(&mut a, now, &sends, id);
            let y = one_by_one(&mut b, now, &sends, id);
            prop_assert_eq!(x, y);
            prop_assert_eq!(drain(&mut a, now), drain(&mut b, now));
            id += sends.len() as u64;
            let done = completed.min(a.outstanding());
            a.send_completed(done);
            b.send_completed(done);
            assert_same(&a, &b);
        }
    }
}
