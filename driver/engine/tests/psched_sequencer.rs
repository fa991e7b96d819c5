//! Sequencer: strict priority between levels, DRR between the flows of a
//! level, the outstanding-sends bound, unclassified traffic; checked against
//! a simple model with random operations.

use std::collections::VecDeque;

use proptest::prelude::*;
use qos_engine::flow::{FlowSpec, Level, SdMode, ServiceType};
use qos_engine::psched::{Conformer, ConformerParams, DEFAULT_QUANTUM, Limits, Scheduler};

fn flow(st: ServiceType, mode: SdMode, rate: Option<u64>) -> FlowSpec {
    FlowSpec {
        service_type: st,
        token_rate: rate,
        bucket: if rate.is_some() { 3000 } else { 0 },
        mode: Some(mode),
        ..FlowSpec::best_effort("f")
    }
}

fn limits(max_outstanding: u32) -> Limits {
    Limits {
        queue_packets: 4096,
        queue_bytes: 1 << 30,
        max_outstanding,
    }
}

const TYPES: [ServiceType; 5] = [
    ServiceType::NetworkControl,
    ServiceType::Guaranteed,
    ServiceType::ControlledLoad,
    ServiceType::BestEffort,
    ServiceType::Qualitative,
];

/// One flow per service type (never shaped), plus unclassified traffic.
fn one_per_level(max_outstanding: u32) -> Scheduler<(usize, u32)> {
    let mut s = Scheduler::new(limits(max_outstanding)).unwrap();
    let flows: Vec<_> = TYPES
        .iter()
        .enumerate()
        .map(|(i, &st)| (i as u32 + 1, flow(st, SdMode::BorrowPlus, Some(1000))))
        .collect();
    s.reconfigure(0, &flows).unwrap();
    s
}

#[test]
fn strict_priority_with_one_outstanding() {
    let mut s = one_per_level(1);
    // Lots of qualitative and best-effort traffic waiting.
    for i in 0..100 {
        s.enqueue(0, Some(4), 1500, (4, i)).unwrap();
        s.enqueue(0, None, 1500, (9, i)).unwrap();
    }
    // One low-priority packet goes out; the card is now full.
    let first = s.dequeue(0).unwrap();
    assert_eq!(first.pkt, (9, 0), "best effort before qualitative");
    assert_eq!(first.flow, None);
    assert!(s.dequeue(0).is_none(), "one outstanding");
    // A network-control packet arrives: it waits only for the one already
    // sent, not behind the 199 queued lower-priority packets.
    s.enqueue(1, Some(0), 100, (0, 0)).unwrap();
    s.enqueue(1, Some(1), 100, (1, 0)).unwrap();
    s.send_completed(1);
    assert_eq!(s.dequeue(1).unwrap().pkt, (0, 0));
    assert!(s.dequeue(1).is_none());
    s.send_completed(1);
    assert_eq!(s.dequeue(1).unwrap().pkt, (1, 0));
    s.send_completed(1);
    // Then the rest: all best effort, then all qualitative.
    let mut order = Vec::new();
    while let Some(r) = s.dequeue(2) {
        order.push(r.pkt.0);
        s.send_completed(1);
    }
    assert_eq!(order.len(), 199);
    assert!(order[..99].iter().all(|&f| f == 9));
    assert!(order[99..].iter().all(|&f| f == 4));
    assert_eq!(s.stats().sequencer.max_packets_in_netcard, 1);
}

#[test]
fn nonconforming_goes_below_qualitative() {
    let mut s = Scheduler::new(limits(1000)).unwrap();
    s.reconfigure(
        0,
        &[
            (1, flow(ServiceType::Guaranteed, SdMode::Borrow, Some(1000))),
            (2, flow(ServiceType::Qualitative, SdMode::BorrowPlus, None)),
        ],
    )
    .unwrap();
    // 3000-byte bucket: two 1500-byte packets conform, the rest do not.
    for i in 0..4 {
        s.enqueue(0, Some(0), 1500, i).unwrap();
    }
    s.enqueue(0, Some(1), 1500, 10).unwrap();
    let got: Vec<_> = std::iter::from_fn(|| s.dequeue(0))
        .map(|r| (r.pkt, r.conforming))
        .collect();
    assert_eq!(
        got,
        [(0, true), (1, true), (10, true), (2, false), (3, false)]
    );
    let st = s.flow_stats(0).unwrap();
    assert_eq!(st.nonconforming_packets_scheduled, 2);
    assert_eq!(st.nonconforming_packets_transmitted, 2);
    assert_eq!(s.stats().sequencer.nonconforming_packets_transmitted, 2);
}

