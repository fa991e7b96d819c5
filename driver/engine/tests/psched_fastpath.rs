//! Differential test of the scheduler's fast path (a lone sequencer packet
//! kept aside, see `Scheduler::set_fast_path`): the same random sequence
//! of operations (enqueues of every mode, unclassified and unknown flows,
//! LSO sizes, dequeues under a small outstanding bound, completions, time,
//! reconfigurations, cancels, drains, quantum changes) on a scheduler with
//! the fast path and one without must give the same results: the same
//! packets refused for the same reasons, the same packets released in the
//! same order with the same flow and conformance, the same `next_event`,
//! and every statistic and count equal after every step.

use proptest::prelude::*;
use qos_engine::flow::FlowSpec;
use qos_engine::psched::{Limits, Scheduler, SendSize};

#[path = "support/psched_model.rs"]
mod model;
use model::{Common, assert_same};

#[derive(Debug, Clone)]
enum Op {
    Enqueue(Option<usize>, SendSize),
    /// Enqueue then one dequeue (the send path's common pattern).
    EnqueueDequeue(Option<usize>, SendSize),
    C(Common),
}

fn size() -> impl Strategy<Value = SendSize> {
    prop_oneof![
        4 => (20u32..4000).prop_map(SendSize::single),
        1 => (1u32..20_000, 40u32..60, 200u32..1500)
            .prop_map(|(payload, h, mss)| SendSize::tcp_lso(14 + h + payload, 14, h, mss)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (proptest::option::of(0usize..7), size()).prop_map(|(f, b)| Op::Enqueue(f, b)),
        6 => (proptest::option::of(0usize..7), size()).prop_map(|(f, b)| Op::EnqueueDequeue(f, b)),
        5 => Just(Op::C(Common::Dequeue)),
        3 => Just(Op::C(Common::DequeueAll)),
        3 => (0u32..4).prop_map(|n| Op::C(Common::Complete(n))),
        3 => (0u64..3_000_000).prop_map(|t| Op::C(Common::Advance(t))),
        2 => Just(Op::C(Common::ToNextEvent)),
        1 => proptest::collection::vec((0u32..8, 0u8..5, 0u8..5), 0..6)
            .prop_map(|f| Op::C(Common::Reconfigure(f))),
        1 => (2u64..7).prop_map(|m| Op::C(Common::Cancel(m))),
        1 => Just(Op::C(Common::Drain)),
        2 => (200u32..3000).prop_map(|q| Op::C(Common::Quantum(q))),
    ]
}

/// The flows of this test: 20,000 bytes/s, no MaxSduSize on shaped flows.
fn spec(mode: u8, st: u8) -> FlowSpec {
    model::spec(mode, st, 20_000, false)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn fast_path_is_invisible(
        ops in proptest::collection::vec(op(), 1..300),
        max_out in 1u32..6,
        queue_packets in 4u32..40,
    ) {
        let limits = Limits { queue_packets, queue_bytes: 60_000, max_outstanding: max_out };
        let mut fast: Scheduler<u64> = Scheduler::new(limits).unwrap();
        let mut slow: Scheduler<u64> = Scheduler::new(limits).unwrap();
        slow.set_fast_path(false);
        let initial = [(0, spec(0, 2)), (1, spec(1, 1)), (2, spec(3, 0)), (3, spec(4, 0)), (4, spec(2, 3))];
        fast.reconfigure(0, &initial).unwrap();
        slow.reconfigure(0, &initial).unwrap();
        let mut now = 0u64;
        let mut next_id = 0u64;
        for op in ops {
            match op {
                Op::Enqueue(flow, size) => {
                    next_id += 1;
                    let a = fast.enqueue_sized(now, flow, size, next_id);
                    let b = slow.enqueue_sized(now, flow, size, next_id);
                    prop_assert_eq!(a, b);
                }
                Op::EnqueueDequeue(flow, size) => {
                    next_id += 1;
                    let a = fast
                        .enqueue(now, flow, size.ip_bytes, next_id)
                        .map(|()| fast.dequeue(now));
                    let b = slow
                        .enqueue_sized(now, flow, SendSize::single(size.ip_bytes), next_id)
                        .map(|()| slow.dequeue(now));
                    prop_assert_eq!(a, b);
                }
                Op::C(op) => model::apply(op, &mut fast, &mut slow, &mut now, spec)?,
            }
            assert_same(&fast, &slow);
        }
    }
}

/// A lone packet enqueued when a shaped packet falls due at exactly `now`:
/// `dequeue` moves the shaped packet into the sequencer, which puts the
/// lone packet in its queue first, and priority decides.
#[test]
fn lone_packet_at_a_shaped_deadline() {
    for fast_path in [true, false] {
        let limits = Limits {
            queue_packets: 16,
            queue_bytes: 1 << 20,
            max_outstanding: 8,
        };
        let mut s: Scheduler<u64> = Scheduler::new(limits).unwrap();
        s.set_fast_path(fast_path);
        // Flow 0 shaped (guaranteed), flow 1 best effort without a rate.
        s.reconfigure(0, &[(0, spec(0, 2)), (1, spec(4, 0))])
            .unwrap();
        s.enqueue(0, Some(0), 4000, 1).unwrap();
        s.enqueue(0, Some(0), 4000, 2).unwrap();
        assert_eq!(s.dequeue(0).map(|r| r.pkt), Some(1));
        assert_eq!(s.dequeue(0), None);
        let t = s.next_event().unwrap();
        // The best-effort packet arrives when the guaranteed one is due: the
        // guaranteed one (higher level) leaves first.
        s.enqueue(t, Some(1), 100, 3).unwrap();
        let r = s.dequeue(t).unwrap();
        assert_eq!((r.pkt, r.flow), (2, Some(0)), "fast path {fast_path}");
        assert_eq!(s.dequeue(t).map(|r| r.pkt), Some(3));
    }
}
