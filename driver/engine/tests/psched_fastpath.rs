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
use qos_engine::flow::{FlowSpec, SdMode, ServiceType};
use qos_engine::psched::{Limits, Scheduler, SendSize};

#[derive(Debug, Clone)]
enum Op {
    Enqueue(Option<usize>, SendSize),
    /// Enqueue then one dequeue (the send path's common pattern).
    EnqueueDequeue(Option<usize>, SendSize),
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
        5 => Just(Op::Dequeue),
        3 => Just(Op::DequeueAll),
        3 => (0u32..4).prop_map(Op::Complete),
        3 => (0u64..3_000_000).prop_map(Op::Advance),
        2 => Just(Op::ToNextEvent),
        1 => proptest::collection::vec((0u32..8, 0u8..5, 0u8..5), 0..6).prop_map(Op::Reconfigure),
        1 => (2u64..7).prop_map(Op::Cancel),
        1 => Just(Op::Drain),
        2 => (200u32..3000).prop_map(Op::Quantum),
    ]
}

fn spec(mode: u8, st: u8) -> FlowSpec {
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
        token_rate: Some(20_000),
        bucket: 6000,
        peak_rate: (mode == 0).then_some(40_000),
        max_sdu: (mode == 2 || mode == 1).then_some(3000),
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

fn assert_same(a: &Scheduler<u64>, b: &Scheduler<u64>) {
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
                Op::Dequeue => prop_assert_eq!(fast.dequeue(now), slow.dequeue(now)),
                Op::DequeueAll => loop {
                    let (a, b) = (fast.dequeue(now), slow.dequeue(now));
                    prop_assert_eq!(&a, &b);
                    if a.is_none() {
                        break;
                    }
                },
                Op::Complete(n) => {
                    fast.send_completed(n);
                    slow.send_completed(n);
                }
                Op::Advance(dt) => now += dt,
                Op::ToNextEvent => now = now.max(fast.next_event().unwrap_or(now)),
                Op::Reconfigure(flows) => {
                    let mut seen = std::collections::HashSet::new();
                    let flows: Vec<_> = flows
                        .into_iter()
                        .filter(|(id, _, _)| seen.insert(*id))
                        .map(|(id, m, st)| (id, spec(m, st)))
                        .collect();
                    fast.reconfigure(now, &flows).unwrap();
                    slow.reconfigure(now, &flows).unwrap();
                }
                Op::Cancel(m) => {
                    let (mut x, mut y) = (vec![], vec![]);
                    fast.remove_if(|p| p % m == 0, |p| x.push(p));
                    slow.remove_if(|p| p % m == 0, |p| y.push(p));
                    prop_assert_eq!(x, y);
                }
                Op::Drain => {
                    let (mut x, mut y) = (vec![], vec![]);
                    fast.drain(|p| x.push(p));
                    slow.drain(|p| y.push(p));
                    prop_assert_eq!(x, y);
                }
                Op::Quantum(q) => {
                    prop_assert_eq!(fast.set_quantum(q).is_ok(), slow.set_quantum(q).is_ok());
                }
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