#[test]
fn outstanding_bound_and_send_completed() {
    let mut s = one_per_level(3);
    for i in 0..10 {
        s.enqueue(0, None, 100, (9, i)).unwrap();
    }
    assert_eq!(std::iter::from_fn(|| s.dequeue(0)).count(), 3);
    assert_eq!(s.outstanding(), 3);
    assert_eq!(s.packets_in_sequencer(), 7);
    s.send_completed(2);
    assert_eq!(std::iter::from_fn(|| s.dequeue(0)).count(), 2);
    s.send_completed(100); // over-reporting saturates at zero
    assert_eq!(s.outstanding(), 0);
    assert_eq!(std::iter::from_fn(|| s.dequeue(0)).count(), 3);
    assert_eq!(s.stats().sequencer.max_packets_in_sequencer, 10);
    assert_eq!(s.stats().sequencer.max_packets_in_netcard, 3);
}

/// Backlogged flows of one level with different packet sizes get the same
/// bytes (not the same packets), within one quantum plus one packet at any
/// time.
#[test]
fn drr_is_byte_fair_within_a_level() {
    let sizes = [64u32, 576, 1500, 9000, 200];
    let mut s = Scheduler::new(limits(u32::MAX)).unwrap();
    let flows: Vec<_> = (0..sizes.len())
        .map(|i| {
            (
                i as u32,
                flow(ServiceType::ControlledLoad, SdMode::BorrowPlus, Some(1000)),
            )
        })
        .collect();
    s.reconfigure(0, &flows).unwrap();
    let mut bytes = [0u64; 5];
    for (f, &sz) in sizes.iter().enumerate() {
        for _ in 0..200 {
            s.enqueue(0, Some(f), sz, f).unwrap();
        }
    }
    let max = u64::from(*sizes.iter().max().unwrap());
    for _ in 0..20_000 {
        let r = s.dequeue(0).unwrap();
        bytes[r.pkt] += u64::from(sizes[r.pkt]);
        s.enqueue(0, Some(r.pkt), sizes[r.pkt], r.pkt).unwrap();
        let (lo, hi) = (bytes.iter().min().unwrap(), bytes.iter().max().unwrap());
        assert!(hi - lo <= 2 * u64::from(DEFAULT_QUANTUM) + max, "{bytes:?}");
    }
    let total: u64 = bytes.iter().sum();
    for b in bytes {
        // Each flow within 2 % of a fifth.
        assert!(b.abs_diff(total / 5) * 50 <= total / 5, "{bytes:?}");
    }
}

#[test]
fn quantum_is_configurable() {
    let mut s: Scheduler<u8> = Scheduler::new(limits(1)).unwrap();
    assert!(s.set_quantum(255).is_err());
    s.set_quantum(9000).unwrap();
}

// ----- model check ---------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Enqueue { flow: Option<usize>, bytes: u32 },
    Dequeue,
    Complete(u32),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (proptest::option::of(0usize..7), 20u32..3000)
            .prop_map(|(flow, bytes)| Op::Enqueue { flow, bytes }),
        4 => Just(Op::Dequeue),
        1 => (0u32..4).prop_map(Op::Complete),
        1 => (0u64..5_000_000).prop_map(Op::Advance),
    ]
}

/// The model: one FIFO per (flow, conforming), the conformer for borrow
/// flows, strict priority by level. Each dequeue must hand out the head of a
/// queue of the highest non-empty level, with the expected conformance.
#[derive(Default)]
struct Model {
    queues: Vec<VecDeque<u64>>, // index: flow * 2 + nonconforming
    levels: Vec<Level>,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn matches_model(ops in proptest::collection::vec(op(), 1..400), max_out in 1u32..5) {
        // Flows 0..5: one per service type, borrow with a small bucket (so
        // both conforming and non-conforming packets occur); flow 5:
        // best-effort borrow-plus; index 6 is beyond the configuration.
        let mut specs: Vec<(u32, FlowSpec)> = TYPES
            .iter()
            .enumerate()
            .map(|(i, &st)| (i as u32, flow(st, SdMode::Borrow, Some(2000))))
            .collect();
        specs.push((5, flow(ServiceType::BestEffort, SdMode::BorrowPlus, None)));
        let mut s = Scheduler::new(Limits { queue_packets: 64, queue_bytes: 1 << 30, max_outstanding: max_out }).unwrap();
        s.reconfigure(0, &specs).unwrap();
        let mut conformers: Vec<Conformer> =
            specs.iter().map(|(_, f)| Conformer::new(ConformerParams::from_spec(f), 0)).collect();
        let n = specs.len();
        let mut m = Model { queues: vec![VecDeque::new(); (n + 1) * 2], levels: Vec::new() };
        m.levels = specs.iter().map(|(_, f)| f.level()).collect();
        m.levels.push(Level::BestEffort);
        let mut now = 0u64;
        let mut id = 0u64;
        let mut outstanding = 0u32;
        let mut sizes = std::collections::HashMap::new();
        let (mut scheduled, mut transmitted, mut dropped) = (vec![0u64; n + 1], vec![0u64; n + 1], 0u64);
        for op in ops {
            match op {
                Op::Enqueue { flow, bytes } => {
                    let f = flow.filter(|&f| f < n).unwrap_or(n);
                    let full = m.queues.iter().map(VecDeque::len).sum::<usize>() == 64;
                    let res = s.enqueue(now, flow, bytes, id);
                    if full {
                        prop_assert!(res.is_err());
                        dropped += 1;
                        continue;
                    }
                    prop_assert!(res.is_ok());
                    let conforming = if f < 5 { conformers[f].police(now, bytes) } else { true };
                    m.queues[f * 2 + usize::from(!conforming)].push_back(id);
                    sizes.insert(id, bytes);
                    scheduled[f] += 1;
                    id += 1;
                }
                Op::Dequeue => {
                    let got = s.dequeue(now);
                    let best = (0..m.queues.len())
                        .filter(|&q| !m.queues[q].is_empty())
                        .map(|q| if q % 2 == 1 { Level::NonConforming } else { m.levels[q / 2] })
                        .min();
                    match (got, best) {
                        (None, None) => {}
                        (None, Some(_)) => prop_assert_eq!(outstanding, max_out),
                        (Some(_), None) => prop_assert!(false, "released from an empty model"),
                        (Some(r), Some(level)) => {
                            prop_assert!(outstanding < max_out);
                            let f = r.flow.unwrap_or(n);
                            prop_assert_eq!(r.flow, (f < n).then_some(f));
                            let q = f * 2 + usize::from(!r.conforming);
                            prop_assert_eq!(m.queues[q].pop_front(), Some(r.pkt), "FIFO per queue");
                            let ql = if q % 2 == 1 { Level::NonConforming } else { m.levels[f] };
                            prop_assert_eq!(ql, level, "strict priority");
                            transmitted[f] += 1;
                            outstanding += 1;
                        }
                    }
                }
                Op::Complete(k) => {
                    s.send_completed(k);
                    outstanding = outstanding.saturating_sub(k);
                }
                Op::Advance(dt) => now += dt,
            }
            prop_assert_eq!(s.outstanding(), outstanding);
            let held: usize = m.queues.iter().map(VecDeque::len).sum();
            prop_assert_eq!(s.held_packets() as usize, held);
            let held_bytes: u64 = m.queues.iter().flatten().map(|i| u64::from(sizes[i])).sum();
            prop_assert_eq!(s.held_bytes(), held_bytes);
            prop_assert_eq!(s.next_event(), None, "nothing is shaped");
        }
        for f in 0..=n {
            let st = if f < n { s.flow_stats(f).unwrap() } else { s.unclassified_stats() };
            prop_assert_eq!(st.packets_scheduled, scheduled[f]);
            prop_assert_eq!(st.packets_transmitted, transmitted[f]);
        }
        prop_assert_eq!(s.stats().adapter.out_of_packets, dropped);
        prop_assert_eq!(s.stats().adapter.drops.queue_packets, dropped);
    }
}
